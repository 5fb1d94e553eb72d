"""Prove that the annotation JSON and ``mpii_gt_val.mat`` list the same
people in the same order.

MMPose's ``MpiiDataset`` gives entry ``i`` of ``mpii_val.json`` the head box
``i`` of ``mpii_gt_val.mat`` by position alone, so a JSON reordered or
filtered to the same length scores every person against another person's
head size, without a word. The ``.mat`` also holds the joints
(``pos_gt_src``, ``jnt_missing``): wherever a joint is annotated in both
files its two positions must agree within :data:`PAIRING_TOLERANCE_PX`,
else the entry is paired with someone else (or annotated differently) and
is refused, naming the first such entry.

A joint annotated in only one of the two files does not break the pairing:
it is a difference between the two annotations (the JSON files HRNet and
MMPose distribute were reported to lack joints of the official annotation:
microsoft/human-pose-estimation.pytorch issue #143). Such differences are
reported, named, beside the score.

Used by the data checks (``tools/dataset_converters/check_mpii.py`` and the
pre-check of ``tools/train.py`` / ``tools/test.py``) and by
:class:`~mmhg_plugin.evaluation.MPIIPCKh`.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .mpii_conventions import MPII_JOINT_NAMES, MPII_NUM_JOINTS
from .mpii_io import MpiiFileError, MpiiGroundTruth, PathLike, read_gt_mat
from .mpii_problem import Problem

#: Largest distance (px) between a joint of the JSON and the same joint of
#: the ``.mat`` that still counts as the same annotation (rounding to whole
#: pixels).
PAIRING_TOLERANCE_PX = 0.5


class MpiiPairingError(MpiiFileError):
    """JSON entries are not the people of the same rows of the ``.mat``."""


@dataclass(frozen=True)
class PairingReport:
    """Entries of an annotation JSON against the rows of ``mpii_gt_val.mat``.

    Attributes:
        indices (np.ndarray): (N,) int, each entry's position in the JSON,
            which is its row of the ``.mat``.
        images (Tuple[str, ...]): N image names.
        json_joints (np.ndarray): (N, K, 2) joints of the JSON.
        mat_joints (np.ndarray): (N, K, 2) ``pos_gt_src`` of those rows.
        both (np.ndarray): (N, K) bool, annotated (and finite) in both.
        json_only (np.ndarray): (N, K) bool, annotated in the JSON only.
        mat_only (np.ndarray): (N, K) bool, annotated in the ``.mat`` only.
    """
    indices: np.ndarray
    images: Tuple[str, ...]
    json_joints: np.ndarray
    mat_joints: np.ndarray
    both: np.ndarray
    json_only: np.ndarray
    mat_only: np.ndarray

    @property
    def distance(self) -> np.ndarray:
        """(N, K) px between the two annotations, NaN unless in both."""
        d = np.linalg.norm(self.json_joints - self.mat_joints, axis=-1)
        return np.where(self.both, d, np.nan)

    @property
    def mismatched(self) -> np.ndarray:
        """(N,) bool, entries with a joint further apart than the
        tolerance."""
        with np.errstate(invalid='ignore'):
            return (np.nan_to_num(self.distance) >
                    PAIRING_TOLERANCE_PX).any(1)

    @property
    def unproven(self) -> np.ndarray:
        """(N,) bool, entries with no joint annotated in both files."""
        return ~self.both.any(1)

    def first_mismatch(self) -> Optional[Tuple[int, str]]:
        """(row index, message) of the first mismatched entry, or None.

        The message names the entry, its image, a joint and both positions.
        """
        bad = np.flatnonzero(self.mismatched)
        if not len(bad):
            return None
        n = int(bad[0])
        dist = np.nan_to_num(self.distance[n], nan=-1.)
        k = int(np.argmax(dist))
        (jx, jy), (mx, my) = self.json_joints[n, k], self.mat_joints[n, k]
        paired = int((~self.mismatched & ~self.unproven).sum())
        why = ('the JSON is not in the order of the .mat (reordered, '
               'filtered or another split)' if len(bad) > paired else
               'the two files annotate this person differently, or list '
               'different people here')
        return int(self.indices[n]), (
            f'entry {int(self.indices[n])} (image {self.images[n]}) is not '
            f'the person of row {int(self.indices[n])} of the .mat: its '
            f'{MPII_JOINT_NAMES[k]} is at ({jx:.1f}, {jy:.1f}) in the JSON '
            f'and ({mx:.1f}, {my:.1f}) in the .mat, {dist[k]:.1f} px apart '
            f'(tolerance {PAIRING_TOLERANCE_PX:g} px); {len(bad)} of '
            f'{len(self.indices)} entries differ so: {why}. Scored, such a '
            "person would be measured with another person's head box")

    def differences(self) -> Optional[str]:
        """One line on the joints annotated in one file only, or None."""
        only = self.json_only | self.mat_only
        lines = []
        if only.any():
            n, k = (int(v[0]) for v in np.nonzero(only))
            side = 'the .mat' if self.mat_only[n, k] else 'the JSON'
            lines.append(
                f'{int(only.sum())} joints of {int(only.any(1).sum())} '
                'entries are annotated in only one of the JSON and the .mat '
                f'(first: entry {int(self.indices[n])} (image '
                f'{self.images[n]}) {MPII_JOINT_NAMES[k]}, annotated in '
                f'{side} only)')
        unproven = int(self.unproven.sum())
        if unproven:
            lines.append(f'{unproven} of {len(self.indices)} entries share '
                         'no annotated joint with the .mat: their pairing '
                         'cannot be proven')
        return '; '.join(lines) or None


def compare_pairing(indices: Sequence[int], images: Sequence[str],
                    joints: np.ndarray, visible: np.ndarray,
                    gt: MpiiGroundTruth) -> PairingReport:
    """Compare JSON entries with the ``.mat`` rows of the same index.

    Args:
        indices (Sequence[int]): N positions of the entries in the JSON.
        images (Sequence[str]): N image names (for the messages).
        joints (np.ndarray): (N, K, 2) JSON joints, 1-based.
        visible (np.ndarray): (N, K) JSON ``joints_vis`` (> 0: annotated).
        gt (MpiiGroundTruth): The ``.mat``; every index must be a row.

    Returns:
        PairingReport: The comparison.
    """
    rows = np.asarray(indices, np.int64)
    json_joints = np.asarray(joints, np.float64).reshape(len(rows), -1, 2)
    mat_joints = gt.joints[rows]
    in_json = (np.asarray(visible).reshape(len(rows), -1) > 0) & \
        np.isfinite(json_joints).all(-1)
    in_mat = ~gt.missing[rows] & np.isfinite(mat_joints).all(-1)
    return PairingReport(indices=rows, images=tuple(images),
                         json_joints=json_joints, mat_joints=mat_joints,
                         both=in_json & in_mat, json_only=in_json & ~in_mat,
                         mat_only=in_mat & ~in_json)


def _entry_arrays(anns: Sequence[Any]
                  ) -> Optional[Tuple[List[str], np.ndarray, np.ndarray]]:
    """Images, (N, K, 2) joints and (N, K) visibility, or None when an
    entry lacks them (the structure checks report that)."""
    try:
        images = [str(a['image']) for a in anns]
        joints = np.array([a['joints'] for a in anns], np.float64)
        visible = np.array([a['joints_vis'] for a in anns], np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if joints.shape != (len(anns), MPII_NUM_JOINTS, 2) or \
            visible.shape != (len(anns), MPII_NUM_JOINTS):
        return None
    return images, joints, visible


def pairing_problems(json_path: str, anns: Sequence[Any],
                     mat_path: PathLike) -> List[Problem]:
    """The pairing of an annotation JSON with its ``mpii_gt_val.mat``.

    Says nothing when the ``.mat`` cannot be read, lacks ``pos_gt_src`` /
    ``jnt_missing`` or holds another number of people, or when the entries
    are malformed: :func:`~.mpii_checks.check_headbox_file` and
    :func:`~.mpii_checks.check_entry` report those.

    Args:
        json_path (str): The annotation file (named in the problems).
        anns (Sequence[Any]): Its entries.
        mat_path (str | Path): The ``.mat``.

    Returns:
        List[Problem]: An error at the first mismatched entry (field
        ``pairing``), or else a note on joints annotated in one file only.
    """
    arrays = _entry_arrays(anns)
    try:
        gt = read_gt_mat(mat_path)
    except MpiiFileError:
        return []
    if arrays is None or len(gt.joints) != len(anns):
        return []
    images, joints, visible = arrays
    report = compare_pairing(range(len(anns)), images, joints, visible, gt)
    problems = []
    mismatch = report.first_mismatch()
    if mismatch is not None:
        index, message = mismatch
        problems.append(Problem(json_path, index, 'pairing',
                                f'{message} ({Path(mat_path).name})'))
    note = report.differences()
    if note is not None and mismatch is None:  # moot when misaligned
        problems.append(Problem(json_path, None, 'pairing',
                                f'{note} ({Path(mat_path).name}); PCKh '
                                'scored against the .mat counts its joints',
                                'note'))
    return problems
