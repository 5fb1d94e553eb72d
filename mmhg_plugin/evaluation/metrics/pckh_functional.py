"""PCKh arithmetic of the official MPII evaluation, on numpy arrays."""
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np
from scipy.io import loadmat

from mmhg_plugin.datasets.mpii_conventions import PCKH_HEAD_FACTOR


def pckh_correct(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                 head_size: np.ndarray, thr: float) -> np.ndarray:
    """Which annotated joints are within ``thr`` head sizes.

    Args:
        pred (np.ndarray): (N, K, 2) predictions, same index base as ``gt``.
        gt (np.ndarray): (N, K, 2) ground truth.
        visible (np.ndarray): (N, K) bool, annotated joints.
        head_size (np.ndarray): (N,) head sizes in pixels.
        thr (float): Threshold, as a fraction of the head size.

    Returns:
        np.ndarray: (N, K) bool, ``dist / head_size <= thr`` and annotated.
    """
    dist = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(divide='ignore', invalid='ignore'):
        scaled = dist / np.asarray(head_size, np.float64)[:, None]
    return (scaled <= thr) & visible.astype(bool)


def pckh_summary(correct: np.ndarray, visible: np.ndarray,
                 names: Sequence[str], parts: Mapping[str, Sequence[str]],
                 excluded: Sequence[str]) -> Dict[str, float]:
    """Per-part PCKh, the count-weighted Mean and the pooled Total16.

    Args:
        correct (np.ndarray): (N, K) bool from :func:`pckh_correct`.
        visible (np.ndarray): (N, K) annotated joints.
        names (Sequence[str]): K joint names.
        parts (Mapping[str, Sequence[str]]): Table rows -> joint names.
        excluded (Sequence[str]): Joints left out of the Mean.

    Returns:
        dict: one value (percent) per part, plus ``Mean`` and ``Total16``.
    """
    visible = visible.astype(bool)
    counts = visible.sum(0).astype(np.float64)
    hits = correct.sum(0).astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        per_joint = 100. * hits / counts
    index = {n: k for k, n in enumerate(names)}
    out = {
        part: float(np.mean([per_joint[index[j]] for j in joints]))
        for part, joints in parts.items()
    }
    keep = np.array([n not in excluded for n in names])
    out['Mean'] = float(100. * hits[keep].sum() / max(counts[keep].sum(), 1))
    out['Total16'] = float(100. * hits.sum() / max(counts.sum(), 1))
    return out


def load_mpii_gt_mat(path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the standard ``mpii_gt_val.mat``.

    Args:
        path (str): The file, with ``pos_gt_src`` (K x 2 x N, 1-based),
            ``jnt_missing`` (K x N) and ``headboxes_src`` (2 x 2 x N).

    Returns:
        tuple: ground truth (N, K, 2), missing (N, K) bool and head sizes
        (N,) = 0.6 x head-box diagonal.
    """
    try:
        mat = loadmat(path)
    except (OSError, ValueError) as e:
        raise ValueError(f'cannot read MPII ground truth {path}: {e}') from e
    for key in ('pos_gt_src', 'jnt_missing', 'headboxes_src'):
        if key not in mat:
            raise KeyError(f'{path} has no field {key!r}')
    pos = np.transpose(np.asarray(mat['pos_gt_src'], np.float64), (2, 0, 1))
    missing = np.asarray(mat['jnt_missing']).T.astype(bool)
    boxes = np.transpose(np.asarray(mat['headboxes_src'], np.float64),
                         (2, 0, 1))
    if boxes.shape[1:] != (2, 2) or pos.shape[2] != 2 or \
            missing.shape != pos.shape[:2] or len(boxes) != len(pos):
        raise ValueError(
            f'{path}: inconsistent shapes pos_gt_src {pos.shape}, '
            f'jnt_missing {missing.shape}, headboxes_src {boxes.shape} '
            '(expected K x 2 x N, K x N, 2 x 2 x N)')
    head_size = PCKH_HEAD_FACTOR * np.linalg.norm(
        boxes[:, 1] - boxes[:, 0], axis=-1)
    return pos, missing, head_size
