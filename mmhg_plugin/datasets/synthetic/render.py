"""Drawing of clothed, shaded people with a face (cv2, sub-pixel accurate)."""
import functools
from dataclasses import dataclass
from typing import Callable, List, Tuple

import cv2
import numpy as np

from . import skeleton as sk
from .primitives import (
    ONE,
    SHIFT,
    SKIN_TONES,
    Color,
    capsule,
    fix_points,
    jitter_color,
    noise_tiles,
    random_color,
    tile_patch,
)

HAIR_COLORS: Tuple[Color, ...] = ((20, 20, 25), (30, 45, 70), (40, 70, 110),
                                  (90, 150, 200), (150, 150, 150))


@dataclass(frozen=True)
class Appearance:
    """Colours and limb thickness of one person.

    Attributes:
        skin, hair, shirt, trousers, shoes (Tuple[float, float, float]): BGR.
        long_sleeves (bool): Whether the shirt colour covers the forearms.
        shorts (bool): Whether the shins are bare skin.
        build (float): Thickness multiplier of all limbs.
        hair_size (float): Relative size of the hair ellipse.
        light (Tuple[float, float]): Unit 2-D direction towards the light.
    """
    skin: Color
    hair: Color
    shirt: Color
    trousers: Color
    shoes: Color
    long_sleeves: bool
    shorts: bool
    build: float
    hair_size: float
    light: Tuple[float, float]


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Sample clothing colours and body build.

    Args:
        rng (np.random.Generator): Random generator.

    Returns:
        Appearance: Appearance of one person.
    """
    skin = jitter_color(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.06)
    angle = rng.uniform(0, 2 * np.pi)
    return Appearance(
        skin=skin,
        hair=jitter_color(rng, HAIR_COLORS[rng.integers(len(HAIR_COLORS))],
                          0.06),
        shirt=random_color(rng),
        trousers=random_color(rng),
        shoes=jitter_color(rng, (35, 35, 40), 0.4),
        long_sleeves=bool(rng.random() < 0.5),
        shorts=bool(rng.random() < 0.15),
        build=float(rng.uniform(0.85, 1.2)),
        hair_size=float(rng.uniform(0.95, 1.1)),
        light=(float(np.cos(angle)), float(np.sin(angle))))


# Half-widths at the proximal and distal end, fractions of standing height.
LIMB_RADII = {
    'upper_arm': (0.032, 0.026),
    'forearm': (0.026, 0.02),
    'hand': (0.019, 0.016),
    'thigh': (0.05, 0.038),
    'shin': (0.038, 0.027),
    'foot': (0.024, 0.02)
}
NECK_RADIUS = 0.022
TORSO_CORNER = 0.025  # corner rounding radius, fraction of height


def _shaded_capsule(layer: np.ndarray, mask: np.ndarray, p: np.ndarray,
                    q: np.ndarray, radii: Tuple[float, float], color: Color,
                    light: np.ndarray) -> None:
    """Capsule with a dark rim and a highlight offset towards the light."""
    rp, rq = radii
    rim = max(1.0, 0.12 * rp)
    capsule(mask, p, q, rp + rim, rq + rim, (255, ))
    capsule(layer, p, q, rp + rim, rq + rim, tuple(0.55 * c for c in color))
    capsule(layer, p, q, rp, rq, tuple(0.85 * c for c in color))
    shift = light * 0.3 * rp
    capsule(layer, p + shift, q + shift, 0.55 * rp, 0.55 * rq,
            tuple(min(255.0, 0.95 * c + 4) for c in color))


def _shaded_polygon(layer: np.ndarray, mask: np.ndarray, poly: np.ndarray,
                    color: Color, corner: float, rim: float) -> None:
    """Convex polygon with rounded corners and a dark outline."""
    hull = cv2.convexHull(poly.astype(np.float32))[:, 0].astype(np.float64)
    centre = hull.mean(axis=0)
    size = max(float(np.ptp(hull, axis=0).min()), 1.0)
    inner = centre + (hull - centre) * max(1 - 2 * corner / size, 0.3)
    for img, col, grow in ((mask, (255, ),
                            rim), (layer, tuple(0.55 * c for c in color), rim),
                           (layer, tuple(0.88 * c for c in color), 0.0)):
        thick = max(1, int(round(2 * (corner + grow))))
        cv2.fillConvexPoly(img, fix_points(inner), col, cv2.LINE_AA, SHIFT)
        cv2.polylines(img, [fix_points(inner)], True, col, thick, cv2.LINE_AA,
                      SHIFT)


def _draw_head(layer: np.ndarray, mask: np.ndarray, uv: np.ndarray,
               face_z: float, app: Appearance, head_px: float) -> None:
    """Head ellipse with hair and, when it faces the camera, a face."""
    axis = uv[sk.HEAD_TOP] - uv[sk.UPPER_NECK]
    along = max(0.5 * float(np.hypot(*axis)) * 1.05, 0.32 * head_px)
    across = 0.4 * head_px
    angle = float(np.degrees(np.arctan2(axis[1], axis[0]))) + 90.0

    def ellipse(img, centre, scale, color):
        cv2.ellipse(img, tuple(fix_points(centre)),
                    (int(across * scale * ONE), int(along * scale * ONE)),
                    angle, 0, 360, color, -1, cv2.LINE_AA, SHIFT)

    rim = max(1.0, 0.04 * head_px)
    hair, hair_scale = uv[sk.HAIR_CENTER], app.hair_size
    ellipse(mask, hair, hair_scale + rim / across, (255, ))
    ellipse(mask, uv[sk.HEAD_CENTER], 1 + rim / across, (255, ))
    dark_skin = tuple(0.7 * c for c in app.skin)
    dark_hair = tuple(0.6 * c for c in app.hair)

    def draw_hair() -> None:
        ellipse(layer, hair, hair_scale + rim / across, dark_hair)
        ellipse(layer, hair, hair_scale, app.hair)

    if face_z > 0:  # hair behind the face
        draw_hair()
    ellipse(layer, uv[sk.HEAD_CENTER], 1 + rim / across, dark_skin)
    ellipse(layer, uv[sk.HEAD_CENTER], 1.0, app.skin)
    if face_z <= 0:  # back of the head: hair in front
        draw_hair()
        return
    if face_z < 0.15:
        return
    eye_r = max(0.8, 0.04 * head_px)
    up = axis / max(float(np.hypot(*axis)), 1e-6)
    across_dir = (uv[sk.L_EYE] - uv[sk.R_EYE]) * 0.5
    for eye in (sk.R_EYE, sk.L_EYE):
        cv2.circle(layer, tuple(fix_points(uv[eye])), int(1.3 * eye_r * ONE),
                   (215, 222, 228), -1, cv2.LINE_AA, SHIFT)
        cv2.circle(layer, tuple(fix_points(uv[eye])), int(0.8 * eye_r * ONE),
                   (35, 28, 25), -1, cv2.LINE_AA, SHIFT)
        brow = uv[eye] + up * 0.11 * head_px
        capsule(layer, brow - across_dir * 0.35, brow + across_dir * 0.35,
                0.35 * eye_r, 0.35 * eye_r, app.hair)
    capsule(layer, uv[sk.HEAD_CENTER] * 0.5 + uv[sk.NOSE] * 0.5, uv[sk.NOSE],
            0.4 * eye_r, 0.8 * eye_r, dark_skin)
    capsule(layer, uv[sk.MOUTH] - across_dir * 0.55,
            uv[sk.MOUTH] + across_dir * 0.55, 0.45 * eye_r, 0.45 * eye_r,
            tuple(0.7 * c for c in (90, 90, 170)))


def _shading(rng: np.random.Generator, light: np.ndarray, height: int,
             width: int) -> np.ndarray:
    """Smooth multiplicative lighting field with a faint fabric texture."""
    yy, xx = np.mgrid[0:4, 0:4].astype(np.float32) / 3 - 0.5
    ramp = 1.0 + rng.uniform(0.1, 0.3) * (light[0] * xx + light[1] * yy)
    low = ramp + rng.normal(0, 0.05, (4, 4)).astype(np.float32)
    field = cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)
    _, smooth = noise_tiles()
    return field[..., None] + 0.035 * tile_patch(rng, smooth, height, width)


# (radius key, clothing slot, start landmark, end landmark) per limb part.
LIMB_SEGMENTS = tuple(seg for arm, leg in zip(sk.ARM_CHAINS, sk.LEG_CHAINS)
                      for seg in (
                          ('upper_arm', 'shirt', arm[0], arm[1]),
                          ('forearm', 'sleeve', arm[1], arm[2]),
                          ('hand', 'skin', arm[2], arm[3]),
                          ('thigh', 'trousers', leg[0], leg[1]),
                          ('shin', 'legwear', leg[1], leg[2]),
                          ('foot', 'shoes', leg[2], leg[3]),
                      ))
BOX_LEVEL_WAIST, BOX_LEVEL_HIPS = 2, 3  # torso outline levels (see pose.py)
BELT_HEIGHT = 0.5  # belt line between waist (0) and hip level (1)


def _slot_color(app: Appearance, slot: str) -> Color:
    if slot == 'sleeve':
        return app.shirt if app.long_sleeves else app.skin
    if slot == 'legwear':
        return app.skin if app.shorts else app.trousers
    return getattr(app, slot)


def _torso_parts(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Split torso outline values (points or depths) at the belt line.

    Args:
        values (np.ndarray): (NUM_LANDMARKS, ...) per-landmark values.

    Returns:
        Tuple[np.ndarray, np.ndarray]: Values of the upper body (shirt)
        corners and of the pelvis (trousers) corners.
    """
    box = values[sk.TORSO_BOX_START:sk.NUM_LANDMARKS]
    levels = box.reshape((sk.TORSO_BOX_LEVELS, sk.TORSO_BOX_CORNERS) +
                         box.shape[1:])
    belt = levels[BOX_LEVEL_WAIST] + BELT_HEIGHT * (
        levels[BOX_LEVEL_HIPS] - levels[BOX_LEVEL_WAIST])
    upper = np.concatenate(
        [levels[:BOX_LEVEL_HIPS].reshape((-1, ) + box.shape[1:]), belt])
    return upper, np.concatenate([belt, levels[BOX_LEVEL_HIPS]])


def draw_person(img: np.ndarray, uv: np.ndarray, depth: np.ndarray,
                face_z: float, app: Appearance, height_px: float,
                head_frac: float, rng: np.random.Generator) -> None:
    """Draw one clothed person onto ``img`` in place.

    Body parts are painted far to near (by their depth), so limbs behind
    the body are hidden as in a photograph.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        uv (np.ndarray): (NUM_LANDMARKS, 2) 0-based pixel coordinates.
        depth (np.ndarray): (NUM_LANDMARKS,) depth, larger is closer.
        face_z (float): Camera-facing component of the face normal.
        app (Appearance): Colours and build.
        height_px (float): Standing height in pixels.
        head_frac (float): Head length as a fraction of height.
        rng (np.random.Generator): Random generator for shading.
    """
    margin = 0.12 * height_px + 4
    x0, y0 = np.maximum(np.floor(uv.min(axis=0) - margin), 0).astype(int)
    x1, y1 = np.ceil(uv.max(axis=0) + margin).astype(int)
    x1, y1 = min(x1, img.shape[1]), min(y1, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    pts = uv - np.array([x0, y0], dtype=np.float64)
    layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    light = np.array(app.light)
    thick = height_px * app.build
    parts: List[Tuple[float, Callable[[], None]]] = []
    for name, slot, a, b in LIMB_SEGMENTS:
        radii = (LIMB_RADII[name][0] * thick, LIMB_RADII[name][1] * thick)
        color = jitter_color(rng, _slot_color(app, slot), 0.04)
        parts.append((0.5 * (depth[a] + depth[b]),
                      functools.partial(_shaded_capsule, layer, mask, pts[a],
                                        pts[b], radii, color, light)))
    corner, rim = TORSO_CORNER * height_px, max(1.0, 0.004 * height_px)
    for outline, z, color in zip(
            _torso_parts(pts), _torso_parts(depth), (app.shirt, app.trousers)):
        parts.append((float(z.mean()),
                      functools.partial(_shaded_polygon, layer, mask, outline,
                                        color, corner, rim)))

    def draw_head() -> None:
        neck = (NECK_RADIUS * height_px, ) * 2
        _shaded_capsule(layer, mask, pts[sk.THORAX], pts[sk.HEAD_CENTER], neck,
                        app.skin, light)
        _draw_head(layer, mask, pts, face_z, app, head_frac * height_px)

    parts.append((float(depth[sk.HEAD_CENTER]), draw_head))
    for index in np.argsort([d for d, _ in parts], kind='stable'):
        parts[index][1]()
    roi = img[y0:y1, x0:x1]
    alpha = mask.astype(np.float32)[..., None] * (1.0 / 255)
    out = roi * (1 - alpha) + layer * _shading(rng, light, y1 - y0, x1 - x0)
    roi[:] = np.clip(out, 0, 255).astype(np.uint8)
