"""The one affine matrix of a top-down crop (image -> network input)."""
from typing import Tuple

import numpy as np


def crop_matrix(center: np.ndarray, crop_size: float,
                input_size: Tuple[int, int], rotation: float,
                flip: bool) -> np.ndarray:
    """3x3 affine matrix from image to input coordinates.

    ``x_in = R(-rotation) (x - center) * input_w / crop_size + input_size/2``
    (MMPose's ``get_warp_matrix`` for the same centre, size and angle), then,
    if ``flip``, ``x_in -> input_w - 1 - x_in`` (the exact mirror of the
    input's pixels; see :mod:`mmhg_plugin.codecs.coordinates`).

    Args:
        center (np.ndarray): Crop centre (x, y) in image pixels.
        crop_size (float): Crop width in image pixels (its height follows
            the input aspect ratio).
        input_size (tuple[int, int]): Network input (w, h).
        rotation (float): Angle in degrees.
        flip (bool): Mirror horizontally.
    """
    w, h = input_size
    k = w / crop_size
    a = np.deg2rad(rotation)
    cos, sin = np.cos(a) * k, np.sin(a) * k
    lin = np.array([[cos, sin], [-sin, cos]])  # k * R(-rotation)
    mat = np.eye(3)
    mat[:2, :2] = lin
    mat[:2, 2] = np.array([w / 2, h / 2]) - lin @ np.asarray(center, float)
    if flip:
        mat = np.array([[-1., 0., w - 1.], [0., 1., 0.], [0., 0., 1.]]) @ mat
    return mat
