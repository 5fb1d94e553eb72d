"""Low-level drawing helpers: fixed-point cv2 shapes, colours and noise."""
import functools
from typing import Tuple

import cv2
import numpy as np

Color = Tuple[float, float, float]
SHIFT = 4  # fixed-point bits for sub-pixel drawing with cv2
ONE = 1 << SHIFT
NOISE_TILE_SEED = 20160308
TILE_SHAPE = (1100, 1420, 3)  # covers a 960x1280 image plus offsets
SKIN_TONES: Tuple[Color,
                  ...] = ((175, 198, 236), (150, 180, 225), (120, 155, 200),
                          (85, 115, 165), (55, 75, 115), (40, 55, 85))


@functools.lru_cache(maxsize=1)
def noise_tiles() -> Tuple[np.ndarray, np.ndarray]:
    """Fixed-seed white and smooth noise tiles shared by all images.

    Returns:
        Tuple[np.ndarray, np.ndarray]: Two float32 tiles of ``TILE_SHAPE``
        with unit standard deviation.
    """
    rng = np.random.default_rng(NOISE_TILE_SEED)
    white = rng.standard_normal(TILE_SHAPE, dtype=np.float32)
    smooth = cv2.GaussianBlur(white, (0, 0), 3.0)
    return white, smooth / smooth.std()


def tile_patch(rng: np.random.Generator, tile: np.ndarray, height: int,
               width: int) -> np.ndarray:
    """Random ``height`` x ``width`` window of a noise tile.

    Args:
        rng (np.random.Generator): Random generator.
        tile (np.ndarray): A tile from :func:`noise_tiles`.
        height (int): Window height (at most the tile height).
        width (int): Window width (at most the tile width).

    Returns:
        np.ndarray: A view into the tile.
    """
    oy = int(rng.integers(TILE_SHAPE[0] - height + 1))
    ox = int(rng.integers(TILE_SHAPE[1] - width + 1))
    return tile[oy:oy + height, ox:ox + width]


def fix_points(points: np.ndarray) -> np.ndarray:
    """Convert float pixel coordinates to cv2 fixed point (``SHIFT`` bits).

    Args:
        points (np.ndarray): Coordinates of any shape.

    Returns:
        np.ndarray: int32 coordinates multiplied by ``2 ** SHIFT``.
    """
    return np.round(np.asarray(points) * ONE).astype(np.int32)


def hsv_color(h: float, s: float, v: float) -> Color:
    """Convert an OpenCV HSV colour (h in [0, 180)) to BGR.

    Args:
        h (float): Hue in OpenCV units (degrees / 2).
        s (float): Saturation in [0, 255].
        v (float): Value in [0, 255].

    Returns:
        Tuple[float, float, float]: BGR colour.
    """
    pixel = np.array([[[h % 180, s, v]]], dtype=np.uint8)
    return tuple(
        float(c) for c in cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0])


def random_color(rng: np.random.Generator) -> Color:
    """Sample a clothing / object colour (saturated, neutral or denim).

    Args:
        rng (np.random.Generator): Random generator.

    Returns:
        Tuple[float, float, float]: BGR colour.
    """
    kind = rng.random()
    if kind < 0.3:
        return (float(rng.uniform(15, 235)), ) * 3
    if kind < 0.45:
        return hsv_color(
            rng.uniform(100, 115), rng.uniform(90, 170), rng.uniform(70, 170))
    return hsv_color(
        rng.uniform(0, 180), rng.uniform(40, 255), rng.uniform(40, 240))


def jitter_color(rng: np.random.Generator, color: Color, rel: float) -> Color:
    """Scale every channel by an independent factor ``1 + N(0, rel)``.

    Args:
        rng (np.random.Generator): Random generator.
        color (Tuple[float, float, float]): BGR colour.
        rel (float): Relative standard deviation.

    Returns:
        Tuple[float, float, float]: The jittered colour, clipped to [0, 255].
    """
    return tuple(
        float(np.clip(c * (1 + rng.normal(0, rel)), 0, 255)) for c in color)


def capsule(img: np.ndarray, p: np.ndarray, q: np.ndarray, rp: float,
            rq: float, color: Tuple[float, ...]) -> None:
    """Fill a tapered capsule (a limb-like stroke with round ends).

    Args:
        img (np.ndarray): Image to draw on, in place.
        p (np.ndarray): (2,) start point in pixels.
        q (np.ndarray): (2,) end point in pixels.
        rp (float): Radius at ``p``.
        rq (float): Radius at ``q``.
        color (Tuple[float, ...]): Colour, one value per channel.
    """
    d = q - p
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / length if length > 1e-6 else np.zeros(2)
    poly = np.stack(
        [p + normal * rp, q + normal * rq, q - normal * rq, p - normal * rp])
    cv2.fillConvexPoly(img, fix_points(poly), color, cv2.LINE_AA, SHIFT)
    for c, r in ((p, rp), (q, rq)):
        cv2.circle(img, tuple(fix_points(c)), max(int(r * ONE), ONE), color,
                   -1, cv2.LINE_AA, SHIFT)
