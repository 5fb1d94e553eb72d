"""Arg-max of every heatmap of a batch, on torch's intra-op threads.

Decoding a batch is one arg-max over every map: a single read of the batch
(8 MiB for 32 x 16 maps of 64x64), bound by memory bandwidth, not by
arithmetic. NumPy's arg-max reads it on one core; torch's ``amax`` spreads
the read over torch's own threads (``torch.get_num_threads()``, the
process's compute budget). NumPy's arg-max split over Python threads (it
releases the GIL) is faster when nothing else runs, but not right after
torch's own operations, such as the network's forward, whose OpenMP threads
keep spinning on the cores for a while (measured: docs/results.md). So
large batches take each map's row maxima with torch, then the first row
holding the maximum and its first maximum with NumPy: the index ``argmax``
gives, ties and NaN included (both take the first occurrence, and a NaN is
the maximum of its row and of the map).
"""
import numpy as np
import torch

#: Elements below which NumPy's single-threaded arg-max is faster.
MIN_THREADED = 1 << 20


def first_argmax(maps: np.ndarray) -> np.ndarray:
    """``maps.reshape(N, H * W).argmax(axis=1)``, faster on large batches.

    Args:
        maps (np.ndarray): (N, H, W) float32, C-contiguous.

    Returns:
        np.ndarray: (N,) flat index of each map's first maximum (row-major).
    """
    n, h, w = maps.shape
    if (maps.size < MIN_THREADED or torch.get_num_threads() < 2
            or not maps.flags.writeable):
        return maps.reshape(n, h * w).argmax(axis=1)
    row_max = torch.from_numpy(maps).amax(dim=2).numpy()  # (N, H)
    y = row_max.argmax(axis=1)
    x = maps[np.arange(n), y].argmax(axis=1)
    return y * w + x
