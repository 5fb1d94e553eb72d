"""Coordinate conventions of mmhg, written down in one place.

Pixel centres
    Every image-like array (the original image, the network input, the
    heatmaps) puts the centre of pixel ``i`` at coordinate ``i`` and the pixel
    covers ``[i - 0.5, i + 0.5]``. This is OpenCV's convention for
    ``cv2.warpAffine``, so one affine matrix moves pixels and keypoints alike.

Input <-> heatmap
    The network reduces the input by ``stride`` (4). Heatmap pixel ``j``
    pools input pixels ``stride*j ... stride*j + stride - 1`` whose centre is
    ``stride*j + (stride - 1) / 2``; hence ``x_in = stride * (x_hm + 0.5) -
    0.5`` (:func:`heatmap_to_input`) and its inverse
    (:func:`input_to_heatmap`). Mirroring the input (``x_in -> W_in - 1 -
    x_in``) is then *exactly* mirroring the heatmap (``x_hm -> W_hm - 1 -
    x_hm``): flip test needs no 1-pixel shift (MMPose's ``shift_heatmap``
    compensates for its ``x_hm = x_in / stride`` mapping, which we do not
    use). The Lua original instead truncates to 1-based integer pixels and
    adds 0.5 to its refined argmax before mapping back; continuous
    pixel-centre coordinates need neither (``docs/mpii_protocol.md``).

Crop placement
    The crop of side ``s`` around centre ``c`` maps ``c`` to ``W_in / 2``
    (``x_in = (x - c) * W_in / s + W_in / 2``), as MMPose's
    ``get_warp_matrix`` does, so MMPose's ``TopdownPoseEstimator`` maps
    predictions back with the exact inverse (``x = x_in * s / W_in + c -
    s / 2``).

MPII's 1-based annotations
    See :mod:`mmhg_plugin.datasets.mpii_conventions`.
"""
from typing import Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def input_to_heatmap(xy: ArrayLike, stride: float) -> ArrayLike:
    """Map input-space coordinates (any shape, last dim x/y) to heatmap
    space: ``(xy + 0.5) / stride - 0.5``."""
    return (xy + 0.5) / stride - 0.5


def heatmap_to_input(xy: ArrayLike, stride: float) -> ArrayLike:
    """Inverse of :func:`input_to_heatmap`: ``stride * (xy + 0.5) - 0.5``."""
    return (xy + 0.5) * stride - 0.5
