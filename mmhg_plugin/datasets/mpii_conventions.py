"""MPII conventions: every MPII fact mmhg uses, stated once.

Joints (names, order, left/right, flip pairs, limbs), the PCKh table, the
annotation geometry (scale unit, centre shift, crop padding) and the index
base live here; code, tools, benchmarks and tests import them from here.

Index base. MPII annotations are MATLAB-style, 1-based: the pixel at 0-based
column ``u`` has ``x = u + 1`` in ``mpii_train.json``/``mpii_val.json``
(``joints``, ``center``) and in ``mpii_gt_val.mat`` (``pos_gt_src``,
``headboxes_src``). The offset is :data:`MPII_INDEX_BASE`, and no config
states it: the transform and the metric both read this constant, so they
cannot disagree. End to end:

1. MMPose's ``MpiiDataset`` (used unchanged) moves ``center`` down by
   ``MPII_CENTER_SHIFT * scale`` px and makes it 0-based (what
   :func:`mpii_crop_box` computes), but leaves ``joints`` 1-based.
2. :class:`~mmhg_plugin.datasets.transforms.MPIITopdownAffine` (an MPII
   transform) subtracts :data:`MPII_INDEX_BASE` from the joints before
   warping them, so image, crop centre and the training targets share 0-based
   pixel-centre coordinates (:mod:`mmhg_plugin.codecs.coordinates`).
   ``keypoints`` themselves stay as annotated (1-based) and travel to the
   metric as ground truth.
3. The network therefore predicts 0-based image coordinates (what drawing
   code expects), and :class:`~mmhg_plugin.evaluation.MPIIPCKh` adds
   :data:`MPII_INDEX_BASE` to predictions before comparing them with the
   1-based ground truth (from the data samples or from the ``.mat`` file).

MMPose 1.3.2 skips step 2 yet keeps step 3 (``MpiiPCKAccuracy`` adds 1 to
its predictions), which leaves its models trained on targets offset by one
pixel from the image content; see ``docs/mpii_protocol.md``. Because step 3
is the same in both, :class:`~mmhg_plugin.evaluation.MPIIPCKh` scores the
output of MMPose's own MPII pipeline as ``MpiiPCKAccuracy`` does.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

#: Index base of MPII annotation coordinates (MATLAB).
MPII_INDEX_BASE = 1

#: MPII ``scale`` unit: a person box of side ``MPII_PIXEL_STD * scale`` px
#: (about the person's height).
MPII_PIXEL_STD = 200.0

#: MPII ``center`` is moved down by this many px per unit of ``scale``
#: before cropping (the originals and MMPose's ``MpiiDataset``).
MPII_CENTER_SHIFT = 15.0

#: The crop is this much larger than the person box (the originals' 1.25).
MPII_CROP_PADDING = 1.25

#: Head size = this factor x the diagonal of the head box (``evaluatePCKh.m``).
PCKH_HEAD_FACTOR = 0.6

#: MMPose's names of the 16 MPII joints, in annotation order.
MPII_JOINT_NAMES: Tuple[str, ...] = (
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee',
    'left_ankle', 'pelvis', 'thorax', 'upper_neck', 'head_top',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder',
    'left_elbow', 'left_wrist')

#: Number of MPII joints.
MPII_NUM_JOINTS = len(MPII_JOINT_NAMES)

#: Joint name -> index in annotation order.
MPII_JOINT_INDEX: Dict[str, int] = {
    name: k
    for k, name in enumerate(MPII_JOINT_NAMES)
}

#: The official evaluation's names (``dataset_joints`` in the .mat file).
MPII_MAT_JOINT_NAMES: Tuple[str, ...] = ('rank', 'rkne', 'rhip', 'lhip',
                                         'lkne', 'lank', 'pelv', 'thor',
                                         'neck', 'head', 'rwri', 'relb',
                                         'rsho', 'lsho', 'lelb', 'lwri')

#: (right, left) joint index pairs swapped by a horizontal flip.
MPII_FLIP_PAIRS: Tuple[Tuple[int, int], ...] = tuple(
    (MPII_JOINT_INDEX[f'right_{part}'], MPII_JOINT_INDEX[f'left_{part}'])
    for part in ('ankle', 'knee', 'hip', 'wrist', 'elbow', 'shoulder'))

#: The person's right-side joints (first of each flip pair).
MPII_RIGHT_JOINTS: Tuple[int, ...] = tuple(r for r, _ in MPII_FLIP_PAIRS)

#: The person's left-side joints (second of each flip pair).
MPII_LEFT_JOINTS: Tuple[int, ...] = tuple(left for _, left in MPII_FLIP_PAIRS)


def _flip_indices() -> Tuple[int, ...]:
    indices = list(range(MPII_NUM_JOINTS))
    for right, left in MPII_FLIP_PAIRS:
        indices[right], indices[left] = left, right
    return tuple(indices)


#: Joint ``k`` of a flipped sample is joint ``MPII_FLIP_INDICES[k]`` of the
#: original (MMPose's ``flip_indices``).
MPII_FLIP_INDICES: Tuple[int, ...] = _flip_indices()

#: Limbs (joint index pairs) drawn as the MPII skeleton: legs, spine, arms
#: (the shoulders join the thorax; MMPose's ``mpii.py`` metainfo, which
#: draws predictions, joins them to the upper neck).
MPII_SKELETON: Tuple[Tuple[int, int], ...] = tuple(
    (MPII_JOINT_INDEX[a], MPII_JOINT_INDEX[b]) for a, b in (
        ('right_ankle', 'right_knee'), ('right_knee', 'right_hip'),
        ('right_hip', 'pelvis'), ('pelvis', 'left_hip'),
        ('left_hip', 'left_knee'), ('left_knee', 'left_ankle'),
        ('pelvis', 'thorax'), ('thorax', 'upper_neck'),
        ('upper_neck', 'head_top'), ('right_wrist', 'right_elbow'),
        ('right_elbow', 'right_shoulder'), ('right_shoulder', 'thorax'),
        ('thorax', 'left_shoulder'), ('left_shoulder', 'left_elbow'),
        ('left_elbow', 'left_wrist')))

#: Name of the Head row of the common validation table (Tompson et al.,
#: bearpaw, HRNet, MMPose's ``MpiiPCKAccuracy``): the head top alone.
PCKH_HEAD_TOP = 'HeadTop'

#: Name of the Head row of the official ``evaluatePCKh.m`` table (and of
#: Newell's pose-hg-demo ``displayPCK``): upper neck and head top averaged.
PCKH_HEAD_NECK_TOP = 'HeadNeckTop'

#: The joints of each row of the common validation table, every joint in at
#: most one row (the head row is :data:`PCKH_HEAD_TOP`; upper neck, pelvis
#: and thorax have none); a row is the mean of its joints' PCKh.
PCKH_PARTS: Dict[str, Tuple[str, ...]] = {
    PCKH_HEAD_TOP: ('head_top', ),
    'Shoulder': ('left_shoulder', 'right_shoulder'),
    'Elbow': ('left_elbow', 'right_elbow'),
    'Wrist': ('left_wrist', 'right_wrist'),
    'Hip': ('left_hip', 'right_hip'),
    'Knee': ('left_knee', 'right_knee'),
    'Ankle': ('left_ankle', 'right_ankle'),
}

#: The rows :class:`~mmhg_plugin.evaluation.MPIIPCKh` reports, in order: both
#: Head conventions, then the limb rows of :data:`PCKH_PARTS`.
PCKH_ROWS: Dict[str, Tuple[str, ...]] = {
    PCKH_HEAD_TOP: PCKH_PARTS[PCKH_HEAD_TOP],
    PCKH_HEAD_NECK_TOP: ('upper_neck', 'head_top'),
    **PCKH_PARTS,
}

#: Joints the Mean leaves out (14 joints remain; ``evaluatePCKh.m`` and
#: the common validation table agree on it).
PCKH_EXCLUDED_FROM_MEAN: Tuple[str, ...] = ('pelvis', 'thorax')


def mpii_crop_box(center: Sequence[float],
                  scale: float,
                  padding: float = MPII_CROP_PADDING
                  ) -> Tuple[np.ndarray, float]:
    """The crop box of an MPII annotation, as MMPose's ``MpiiDataset`` and
    :class:`~mmhg_plugin.datasets.transforms.MPIITopdownAffine` crop it.

    The centre moves down by ``MPII_CENTER_SHIFT * scale`` px and becomes
    0-based; the box is square with side ``MPII_PIXEL_STD * scale *
    padding``. (``MpiiDataset`` skips the shift for ``center`` x = -1, the
    test set's mark of a missing centre; annotated people always have one.)

    Args:
        center (Sequence[float]): (2,) annotation ``center`` (``objpos``),
            1-based.
        scale (float): Annotation ``scale``.
        padding (float): Enlargement of the person box. Defaults to
            :data:`MPII_CROP_PADDING` (the crop); 1 gives the person box,
            e.g. a ``bbox`` for inference, which the transform pads itself.

    Returns:
        Tuple[np.ndarray, float]: The (2,) 0-based box centre (x, y) and the
        box side in px.
    """
    shifted = np.asarray(center, np.float64) + np.array(
        [0., MPII_CENTER_SHIFT * scale])
    return shifted - MPII_INDEX_BASE, MPII_PIXEL_STD * scale * padding
