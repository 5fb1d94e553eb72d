"""The ground truth :class:`~.MPIIPCKh` scores against: ``mpii_gt_val.mat``
or the annotation JSON.

The official evaluation (``evaluatePCKh.m``) reads the joints, their
missing flags and the head boxes from ``mpii_gt_val.mat`` (``pos_gt_src``,
``jnt_missing``, ``headboxes_src``); MMPose's ``MpiiDataset`` reads joints
and flags from the JSON and only the head boxes from the ``.mat``. With a
``gt_file`` the metric scores against the ``.mat``, after proving that every
JSON entry is the person of its ``.mat`` row
(:mod:`mmhg_plugin.datasets.mpii_pairing`). It falls back to the JSON, with
a warning that names the reason, only where the ``.mat`` lacks
``pos_gt_src`` or ``jnt_missing`` or ``gt_file='headbox_file'`` was never
resolved; the source that scored is named in every PCKh table
(:attr:`GroundTruth.source`). A missing, unreadable or malformed file, or
entries that do not pair, are errors.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from mmengine.logging import MMLogger

from mmhg_plugin.datasets.mpii_io import MpiiFieldMissingError, read_gt_mat
from mmhg_plugin.datasets.mpii_pairing import MpiiPairingError, compare_pairing

#: ``gt_file`` value meaning "the ``.mat`` the dataset reads its head boxes
#: from" (its ``headbox_file``), which
#: :class:`~mmhg_plugin.engine.hooks.MPIIGroundTruthHook` passes to the
#: metric before each validation and test.
GT_FROM_HEADBOX_FILE = 'headbox_file'

#: Fields of ``mpii_gt_val.mat`` without which the metric scores against
#: the JSON (the head boxes are needed either way).
JOINT_FIELDS = ('pos_gt_src', 'jnt_missing')

#: :attr:`GroundTruth.source` of ground truth taken from the data samples.
JSON_SOURCE = 'the annotation JSON (data samples)'


@dataclass(frozen=True)
class GroundTruth:
    """Ground truth of the scored people, in the order of the results.

    Attributes:
        joints (np.ndarray): (N, K, 2) 1-based joints.
        visible (np.ndarray): (N, K) bool, annotated joints.
        head_size (np.ndarray): (N,) PCKh head sizes in px.
        source (str): Where they come from, for the logs.
    """
    joints: np.ndarray
    visible: np.ndarray
    head_size: np.ndarray
    source: str


def from_samples(results: List[dict], source: str = JSON_SOURCE
                 ) -> GroundTruth:
    """The ground truth the data samples carry (JSON joints, dataset head
    sizes).

    Raises:
        KeyError: A sample without ``head_size`` (no ``headbox_file``).
    """
    for r in results:
        if not np.isfinite(r['head_size']):
            raise KeyError(
                f"MPIIPCKh: sample id={r['id']} has no head_size; give "
                'MpiiDataset a headbox_file or the metric a gt_file')
    return GroundTruth(np.stack([r['gt'] for r in results]),
                       np.stack([r['visible'] for r in results]),
                       np.array([r['head_size'] for r in results]), source)


def from_gt_file(results: List[dict], gt_file: str) -> GroundTruth:
    """The ground truth of ``mpii_gt_val.mat`` for the results' ids.

    Args:
        results (List[dict]): The metric's results (``id``, ``image``,
            ``gt``, ``visible``, ``head_size``).
        gt_file (str): The ``.mat``.

    Returns:
        GroundTruth: From the ``.mat``; from the samples, with a warning,
        when it lacks :data:`JOINT_FIELDS`.

    Raises:
        MpiiFileError: The file is missing, unreadable or malformed.
        MpiiPairingError: An entry is not the person of its ``.mat`` row.
        ValueError: An id outside the file.
    """
    logger = MMLogger.get_current_instance()
    try:
        gt = read_gt_mat(gt_file)
    except MpiiFieldMissingError as e:
        if e.field not in JOINT_FIELDS:
            raise
        logger.warning(
            f'MPIIPCKh: {gt_file} has no field {e.field!r}: scoring against '
            'the annotation JSON instead, whose pairing with the head boxes '
            'cannot be proven')
        return from_samples(
            results, f'the annotation JSON ({osp.basename(gt_file)} has no '
            f'{e.field})')
    ids = np.array([r['id'] for r in results])
    if ids.min() < 0 or ids.max() >= len(gt.joints):
        raise ValueError(
            f'MPIIPCKh: sample ids {ids.min()}..{ids.max()} do not fit '
            f'{gt_file} with {len(gt.joints)} entries')
    if len(ids) != len(gt.joints):
        logger.warning(
            f'MPIIPCKh: {len(ids)} predictions for {len(gt.joints)} entries '
            f'of {gt_file}; scoring only the predicted ones')
    report = compare_pairing(ids, [r['image'] for r in results],
                             np.stack([r['gt'] for r in results]),
                             np.stack([r['visible'] for r in results]), gt)
    mismatch = report.first_mismatch()
    if mismatch is not None:
        raise MpiiPairingError(f'MPIIPCKh: {mismatch[1]} ({gt_file})')
    note = report.differences()
    if note is not None:
        logger.warning(f'MPIIPCKh: {note} ({gt_file}); scoring the .mat\'s '
                       'annotation')
    return GroundTruth(gt.joints[ids], ~gt.missing[ids], gt.head_sizes[ids],
                       f'{gt_file} (pos_gt_src, jnt_missing, headboxes_src)')


def select_ground_truth(results: List[dict],
                        gt_file: Optional[str]) -> GroundTruth:
    """The ground truth for ``MPIIPCKh(gt_file=...)``.

    Args:
        results (List[dict]): The metric's results.
        gt_file (str | None): None (the JSON), a path, or
            :data:`GT_FROM_HEADBOX_FILE` if it was never resolved (then the
            JSON, with a warning).

    Returns:
        GroundTruth: See :func:`from_gt_file` and :func:`from_samples`.
    """
    if gt_file is None:
        return from_samples(results)
    if gt_file == GT_FROM_HEADBOX_FILE:
        MMLogger.get_current_instance().warning(
            f"MPIIPCKh: gt_file={GT_FROM_HEADBOX_FILE!r} was not given the "
            "dataset's headbox_file (MPIIGroundTruthHook is not among the "
            'custom_hooks, or the dataset has no headbox_file): scoring '
            'against the annotation JSON')
        return from_samples(
            results, f'the annotation JSON (gt_file={GT_FROM_HEADBOX_FILE!r} '
            'unresolved)')
    return from_gt_file(results, gt_file)
