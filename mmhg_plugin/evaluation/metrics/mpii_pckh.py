"""The MPII PCKh metric, equal to the official protocol."""
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
    PCKH_PARTS,
)

from .pckh_functional import load_mpii_gt_mat, pckh_correct, pckh_summary


@METRICS.register_module()
class MPIIPCKh(BaseMetric):
    """MPII PCKh (head-normalised PCK) as the official ``evaluatePCKh.m``.

    A joint is correct when ``||pred - gt|| / head_size <= thr``, with
    ``head_size = 0.6 * diagonal(head box)``; only annotated joints count.
    Reported (in percent):

    - ``Head`` (head top only), ``Shoulder``, ``Elbow``, ``Wrist``, ``Hip``,
      ``Knee``, ``Ankle``: mean of the left and right joint at ``thr``;
    - ``Mean``: all joints but pelvis and thorax, each joint weighted by its
      count of annotated instances (14-joint protocol), at ``thr``;
    - ``Mean@0.1``: the same at ``thr_low``;
    - ``Total16``: correct / annotated over all 16 joints pooled, the figure
      the official PyTorch port (``pytorch_stacked_hourglass``) publishes;
      not the paper's protocol;
    - the PCKh curve of ``Mean`` over ``curve_thresholds`` (logged, and kept
      in :attr:`last_curve`).

    Predictions are 0-based image coordinates; ground truth is 1-based, so
    :data:`~mmhg_plugin.datasets.mpii_conventions.MPII_INDEX_BASE` is added
    to predictions: the constant that ``MPIITopdownAffine`` subtracts from
    the training keypoints, and what MMPose's ``MpiiPCKAccuracy`` adds (see
    :mod:`mmhg_plugin.datasets.mpii_conventions`); no config states it.
    Ground truth comes from the data samples (``gt_instances.keypoints``,
    ``keypoints_visible``, ``head_size``, as MMPose's ``MpiiDataset``
    provides with ``headbox_file``) or, when ``gt_file`` is given, from the
    standard ``mpii_gt_val.mat`` indexed by the samples' ``id``.

    Differences from MMPose 1.3.2's ``MpiiPCKAccuracy``: ``<=`` (official)
    instead of ``<``; per-joint names instead of indices; ``Total16``, the
    curve and the per-joint table; every sample evaluated exactly once
    (duplicate ids, e.g. from distributed padding, raise).

    Args:
        thr (float): PCKh threshold. Defaults to 0.5.
        thr_low (float): Second threshold. Defaults to 0.1.
        gt_file (str | None): Path of ``mpii_gt_val.mat``.
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

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's id, prediction and ground truth."""
        for ds in data_samples:
            pred = np.asarray(ds['pred_instances']['keypoints'])
            gt = ds['gt_instances']
            res = dict(
                id=int(ds.get('id', -1)),
                pred=pred.reshape(-1, 2)[:, :2].astype(np.float64))
            if self.gt_file is None:
                if 'head_size' not in gt:
                    raise KeyError(
                        f"MPIIPCKh: sample id={res['id']} has no head_size; "
                        'give MpiiDataset a headbox_file or the metric a '
                        'gt_file')
                res['gt'] = np.asarray(gt['keypoints'],
                                       np.float64).reshape(-1, 2)
                res['visible'] = np.asarray(
                    gt['keypoints_visible']).reshape(-1) > 0
                res['head_size'] = float(np.asarray(gt['head_size']).max())
            self.results.append(res)

    def _ground_truth(self, results: List[dict]):
        """(gt (N, K, 2), visible (N, K), head sizes (N,)) in result order."""
        if self.gt_file is None:
            return (np.stack([r['gt'] for r in results]),
                    np.stack([r['visible'] for r in results]),
                    np.array([r['head_size'] for r in results]))
        pos, missing, head_sizes = load_mpii_gt_mat(self.gt_file)
        ids = np.array([r['id'] for r in results])
        if ids.min() < 0 or ids.max() >= len(pos):
            raise ValueError(
                f'MPIIPCKh: sample ids {ids.min()}..{ids.max()} do not fit '
                f'{self.gt_file} with {len(pos)} entries')
        if len(ids) != len(pos):
            MMLogger.get_current_instance().warning(
                f'MPIIPCKh: {len(ids)} predictions for {len(pos)} entries '
                f'of {self.gt_file}; scoring only the predicted ones')
        return pos[ids], ~missing[ids], head_sizes[ids]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """PCKh table from all processed samples (see the class doc)."""
        ids = [r['id'] for r in results]
        dup = len(ids) - len(set(ids))
        if dup:
            raise ValueError(
                f'MPIIPCKh: {dup} samples evaluated more than once; a '
                'distributed sampler padded the dataset or ids repeat')
        pred = np.stack([r['pred'] for r in results]) + MPII_INDEX_BASE
        gt, visible, head_size = self._ground_truth(results)
        names = self._joint_names(pred.shape[1])
        correct = pckh_correct(pred, gt, visible, head_size, self.thr)
        correct_low = pckh_correct(pred, gt, visible, head_size,
                                   self.thr_low)
        table = pckh_summary(correct, visible, names, PCKH_PARTS,
                             PCKH_EXCLUDED_FROM_MEAN)
        low = pckh_summary(correct_low, visible, names, PCKH_PARTS,
                           PCKH_EXCLUDED_FROM_MEAN)
        self.last_curve = OrderedDict(
            (float(t),
             pckh_summary(
                 pckh_correct(pred, gt, visible, head_size, t), visible,
                 names, PCKH_PARTS, PCKH_EXCLUDED_FROM_MEAN)['Mean'])
            for t in self.curve_thresholds)
        counts = visible.sum(0)
        self.last_per_joint = OrderedDict(
            (n, 100. * correct[:, k].sum() / max(counts[k], 1))
            for k, n in enumerate(names))
        metrics = OrderedDict((k, table[k]) for k in PCKH_PARTS)
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
        """Print the official table, the per-joint table and the curve."""
        lines = [f'MPII PCKh@{self.thr:g} on {n} people '
                 f'(head size = {PCKH_HEAD_FACTOR} x head-box diagonal)']
        lines.append('  '.join(f'{k:>8s}' for k in metrics))
        lines.append('  '.join(f'{v:8.2f}' for v in metrics.values()))
        lines.append('per joint (annotated count):')
        for k, name in enumerate(names):
            lines.append(f'  {name:<15s} {self.last_per_joint[name]:6.2f} '
                         f'({int(counts[k])})')
        curve = ', '.join(f'{t:.2f}:{v:.1f}'
                          for t, v in list(self.last_curve.items())[::5])
        lines.append(f'PCKh curve (Mean): {curve}')
        MMLogger.get_current_instance().info('\n'.join(lines))

