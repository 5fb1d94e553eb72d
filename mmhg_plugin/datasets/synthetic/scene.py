"""Composition of one synthetic image: layout, drawing and annotations."""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from ..mpii_conventions import (
    MPII_INDEX_BASE,
    MPII_NUM_JOINTS,
    MPII_PIXEL_STD,
    PCKH_HEAD_FACTOR,
    mpii_crop_box,
)
from . import background, render
from . import skeleton as sk
from .pose import Person3D, project_person, sample_person

MIN_IMAGE = (360, 480)  # height, width
ASPECTS = (0.75, 0.5625, 1.0, 4.0 / 3.0)  # height / width
ASPECT_WEIGHTS = (0.45, 0.3, 0.12, 0.13)
TRUNCATION_SIDES = ('bottom', 'left', 'right', 'top')
TRUNCATION_WEIGHTS = (0.55, 0.2, 0.2, 0.05)
BODY_MARGIN = 0.06  # drawn body beyond the landmarks, fraction of height
TRUNCATION_DEPTH = (0.1, 0.45)  # cut part of the person's joint extent
CENTER_JITTER = 0.02  # std of the objpos error, fraction of height
HEAD_BOX_JITTER = 0.005  # std of the head-box centre error, ditto
HEAD_SIZE_JITTER = (0.95, 1.05)  # head size / head length
HEAD_BOX_ASPECT = (0.85, 1.15)  # head-box width / height
MAX_POSE_TRIES = 30
SPLIT_CODES = {'train': 0, 'val': 1}


@dataclass(frozen=True)
class SceneConfig:
    """Options of the scene sampler.

    Attributes:
        two_person_prob (float): Probability of two people in an image.
        truncation_prob (float): Probability that an image border cuts
            people so that some joints are outside the image.
        facing_prob (float): Probability that a person faces the camera.
        scale_range (Tuple[float, float]): Range of MPII scales.
        roll_std_deg (float): Std of the in-plane body rotation.
        max_roll_deg (float): Usual limit of the in-plane rotation.
        large_roll_prob (float): Probability of a larger rotation.
        large_roll_deg (float): Limit of the larger rotation.
        occluder_prob (float): Probability of a foreground object that
            covers part of a person (joints stay annotated).
        crop_fit (float): Max joint extent (x and y) in units of height, so
            that the crop (side ``MPII_CROP_PADDING`` heights, see
            :func:`~mmhg_plugin.datasets.mpii_conventions.mpii_crop_box`)
            holds the person.
    """
    two_person_prob: float = 0.2
    truncation_prob: float = 0.08
    facing_prob: float = 0.85
    scale_range: Tuple[float, float] = (1.0, 4.0)
    roll_std_deg: float = 10.0
    max_roll_deg: float = 30.0
    large_roll_prob: float = 0.05
    large_roll_deg: float = 60.0
    occluder_prob: float = 0.15
    crop_fit: float = 1.18


@dataclass
class PersonAnnotation:
    """Ground truth of one person in one image.

    Attributes:
        joints (np.ndarray): (16, 2) 1-based MPII coordinates, rounded to
            0.01 px; (-1, -1) where the joint is outside the image.
        visible (np.ndarray): (16,) int, 1 inside the image, 0 outside.
        center (np.ndarray): (2,) 1-based MPII ``objpos``.
        scale (float): Standing height / ``MPII_PIXEL_STD``.
        head_box (np.ndarray): (2, 2) 1-based [[x1, y1], [x2, y2]].
        facing_camera (bool): Whether the body faces the camera.
        pose_type (str): Pose family used to sample the person.
        joints_px (np.ndarray): (16, 2) exact 0-based pixel positions of
            all joints, also those outside the image.
    """
    joints: np.ndarray
    visible: np.ndarray
    center: np.ndarray
    scale: float
    head_box: np.ndarray
    facing_camera: bool
    pose_type: str
    joints_px: np.ndarray


@dataclass
class Scene:
    """A rendered image and its people."""
    image: np.ndarray
    people: List[PersonAnnotation] = field(default_factory=list)


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Random generator of one image, independent of worker scheduling.

    Args:
        seed (int): Dataset seed.
        split (str): ``'train'`` or ``'val'``.
        index (int): Index of the image within the split.

    Returns:
        np.random.Generator: The generator.
    """
    return np.random.default_rng([seed, SPLIT_CODES[split], index])


def _sample_roll(rng: np.random.Generator, cfg: SceneConfig) -> float:
    if rng.random() < cfg.large_roll_prob:
        return float(rng.uniform(-cfg.large_roll_deg, cfg.large_roll_deg))
    return float(
        np.clip(
            rng.normal(0, cfg.roll_std_deg), -cfg.max_roll_deg,
            cfg.max_roll_deg))


def _sample_fitting_person(
        rng: np.random.Generator,
        cfg: SceneConfig) -> Tuple[Person3D, float, np.ndarray]:
    """Sample a person whose joints fit the MPII crop box.

    Poses are resampled (at most ``MAX_POSE_TRIES`` times) until the joint
    extent is at most ``cfg.crop_fit`` heights in x and y.

    Returns the person, its roll and its landmarks projected at unit height.
    """
    for _ in range(MAX_POSE_TRIES):
        person = sample_person(rng, cfg.facing_prob)
        roll = _sample_roll(rng, cfg)
        unit, _ = project_person(person, 1.0, roll, np.zeros(2))
        if np.ptp(unit[:MPII_NUM_JOINTS], axis=0).max() <= cfg.crop_fit:
            break
    return person, roll, unit


def _layout(units: List[np.ndarray], scales: np.ndarray, gaps: np.ndarray,
            lifts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Place people side by side with roughly aligned bottoms.

    Args:
        units (List[np.ndarray]): Landmarks of each person at unit height.
        scales (np.ndarray): MPII scale of each person.
        gaps (np.ndarray): Horizontal gap before each person, in units of
            its box width (negative values overlap).
        lifts (np.ndarray): Vertical offset of each bottom, in heights.

    Returns:
        Tuple[np.ndarray, np.ndarray]: Pelvis origins (N, 2) and the union
        box (x1, y1, x2, y2) of the drawn bodies.
    """
    origins, boxes, cursor = [], [], 0.0
    for unit, s, gap, lift in zip(units, scales, gaps, lifts):
        px = unit * s * MPII_PIXEL_STD
        lo = px.min(axis=0) - BODY_MARGIN * s * MPII_PIXEL_STD
        hi = px.max(axis=0) + BODY_MARGIN * s * MPII_PIXEL_STD
        cursor += gap * (hi[0] - lo[0])
        origin = np.array(
            [cursor - lo[0], -hi[1] - lift * s * MPII_PIXEL_STD])
        origins.append(origin)
        boxes.append(np.concatenate([lo + origin, hi + origin]))
        cursor = hi[0] + origin[0]
    boxes = np.array(boxes)
    union = np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])
    return np.array(origins), union


def _image_size(rng: np.random.Generator, need: np.ndarray) -> np.ndarray:
    """Choose (width, height) in the MPII range that holds ``need``."""
    max_h, max_w = background.MAX_IMAGE
    min_h, min_w = MIN_IMAGE
    aspect = ASPECTS[rng.choice(len(ASPECTS), p=ASPECT_WEIGHTS)]
    width = max(need[0], need[1] / aspect, min_w) * rng.uniform(1.0, 1.7)
    height = width * aspect
    width = np.clip(max(width, need[0]), min_w, max_w)
    height = np.clip(max(height, need[1]), min_h, max_h)
    return np.ceil([width, height]).astype(int)


def _truncate(rng: np.random.Generator, joints: List[np.ndarray],
              size: np.ndarray) -> np.ndarray:
    """Shift so that one image border cuts a person; return the shift."""
    side = TRUNCATION_SIDES[rng.choice(
        len(TRUNCATION_SIDES), p=TRUNCATION_WEIGHTS)]
    axis = 0 if side in ('left', 'right') else 1
    frac = rng.uniform(*TRUNCATION_DEPTH)
    if side == 'left':
        target = min(joints, key=lambda j: j[:, 0].min())
    elif side == 'right':
        target = max(joints, key=lambda j: j[:, 0].max())
    else:
        target = joints[rng.integers(len(joints))]
    lo, hi = target[:, axis].min(), target[:, axis].max()
    shift = np.zeros(2)
    if side in ('left', 'top'):
        shift[axis] = -(lo + frac * (hi - lo)) - 1.0
    else:
        shift[axis] = size[axis] - (hi - frac * (hi - lo))
    return shift


def _annotate(uv: np.ndarray, person: Person3D, scale: float, size: np.ndarray,
              rng: np.random.Generator) -> PersonAnnotation:
    """Convert 0-based landmark pixels to an MPII-style annotation."""
    height_px = scale * MPII_PIXEL_STD
    joints = np.round(uv[:MPII_NUM_JOINTS] + MPII_INDEX_BASE, 2)
    inside = np.all((joints >= MPII_INDEX_BASE)
                    & (joints <= size[None].astype(float)), axis=1)
    joints[~inside] = -1.0
    mid = 0.5 * (uv[:MPII_NUM_JOINTS].min(0) + uv[:MPII_NUM_JOINTS].max(0))
    jitter = np.clip(
        rng.normal(0, CENTER_JITTER, 2), -2 * CENTER_JITTER,
        2 * CENTER_JITTER) * height_px
    # the annotated centre whose crop box is centred on the body: undo the
    # centre shift and index base of mpii_crop_box (an offset per scale)
    offset, _ = mpii_crop_box(np.zeros(2), scale)
    center = mid + jitter - offset
    head_mid = 0.5 * (uv[sk.HEAD_TOP] + uv[sk.UPPER_NECK])
    head_mid = head_mid + rng.normal(0, HEAD_BOX_JITTER, 2) * height_px
    head_size = person.props.head * height_px * rng.uniform(*HEAD_SIZE_JITTER)
    diag = head_size / PCKH_HEAD_FACTOR
    ratio = rng.uniform(*HEAD_BOX_ASPECT)
    box_h = diag / np.sqrt(1 + ratio**2)
    half = 0.5 * np.array([ratio * box_h, box_h])
    head_box = np.round(
        np.stack([head_mid - half, head_mid + half]) + MPII_INDEX_BASE, 2)
    return PersonAnnotation(
        joints=joints,
        visible=inside.astype(int),
        center=np.round(center, 2),
        scale=scale,
        head_box=head_box,
        facing_camera=person.facing_camera,
        pose_type=person.pose_type,
        joints_px=uv[:MPII_NUM_JOINTS].copy())


@dataclass
class _Placed:
    """A person placed in the image (internal)."""
    person: Person3D
    roll: float
    scale: float
    origin: np.ndarray


def _place_people(rng: np.random.Generator,
                  cfg: SceneConfig) -> Tuple[List[_Placed], np.ndarray]:
    """Sample people, their scales and positions, and the image size."""
    count = 2 if rng.random() < cfg.two_person_prob else 1
    posed = [_sample_fitting_person(rng, cfg) for _ in range(count)]
    units = [unit for _, _, unit in posed]
    lo_s, hi_s = cfg.scale_range
    first = float(np.exp(rng.uniform(np.log(lo_s), np.log(hi_s))))
    scales = np.clip(first * rng.uniform(0.75, 1.3, count), lo_s, hi_s)
    scales[0] = first
    gaps = np.concatenate([[0.0], rng.uniform(-0.2, 0.3, count - 1)])
    lifts = rng.uniform(-0.08, 0.08, count)
    _, union = _layout(units, scales, gaps, lifts)
    limit = 0.98 * np.array(background.MAX_IMAGE[::-1], dtype=float)
    shrink = min(1.0, *(limit / (union[2:] - union[:2])))
    scales = np.round(np.maximum(scales * shrink, lo_s), 6)
    origins, union = _layout(units, scales, gaps, lifts)
    need = union[2:] - union[:2]
    size = _image_size(rng, need)
    offset = -union[:2] + rng.uniform(0, 1, 2) * np.maximum(size - need, 0)
    if rng.random() < cfg.truncation_prob:
        joints = [
            unit[:MPII_NUM_JOINTS] * s * MPII_PIXEL_STD + o + offset
            for unit, s, o in zip(units, scales, origins)
        ]
        offset = offset + _truncate(rng, joints, size)
    placed = [
        _Placed(person, roll, float(s), o + offset)
        for (person, roll, _), s, o in zip(posed, scales, origins)
    ]
    return placed, size


def render_scene(seed: int,
                 split: str,
                 index: int,
                 config: Optional[SceneConfig] = None,
                 plain_background: bool = False) -> Scene:
    """Sample, draw and annotate one image.

    The geometry, appearance, background, occluders and camera effects use
    separate random streams, so ``plain_background=True`` draws the very
    same people (at the same pixels) on a uniform grey background without
    occluders and camera effects.

    Args:
        seed (int): Dataset seed.
        split (str): ``'train'`` or ``'val'``.
        index (int): Image index within the split.
        config (SceneConfig, optional): Scene options. Defaults to
            ``SceneConfig()``.
        plain_background (bool): Uniform background, no occluders and no
            camera effects.

    Returns:
        Scene: The BGR uint8 image and the annotated people.
    """
    cfg = config or SceneConfig()
    geo, look, back, fx, occ = image_rng(seed, split, index).spawn(5)
    placed, size = _place_people(geo, cfg)
    image = background.draw_background(back, int(size[0]), int(size[1]),
                                       plain_background)
    people, drawn = [], []
    for item in placed:
        height_px = item.scale * MPII_PIXEL_STD
        uv, depth = project_person(item.person, height_px, item.roll,
                                   item.origin)
        people.append(_annotate(uv, item.person, item.scale, size, geo))
        drawn.append((uv, depth))
    for i in geo.permutation(len(placed)):
        item, (uv, depth) = placed[i], drawn[i]
        render.draw_person(image, uv, depth, float(item.person.face_normal[2]),
                           render.sample_appearance(look),
                           item.scale * MPII_PIXEL_STD,
                           item.person.props.head, look)
    if plain_background:
        return Scene(image=image, people=people)
    if occ.random() < cfg.occluder_prob:
        uv = drawn[int(occ.integers(len(drawn)))][0]
        box = np.concatenate([uv.min(axis=0), uv.max(axis=0)])
        background.draw_occluder(occ, image, box)
    return Scene(image=background.camera_effects(fx, image), people=people)
