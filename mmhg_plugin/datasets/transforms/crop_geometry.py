"""The affine matrices of a top-down crop: image -> network input, and a
reduced JPEG decode -> the full image."""
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


def reduced_to_full_matrix(
        reduction: int, full_shape: Tuple[int, int],
        reversed_axes: Tuple[bool, bool] = (False, False)) -> np.ndarray:
    """Affine matrix from a reduced JPEG decode's pixel coordinates to the
    full image's, both as displayed (EXIF orientation applied).

    Along each axis of full side ``D`` the decode has ``d = ceil(D / r)``
    pixels; pixel ``j`` is centred on ``r * j + (r - 1) / 2``, less
    ``r * d - D`` where the EXIF orientation reverses the axis (the decoder
    flips the decoded image, which puts its last, partly padded pixel
    first; see :mod:`.image_io`).

    Args:
        reduction (int): The decode's reduction ``r`` (1, 2, 4 or 8).
        full_shape (tuple[int, int]): The full image's displayed (H, W).
        reversed_axes (tuple[bool, bool]): Whether the displayed x and y
            axes run backwards through the stored image
            (:attr:`~.jpeg_header.JpegHeader.reversed_axes`).

    Returns:
        np.ndarray: (3, 3) matrix acting on homogeneous (x, y, 1).
    """
    r = float(reduction)
    mat = np.diag([r, r, 1.])
    for axis, (side, rev) in enumerate(zip(full_shape[::-1], reversed_axes)):
        mat[axis, 2] = (r - 1) / 2
        if rev:
            mat[axis, 2] -= reduction * -(-side // reduction) - side
    return mat
