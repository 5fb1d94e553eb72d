"""Cluttered backgrounds, foreground occluders and camera effects."""
import cv2
import numpy as np

from .primitives import (
    SHIFT,
    SKIN_TONES,
    capsule,
    fix_points,
    noise_tiles,
    random_color,
    tile_patch,
)

MAX_IMAGE = (960, 1280)  # height, width


def draw_background(rng: np.random.Generator,
                    width: int,
                    height: int,
                    plain: bool = False) -> np.ndarray:
    """Draw a textured and cluttered background.

    Args:
        rng (np.random.Generator): Random generator.
        width (int): Image width.
        height (int): Image height.
        plain (bool): Return a uniform grey image instead (for tests).

    Returns:
        np.ndarray: (height, width, 3) uint8 BGR image.
    """
    if plain:
        return np.full((height, width, 3), 128, np.uint8)
    gh, gw = int(rng.integers(3, 12)), int(rng.integers(3, 16))
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * xx / gw + np.sin(theta) * yy / gh)[..., None]
    c0, c1 = np.array(random_color(rng)), np.array(random_color(rng))
    low = c0 + (c1 - c0) * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    amp = rng.uniform(5, 35)
    low = low + rng.normal(0, amp,
                           (gh, gw, 1)) + rng.normal(0, 0.25 * amp,
                                                     (gh, gw, 3))
    img = cv2.resize(
        low.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    _, smooth = noise_tiles()
    img += rng.uniform(1, 8) * tile_patch(rng, smooth, height, width)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # floor / wall boundary
        y_left, y_right = rng.uniform(0.3, 0.9, 2) * height
        floor = np.array([[0, y_left], [width, y_right], [width, height],
                          [0, height]])
        cv2.fillConvexPoly(img, fix_points(floor), random_color(rng),
                           cv2.LINE_AA, SHIFT)
    busy = rng.random() < 0.3
    size = float(min(width, height))
    for _ in range(int(rng.integers(15, 45) if busy else rng.integers(3, 15))):
        color, kind = random_color(rng), rng.random()
        c = rng.uniform(0, 1, 2) * (width, height)
        ext = rng.uniform(0.02, 0.35, 2) * size
        if kind < 0.35:
            cv2.rectangle(img, tuple(fix_points(c - ext)),
                          tuple(fix_points(c + ext)), color, -1, cv2.LINE_AA,
                          SHIFT)
        elif kind < 0.55:
            cv2.ellipse(img, tuple(fix_points(c)), tuple(fix_points(ext)),
                        rng.uniform(0, 180), 0, 360, color, -1, cv2.LINE_AA,
                        SHIFT)
        elif kind < 0.75:
            end = c + rng.normal(0, 0.3, 2) * size
            cv2.line(img, tuple(fix_points(c)), tuple(fix_points(end)), color,
                     int(rng.integers(1, 8)), cv2.LINE_AA, SHIFT)
        else:  # limb-like distractor: a bent chain of tapered strokes
            if rng.random() < 0.4:
                color = SKIN_TONES[rng.integers(len(SKIN_TONES))]
            radius = rng.uniform(0.01, 0.04) * size
            p = c
            for _ in range(int(rng.integers(1, 4))):
                q = p + rng.normal(0, 0.12, 2) * size
                capsule(img, p, q, radius, 0.8 * radius, color)
                p, radius = q, 0.8 * radius
    sigma = rng.uniform(0, 2.5)
    if sigma > 0.5:  # depth of field
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img


def camera_effects(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Apply colour response, mild blur, sensor noise and JPEG artefacts.

    Args:
        rng (np.random.Generator): Random generator.
        img (np.ndarray): (H, W, 3) uint8 BGR image.

    Returns:
        np.ndarray: The processed uint8 image.
    """
    x = np.arange(256, dtype=np.float32)[:, None] / 255
    gamma = rng.uniform(0.8, 1.25)
    gains = rng.uniform(0.9, 1.1, 3)
    lut = np.clip(255 * (x**gamma) * gains, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut.reshape(256, 1, 3))
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.1))
    white, _ = noise_tiles()
    noise = rng.uniform(1.5, 6) * tile_patch(rng, white, *img.shape[:2])
    img = cv2.add(img, noise, dtype=cv2.CV_8U)
    if rng.random() < 0.25:
        ok, buf = cv2.imencode(
            '.jpg', img, [cv2.IMWRITE_JPEG_QUALITY,
                          int(rng.integers(40, 76))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img


def draw_occluder(rng: np.random.Generator, img: np.ndarray,
                  box: np.ndarray) -> None:
    """Draw a foreground object over one side of a person's box.

    The annotation is unchanged (occluded joints stay annotated as in MPII).

    Args:
        rng (np.random.Generator): Random generator.
        img (np.ndarray): (H, W, 3) uint8 image, drawn in place.
        box (np.ndarray): (4,) person box x1, y1, x2, y2 in pixels.
    """
    lo, hi = box[:2], box[2:]
    ext = hi - lo
    side = int(rng.integers(4))  # 0 bottom, 1 left, 2 right, 3 stroke
    depth = rng.uniform(0.15, 0.35)
    color = random_color(rng)
    if side == 0:
        top = hi[1] - depth * ext[1]
        p1 = np.array([lo[0] - rng.uniform(0, 1) * ext[0], top])
        p2 = np.array([hi[0] + rng.uniform(0, 1) * ext[0], hi[1] + ext[1]])
    elif side in (1, 2):
        x = lo[0] + depth * ext[0] if side == 1 else hi[0] - depth * ext[0]
        edge = lo[0] - ext[0] if side == 1 else hi[0] + ext[0]
        y1, y2 = lo[1] + np.sort(rng.uniform(0, 1, 2)) * ext[1]
        p1 = np.array([min(x, edge), y1])
        p2 = np.array([max(x, edge), y2])
    else:
        p = lo + rng.uniform(0, 1, 2) * ext
        q = p + rng.normal(0, 0.5, 2) * ext
        radius = rng.uniform(0.02, 0.06) * ext[1]
        capsule(img, p, q, radius, radius * rng.uniform(0.6, 1.0), color)
        return
    if rng.random() < 0.5:
        cv2.rectangle(img, tuple(fix_points(p1)), tuple(fix_points(p2)), color,
                      -1, cv2.LINE_AA, SHIFT)
    else:
        cv2.ellipse(img, tuple(fix_points(0.5 * (p1 + p2))),
                    tuple(fix_points(0.5 * np.abs(p2 - p1))), 0, 0, 360, color,
                    -1, cv2.LINE_AA, SHIFT)
