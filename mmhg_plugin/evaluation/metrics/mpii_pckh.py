"""The MPII PCKh metric: ``evaluatePCKh.m``'s arithmetic, both Head rows."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_INDEX_BASE,
    MPII_JOINT_NAMES,
    PCKH_EXCLUDED_FROM_MEAN,
    PCKH_HEAD_FACTOR,
    PCKH_ROWS,
)

from .pckh_functional import pckh_correct, pckh_summary
from .pckh_ground_truth import GT_FROM_HEADBOX_FILE, select_ground_truth


@METRICS.register_module()
class MPIIPCKh(BaseMetric):
    """MPII PCKh (head-normalised PCK) with ``evaluatePCKh.m``'s arithmetic.

    A joint is correct when ``||pred - gt|| / head_size <= thr``, with
    ``head_size = 0.6 * diagonal(head box)``; only annotated joints count.
    Reported (in percent):

    - both Head conventions, named: ``HeadTop`` (the head top alone: the
      common validation table of Tompson et al., bearpaw, HRNet and MMPose's
      ``MpiiPCKAccuracy``) and ``HeadNeckTop`` (upper neck and head top
      averaged: the Head row of the official ``evaluatePCKh.m`` table);
    - ``Shoulder``, ``Elbow``, ``Wrist``, ``Hip``, ``Knee``, ``Ankle``: mean
      of the left and right joint at ``thr``;
    - ``Mean``: all joints but pelvis and thorax, each joint weighted by its
      count of annotated instances (14-joint protocol; the same in both
      conventions), at ``thr``;
    - ``Mean@0.1``: the same at ``thr_low``;
    - ``Total16``: correct / annotated over all 16 joints pooled, the figure
      the official PyTorch port (``pytorch_stacked_hourglass``) publishes;
      not the paper's protocol;
    - the PCKh curve of ``Mean`` over ``curve_thresholds`` (logged, and kept
      in :attr:`last_curve`).

    The rows and their joints are
    :data:`~mmhg_plugin.datasets.mpii_conventions.PCKH_ROWS`.

    Predictions are 0-based image coordinates; ground truth is 1-based, so
    :data:`~mmhg_plugin.datasets.mpii_conventions.MPII_INDEX_BASE` is added
    to predictions: the constant that ``MPIITopdownAffine`` subtracts from
    the training keypoints, and what MMPose's ``MpiiPCKAccuracy`` adds (see
    :mod:`mmhg_plugin.datasets.mpii_conventions`); no config states it.

    Ground truth (:mod:`.pckh_ground_truth`; the table names the source):
    with ``gt_file`` the standard ``mpii_gt_val.mat`` (``pos_gt_src``,
    ``jnt_missing``, ``headboxes_src``, as ``evaluatePCKh.m``), row ``id`` of
    each sample, once every sample's JSON joints are proven to be that row's
    person; without, the data samples (``gt_instances.keypoints``,
    ``keypoints_visible``, ``head_size``, as MMPose's ``MpiiDataset``
    provides from the JSON and ``headbox_file``). A ``.mat`` without
    ``pos_gt_src``/``jnt_missing`` falls back to the samples with a warning.

    Differences from MMPose 1.3.2's ``MpiiPCKAccuracy``: ``<=`` (as
    ``evaluatePCKh.m``) instead of ``<``; named rows; ``HeadNeckTop``,
    ``Total16``, the curve and the per-joint table; ground truth from the
    ``.mat``; every sample evaluated exactly once (duplicate ids, e.g. from
    distributed padding, raise).

    Args:
        thr (float): PCKh threshold. Defaults to 0.5.
        thr_low (float): Second threshold. Defaults to 0.1.
        gt_file (str | None): ``mpii_gt_val.mat`` to score against; or
            ``'headbox_file'``: the dataset's ``headbox_file``, passed in by
            :class:`~mmhg_plugin.engine.hooks.MPIIGroundTruthHook` (the MPII
            configs' choice); None: the data samples.
        curve_thresholds (Sequence[float] | None): Thresholds of the curve.
            Defaults to 0, 0.01, ..., 0.5.
        collect_device (str): 'cpu' or 'gpu'.
        prefix (str | None): Metric name prefix; defaults to 'PCKh'.
    """

    default_prefix: Optional[str] = 'PCKh'

    def __init__(self,
                 thr: float = 0.5,
                 thr_low: float = 0.1,
                 gt_file: Optional[str] = None,
                 curve_thresholds: Optional[Sequence[float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = float(thr)
        self.thr_low = float(thr_low)
        self.gt_file = gt_file
        self.curve_thresholds = np.round(np.arange(0., 0.5001, 0.01), 4) \
            if curve_thresholds is None else np.asarray(curve_thresholds)
        self.last_curve: Dict[float, float] = {}
        self.last_per_joint: Dict[str, float] = {}
        self.last_gt_source = ''

    @property
    def wants_headbox_file(self) -> bool:
        """Whether ``gt_file`` waits for the dataset's ``headbox_file``."""
        return self.gt_file == GT_FROM_HEADBOX_FILE

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's id, image, prediction and ground truth."""
        for ds in data_samples:
            pred = np.asarray(ds['pred_instances']['keypoints'])
            gt = ds['gt_instances']
            head = np.asarray(gt.get('head_size', np.nan), np.float64)
            self.results.append(dict(
                id=int(ds.get('id', -1)),
                image=osp.basename(str(ds.get('img_path', '?'))),
                pred=pred.reshape(-1, 2)[:, :2].astype(np.float64),
                gt=np.asarray(gt['keypoints'], np.float64).reshape(-1, 2),
                visible=np.asarray(gt['keypoints_visible']).reshape(-1) > 0,
                head_size=float(head.max())))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """PCKh table from all processed samples (see the class doc)."""
        ids = [r['id'] for r in results]
        dup = len(ids) - len(set(ids))
        if dup:
            raise ValueError(
                f'MPIIPCKh: {dup} samples evaluated more than once; a '
                'distributed sampler padded the dataset or ids repeat')
        pred = np.stack([r['pred'] for r in results]) + MPII_INDEX_BASE
        truth = select_ground_truth(results, self.gt_file)
        self.last_gt_source = truth.source
        gt, visible, head_size = truth.joints, truth.visible, truth.head_size
        names = self._joint_names(pred.shape[1])
        correct = pckh_correct(pred, gt, visible, head_size, self.thr)
        correct_low = pckh_correct(pred, gt, visible, head_size,
                                   self.thr_low)
        table = pckh_summary(correct, visible, names, PCKH_ROWS,
                             PCKH_EXCLUDED_FROM_MEAN)
        low = pckh_summary(correct_low, visible, names, PCKH_ROWS,
                           PCKH_EXCLUDED_FROM_MEAN)
        self.last_curve = OrderedDict(
            (float(t),
             pckh_summary(
                 pckh_correct(pred, gt, visible, head_size, t), visible,
                 names, PCKH_ROWS, PCKH_EXCLUDED_FROM_MEAN)['Mean'])
            for t in self.curve_thresholds)
        counts = visible.sum(0)
        self.last_per_joint = OrderedDict(
            (n, 100. * correct[:, k].sum() / max(counts[k], 1))
            for k, n in enumerate(names))
        metrics = OrderedDict((k, table[k]) for k in PCKH_ROWS)
        metrics['Mean'] = table['Mean']
        metrics['Mean@0.1'] = low['Mean']
        metrics['Total16'] = table['Total16']
        self._log(metrics, counts, names, len(results))
        return metrics

    def _joint_names(self, num_joints: int) -> List[str]:
        meta = self.dataset_meta or {}
        id2name = meta.get('keypoint_id2name')
        if id2name:
            names = [id2name[i] for i in range(len(id2name))]
        else:
            names = list(MPII_JOINT_NAMES)
        if len(names) != num_joints:
            raise ValueError(f'MPIIPCKh: {num_joints} predicted joints but '
                             f'{len(names)} joint names in the metainfo')
        return names

    def _log(self, metrics: Dict[str, float], counts: np.ndarray,
             names: List[str], n: int) -> None:
        """Log the PCKh table, the per-joint table and the curve."""
        lines = [f'MPII PCKh@{self.thr:g} on {n} people '
                 f'(head size = {PCKH_HEAD_FACTOR} x head-box diagonal)',
                 f'ground truth: {self.last_gt_source}']
        widths = [max(8, len(k)) for k in metrics]
        lines.append('  '.join(f'{k:>{w}s}' for k, w in zip(metrics, widths)))
        lines.append('  '.join(f'{v:{w}.2f}'
                               for v, w in zip(metrics.values(), widths)))
        lines.append('per joint (annotated count):')
        for k, name in enumerate(names):
            lines.append(f'  {name:<15s} {self.last_per_joint[name]:6.2f} '
                         f'({int(counts[k])})')
        curve = ', '.join(f'{t:.2f}:{v:.1f}'
                          for t, v in list(self.last_curve.items())[::5])
        lines.append(f'PCKh curve (Mean): {curve}')
        MMLogger.get_current_instance().info('\n'.join(lines))

