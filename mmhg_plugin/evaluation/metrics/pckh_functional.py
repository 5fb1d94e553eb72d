"""PCKh arithmetic of ``evaluatePCKh.m`` (the official MPII evaluation), on
numpy arrays."""
from typing import Dict, Mapping, Sequence

import numpy as np


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

