"""Give ``MPIIPCKh(gt_file='headbox_file')`` its dataset's ``.mat``."""
from typing import Any, Optional

from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from mmhg_plugin.evaluation.metrics import MPIIPCKh


def dataset_headbox_file(dataset: Any) -> Optional[str]:
    """The ``headbox_file`` of an ``MpiiDataset``, looked up through
    dataset wrappers (``.dataset``); None when there is none."""
    while dataset is not None:
        path = getattr(dataset, 'headbox_file', None)
        if path:
            return str(path)
        dataset = getattr(dataset, 'dataset', None)
    return None


@HOOKS.register_module()
class MPIIGroundTruthHook(Hook):
    """Point each ``MPIIPCKh(gt_file='headbox_file')`` at the ``.mat`` its
    dataset reads the head boxes from.

    Before every validation and test, the ``MPIIPCKh`` metrics of the loop's
    evaluator that ask for ``'headbox_file'`` get the ``headbox_file`` of
    the loop's dataset (MMPose's ``MpiiDataset``). The path is thus stated
    once, in the dataloader, and ``--cfg-options`` that move the data move
    the metric's ground truth with it. A dataset without ``headbox_file``
    leaves the metric unresolved: it scores against the annotation JSON and
    says so.
    """

    priority = 'NORMAL'

    @staticmethod
    def _resolve(loop: Any) -> None:
        evaluator = getattr(loop, 'evaluator', None)
        dataloader = getattr(loop, 'dataloader', None)
        path = dataset_headbox_file(getattr(dataloader, 'dataset', None))
        for metric in getattr(evaluator, 'metrics', ()):
            if isinstance(metric, MPIIPCKh) and metric.wants_headbox_file \
                    and path is not None:
                metric.gt_file = path

    def before_val(self, runner) -> None:
        """Resolve the validation loop's metrics."""
        self._resolve(runner.val_loop)

    def before_test(self, runner) -> None:
        """Resolve the test loop's metrics."""
        self._resolve(runner.test_loop)
