"""Synthetic body model: proportions, joint-angle limits, kinematics.

The 16 joints are MPII's (names, order and sides from
:mod:`mmhg_plugin.datasets.mpii_conventions`); extra drawing landmarks (hands,
toes, face, torso outline) are numbered after them. Lengths are fractions of
the person's standing height.

Body frame: x = the person's left, y = up, z = the person's forward.
Flexion moves a limb forward, abduction outward (away from the midline).
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from ..mpii_conventions import MPII_JOINT_INDEX, MPII_NUM_JOINTS

# MPII joint indices used by the kinematics and the drawing.
R_ANKLE, R_KNEE, R_HIP = (MPII_JOINT_INDEX[n]
                          for n in ('right_ankle', 'right_knee', 'right_hip'))
L_HIP, L_KNEE, L_ANKLE = (MPII_JOINT_INDEX[n]
                          for n in ('left_hip', 'left_knee', 'left_ankle'))
PELVIS, THORAX, UPPER_NECK, HEAD_TOP = (
    MPII_JOINT_INDEX[n]
    for n in ('pelvis', 'thorax', 'upper_neck', 'head_top'))
R_WRIST, R_ELBOW, R_SHOULDER = (
    MPII_JOINT_INDEX[n]
    for n in ('right_wrist', 'right_elbow', 'right_shoulder'))
L_SHOULDER, L_ELBOW, L_WRIST = (
    MPII_JOINT_INDEX[n]
    for n in ('left_shoulder', 'left_elbow', 'left_wrist'))

# Extra landmarks used for drawing, numbered after the MPII joints; the
# torso outline (4 corners per level) starts at TORSO_BOX_START.
(R_HAND, L_HAND, R_TOE, L_TOE, HEAD_CENTER, HAIR_CENTER, NOSE, R_EYE, L_EYE,
 MOUTH, TORSO_BOX_START) = range(MPII_NUM_JOINTS, MPII_NUM_JOINTS + 11)
TORSO_BOX_LEVELS = 4
TORSO_BOX_CORNERS = 4
NUM_LANDMARKS = TORSO_BOX_START + TORSO_BOX_CORNERS * TORSO_BOX_LEVELS

# Index of the right / left side in per-side angle arrays and its x sign.
SIDE_RIGHT, SIDE_LEFT = 0, 1
SIDE_SIGN = (-1.0, 1.0)
# Per side: shoulder, elbow, wrist, hand tip and hip, knee, ankle, toe.
ARM_CHAINS = ((R_SHOULDER, R_ELBOW, R_WRIST, R_HAND), (L_SHOULDER, L_ELBOW,
                                                       L_WRIST, L_HAND))
LEG_CHAINS = ((R_HIP, R_KNEE, R_ANKLE, R_TOE), (L_HIP, L_KNEE, L_ANKLE, L_TOE))


@dataclass(frozen=True)
class BodyProportions:
    """Segment lengths of one person as fractions of standing height.

    Means follow standard anthropometric tables (e.g. Drillis & Contini):
    ankle 0.039, knee 0.285, hip 0.53, shoulder 0.818, chin 0.87 of height.
    """
    head: float = 0.125  # upper neck (chin level) to head top
    neck: float = 0.05  # thorax to upper neck
    torso: float = 0.29  # pelvis to thorax
    shoulder_half: float = 0.125  # thorax to a shoulder joint
    hip_half: float = 0.078  # pelvis to a hip joint
    upper_arm: float = 0.186
    forearm: float = 0.146
    hand: float = 0.095
    thigh: float = 0.245
    shin: float = 0.246
    foot: float = 0.13
    chest_depth: float = 0.07  # half depth of the chest


# Per-person relative standard deviation of every segment length.
PROPORTION_JITTER = 0.045
HEAD_RANGE = (0.12, 0.13)


def sample_proportions(rng: np.random.Generator) -> BodyProportions:
    """Sample body proportions with per-person variation.

    Args:
        rng (np.random.Generator): Random generator.

    Returns:
        BodyProportions: Proportions of one person.
    """
    base = BodyProportions()
    names = [n for n in base.__dataclass_fields__ if n != 'head']
    factors = np.clip(1 + PROPORTION_JITTER * rng.standard_normal(len(names)),
                      0.85, 1.15)
    values = {n: getattr(base, n) * f for n, f in zip(names, factors)}
    values['head'] = float(rng.uniform(*HEAD_RANGE))
    return BodyProportions(**values)


# Joint-angle limits in degrees. Flexion is forward, abduction outward.
JOINT_LIMITS_DEG: Dict[str, Tuple[float, float]] = {
    'torso_bend': (-20.0, 85.0),
    'torso_side': (-25.0, 25.0),
    'torso_twist': (-35.0, 35.0),
    'neck_pitch': (-35.0, 45.0),
    'neck_roll': (-25.0, 25.0),
    'head_yaw': (-50.0, 50.0),
    'hip_flex': (-25.0, 125.0),
    'hip_abd': (-15.0, 50.0),
    'hip_rot': (-30.0, 40.0),
    'knee': (0.0, 150.0),
    'sh_flex': (-50.0, 180.0),
    'sh_abd': (-10.0, 175.0),
    'sh_rot': (-70.0, 90.0),
    'elbow': (0.0, 150.0),
}
PER_SIDE_KEYS = ('hip_flex', 'hip_abd', 'hip_rot', 'knee', 'sh_flex', 'sh_abd',
                 'sh_rot', 'elbow')
Angles = Dict[str, np.ndarray]


def clip_angles(angles: Angles) -> Angles:
    """Clip every angle to :data:`JOINT_LIMITS_DEG`.

    Args:
        angles (Dict[str, np.ndarray]): Angles in degrees.

    Returns:
        Dict[str, np.ndarray]: Clipped copy.
    """
    return {k: np.clip(v, *JOINT_LIMITS_DEG[k]) for k, v in angles.items()}


def rot_x(deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` degrees about the x (body left/right) axis."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` degrees about the y (vertical) axis."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` degrees about the z (forward) axis."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# Face landmarks relative to the head centre, in head lengths (face frame).
FACE_OFFSETS = ((NOSE, (0.0, -0.08, 0.45)), (MOUTH, (0.0, -0.3, 0.36)),
                (R_EYE, (-0.17, 0.04, 0.36)), (L_EYE, (0.17, 0.04, 0.36)))
HAIR_OFFSET = (0.0, 0.13, -0.12)  # hair mass: up and to the back
SHOULDER_DROP = 0.012  # shoulder joints slightly below the thorax
FOOT_DIRECTION = (0.0, -0.3, 1.0)  # in the shin frame: forward, a bit down
CROTCH_DROP = 0.045  # lowest torso level below the hip joints
NECK_BASE_RISE = 0.022  # trapezius level above the thorax
WAIST_RISE = 0.1  # waist level above the pelvis
BOX_CORNER_SIGNS = ((-1, -1), (1, -1), (1, 1), (-1, 1))  # (x, z) signs


def _torso_outline(pts: np.ndarray, r_torso: np.ndarray, r_chest: np.ndarray,
                   props: BodyProportions) -> np.ndarray:
    """Corners of 4 torso cross sections (neck base, shoulders, waist, hips).

    Their projected convex hull is the drawn torso silhouette at any view.
    """
    sh, depth = props.shoulder_half, props.chest_depth
    levels = (
        (pts[THORAX] + r_chest @ [0, NECK_BASE_RISE, 0], 0.45 * sh,
         0.8 * depth, r_chest),
        (pts[THORAX] - r_chest @ [0, SHOULDER_DROP, 0], sh + 0.02, depth,
         r_chest),
        (r_torso @ [0, WAIST_RISE, 0], 0.8 * sh, 0.85 * depth, r_torso),
        (np.array([0, -CROTCH_DROP,
                   0]), props.hip_half + 0.03, 0.95 * depth, np.eye(3)),
    )
    corners = [
        centre + rot @ [cx * half_w, 0, cz * half_d]
        for centre, half_w, half_d, rot in levels
        for cx, cz in BOX_CORNER_SIGNS
    ]
    return np.array(corners)


def _limb_frame(parent: np.ndarray, flex: float, abd: float, rot: float,
                sign: float) -> np.ndarray:
    """Frame of an upper limb: forward flexion, outward abduction and
    inward rotation, mirrored by ``sign`` (-1 right, +1 left)."""
    return (parent @ rot_x(-flex) @ rot_z(sign * abd) @ rot_y(-sign * rot))


def forward_kinematics(
        angles: Angles,
        props: BodyProportions) -> Tuple[np.ndarray, np.ndarray]:
    """Place joints and drawing landmarks in the body frame.

    Args:
        angles (Dict[str, np.ndarray]): Joint angles in degrees.
        props (BodyProportions): Segment lengths.

    Returns:
        Tuple[np.ndarray, np.ndarray]: (NUM_LANDMARKS, 3) points with the
        pelvis at the origin, and the (3,) face normal.
    """
    pts = np.zeros((NUM_LANDMARKS, 3))
    down = np.array([0.0, -1.0, 0.0])
    r_torso = rot_z(angles['torso_side']) @ rot_x(angles['torso_bend'])
    r_chest = r_torso @ rot_y(angles['torso_twist'])
    r_head = (
        r_torso @ rot_z(angles['neck_roll']) @ rot_x(angles['neck_pitch']))
    r_face = r_head @ rot_y(angles['head_yaw'])
    pts[THORAX] = r_torso @ [0, props.torso, 0]
    pts[UPPER_NECK] = pts[THORAX] + r_head @ [0, props.neck, 0]
    pts[HEAD_TOP] = pts[UPPER_NECK] + r_head @ [0, props.head, 0]
    pts[HEAD_CENTER] = pts[UPPER_NECK] + r_head @ [0, 0.5 * props.head, 0]
    pts[HAIR_CENTER] = pts[HEAD_CENTER] + props.head * (r_face @ HAIR_OFFSET)
    for idx, offset in FACE_OFFSETS:
        pts[idx] = pts[HEAD_CENTER] + props.head * (r_face @ offset)
    for side in (SIDE_RIGHT, SIDE_LEFT):
        sx = SIDE_SIGN[side]
        sho, elb, wri, hand = ARM_CHAINS[side]
        pts[sho] = pts[THORAX] + r_chest @ [
            sx * props.shoulder_half, -SHOULDER_DROP, 0
        ]
        r_arm = _limb_frame(r_chest, angles['sh_flex'][side],
                            angles['sh_abd'][side], angles['sh_rot'][side], sx)
        r_fore = r_arm @ rot_x(-angles['elbow'][side])
        pts[elb] = pts[sho] + props.upper_arm * (r_arm @ down)
        pts[wri] = pts[elb] + props.forearm * (r_fore @ down)
        pts[hand] = pts[wri] + props.hand * (r_fore @ down)
        hip, knee, ankle, toe = LEG_CHAINS[side]
        pts[hip] = [sx * props.hip_half, 0, 0]
        r_leg = _limb_frame(
            np.eye(3), angles['hip_flex'][side], angles['hip_abd'][side],
            angles['hip_rot'][side], sx)
        r_shin = r_leg @ rot_x(angles['knee'][side])
        pts[knee] = pts[hip] + props.thigh * (r_leg @ down)
        pts[ankle] = pts[knee] + props.shin * (r_shin @ down)
        pts[toe] = pts[ankle] + props.foot * (r_shin @ FOOT_DIRECTION)
    pts[TORSO_BOX_START:] = _torso_outline(pts, r_torso, r_chest, props)
    return pts, r_face @ np.array([0.0, 0.0, 1.0])
