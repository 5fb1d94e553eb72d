"""Random 3-D pose sampling, forward kinematics and projection.

A synthetic person is posed in 3-D within the joint-angle limits of
:mod:`.skeleton` and projected orthographically, which gives realistic
foreshortening (out-of-plane limbs look shorter), left/right geometry
(facing the camera, the person's right side is on the image left) and the
self-occlusion order used for drawing. Lengths are in standing heights.

Body frame: x = the person's left, y = up, z = the person's forward.
Camera frame: X = image right, Y = up, Z = towards the camera.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np

from .skeleton import (
    SIDE_LEFT,
    SIDE_RIGHT,
    Angles,
    BodyProportions,
    clip_angles,
    forward_kinematics,
    rot_x,
    rot_y,
    sample_proportions,
)


def _pair(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, size=2)


def _base_angles(rng: np.random.Generator) -> Angles:
    """Relaxed standing pose with small natural variation."""
    return {
        'torso_bend': rng.normal(3, 5),
        'torso_side': rng.normal(0, 4),
        'torso_twist': rng.normal(0, 8),
        'neck_pitch': rng.normal(5, 8),
        'neck_roll': rng.normal(0, 6),
        'head_yaw': rng.normal(0, 15),
        'hip_flex': rng.normal(0, 6, size=2),
        'hip_abd': _pair(rng, 0, 12),
        'hip_rot': rng.normal(5, 8, size=2),
        'knee': _pair(rng, 0, 15),
        'sh_flex': rng.normal(5, 15, size=2),
        'sh_abd': _pair(rng, 5, 30),
        'sh_rot': _pair(rng, -20, 60),
        'elbow': _pair(rng, 0, 70),
    }


def _pose_standing(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    side = rng.integers(2)
    if rng.random() < 0.35:  # one gesturing arm
        ang['sh_flex'][side] = rng.uniform(20, 110)
        ang['elbow'][side] = rng.uniform(30, 130)
    if rng.random() < 0.2:  # hands on hips
        ang['sh_abd'][:] = rng.uniform(35, 55)
        ang['sh_rot'][:] = rng.uniform(40, 70)
        ang['elbow'][:] = rng.uniform(90, 120)
    return ang


def _pose_walking(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    running = rng.random() < 0.3
    amp = rng.uniform(35, 50) if running else rng.uniform(15, 30)
    phase = rng.uniform(-1, 1)
    swing = np.array([phase, -phase]) * amp
    ang['hip_flex'] = swing + rng.normal(0, 4, size=2)
    front = int(swing[SIDE_LEFT] > swing[SIDE_RIGHT])
    ang['knee'][front] = rng.uniform(5, 40 + 50 * running)
    ang['knee'][1 - front] = rng.uniform(10, 60 + 50 * running)
    ang['sh_flex'] = -swing * rng.uniform(0.6, 1.2) + rng.normal(0, 5, 2)
    ang['sh_abd'] = _pair(rng, 5, 15)
    ang['elbow'] = _pair(rng, 70, 110) if running else _pair(rng, 5, 50)
    ang['torso_bend'] = rng.uniform(5, 20) if running else rng.uniform(0, 10)
    return ang


def _pose_arms_raised(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    sides = ([SIDE_RIGHT, SIDE_LEFT]
             if rng.random() < 0.6 else [int(rng.integers(2))])
    for s in sides:
        if rng.random() < 0.5:  # raised sideways
            ang['sh_abd'][s] = rng.uniform(100, 175)
            ang['sh_flex'][s] = rng.uniform(-10, 30)
        else:  # raised forwards
            ang['sh_flex'][s] = rng.uniform(100, 180)
            ang['sh_abd'][s] = rng.uniform(0, 30)
        ang['elbow'][s] = rng.uniform(0, 100)
    return ang


def _pose_bending(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    if rng.random() < 0.3:  # squatting
        ang['hip_flex'] = _pair(rng, 90, 125)
        ang['knee'] = _pair(rng, 100, 150)
        ang['torso_bend'] = rng.uniform(15, 45)
    else:
        ang['torso_bend'] = rng.uniform(35, 85)
        ang['knee'] = _pair(rng, 0, 40)
    bend = ang['torso_bend']
    ang['sh_flex'] = bend + rng.normal(0, 25, size=2)
    ang['elbow'] = _pair(rng, 0, 60)
    ang['neck_pitch'] = rng.uniform(-30, 10)
    return ang


def _pose_sitting(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    ang['hip_flex'] = _pair(rng, 70, 100)
    ang['hip_abd'] = _pair(rng, 0, 25)
    if rng.random() < 0.75:  # on a chair: shins roughly vertical
        ang['knee'] = ang['hip_flex'] + rng.normal(0, 12, size=2)
    else:  # on the floor
        ang['knee'] = _pair(rng, 0, 40)
    ang['torso_bend'] = rng.uniform(-10, 25)
    ang['sh_flex'] = _pair(rng, 10, 55)
    ang['sh_abd'] = _pair(rng, 5, 20)
    ang['sh_rot'] = _pair(rng, 20, 60)
    ang['elbow'] = _pair(rng, 40, 110)
    return ang


def _pose_action(rng: np.random.Generator) -> Angles:
    ang = _base_angles(rng)
    ang.update({
        'torso_bend': rng.uniform(-10, 50),
        'torso_side': rng.uniform(-20, 20),
        'torso_twist': rng.uniform(-30, 30),
        'hip_flex': _pair(rng, -20, 100),
        'hip_abd': _pair(rng, -10, 40),
        'knee': _pair(rng, 0, 130),
        'sh_flex': _pair(rng, -40, 180),
        'sh_abd': _pair(rng, 0, 170),
        'sh_rot': _pair(rng, -60, 90),
        'elbow': _pair(rng, 0, 150)
    })
    return ang


POSE_SAMPLERS: Dict[str, Callable[[np.random.Generator], Angles]] = {
    'standing': _pose_standing,
    'walking': _pose_walking,
    'arms_raised': _pose_arms_raised,
    'bending': _pose_bending,
    'sitting': _pose_sitting,
    'action': _pose_action,
}
POSE_WEIGHTS = {
    'standing': 0.25,
    'walking': 0.2,
    'arms_raised': 0.15,
    'bending': 0.1,
    'sitting': 0.12,
    'action': 0.18
}


@dataclass
class Person3D:
    """A posed person in camera coordinates (units of standing height).

    Attributes:
        landmarks (np.ndarray): (NUM_LANDMARKS, 3) joints then landmarks.
        face_normal (np.ndarray): (3,) unit vector the face points to.
        facing_camera (bool): Whether the body faces the camera.
        props (BodyProportions): Segment lengths.
        pose_type (str): Name of the pose sampler used.
    """
    landmarks: np.ndarray
    face_normal: np.ndarray
    facing_camera: bool
    props: BodyProportions
    pose_type: str


def sample_person(rng: np.random.Generator,
                  facing_prob: float = 0.85,
                  max_pitch_deg: float = 15.0) -> Person3D:
    """Sample proportions, pose and view of one person.

    Args:
        rng (np.random.Generator): Random generator.
        facing_prob (float): Probability that the body faces the camera.
        max_pitch_deg (float): Limit of the camera elevation angle.

    Returns:
        Person3D: The person in camera coordinates, pelvis at the origin.
    """
    props = sample_proportions(rng)
    names = list(POSE_WEIGHTS)
    weights = np.array([POSE_WEIGHTS[n] for n in names])
    pose_type = names[rng.choice(len(names), p=weights / weights.sum())]
    angles = clip_angles(POSE_SAMPLERS[pose_type](rng))
    facing = bool(rng.random() < facing_prob)
    yaw = float(np.clip(rng.normal(0, 25), -70, 70))
    if pose_type == 'sitting' and rng.random() < 0.5:
        yaw = float(np.sign(yaw) * rng.uniform(20, 55))
    yaw = yaw if facing else 180.0 + yaw
    pitch = float(np.clip(rng.normal(0, 6), -max_pitch_deg, max_pitch_deg))
    pts, face = forward_kinematics(angles, props)
    view = rot_x(pitch) @ rot_y(yaw)
    return Person3D(
        landmarks=pts @ view.T,
        face_normal=view @ face,
        facing_camera=facing,
        props=props,
        pose_type=pose_type)


def project_person(person: Person3D, height_px: float, roll_deg: float,
                   origin: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Project a person into image pixels (0-based, y down).

    Args:
        person (Person3D): The posed person.
        height_px (float): Standing height in pixels.
        roll_deg (float): In-plane rotation, counter-clockwise on screen.
        origin (np.ndarray): (2,) pixel position of the pelvis.

    Returns:
        Tuple[np.ndarray, np.ndarray]: (NUM_LANDMARKS, 2) pixel coordinates
        and (NUM_LANDMARKS,) depth (larger is closer to the camera).
    """
    a = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    screen = person.landmarks[:, :2] * np.array([1.0, -1.0])
    uv = screen @ rot.T * height_px + np.asarray(origin, dtype=np.float64)
    return uv, person.landmarks[:, 2].copy()
