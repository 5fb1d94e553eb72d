"""MPII conventions: the one place that says how 1-based coordinates flow.

MPII annotations are MATLAB-style, 1-based: the pixel at 0-based column
``u`` has ``x = u + 1`` in ``mpii_train.json``/``mpii_val.json`` (``joints``,
``center``) and in ``mpii_gt_val.mat`` (``pos_gt_src``, ``headboxes_src``).

How mmhg handles it, end to end:

1. MMPose's ``MpiiDataset`` (used unchanged) moves ``center`` down by
   ``15 * scale`` px and subtracts 1 from it, but leaves ``joints`` 1-based.
2. :class:`~mmhg_plugin.datasets.transforms.MPIITopdownAffine` subtracts
   ``keypoint_index_base`` (:data:`MPII_INDEX_BASE` in the MPII configs) from
   the joints before warping them, so image, crop centre and the training
   targets share 0-based pixel-centre coordinates
   (:mod:`mmhg_plugin.codecs.coordinates`). ``keypoints`` themselves stay as
   annotated (1-based) and travel to the metric as ground truth.
3. The network therefore predicts 0-based image coordinates (what drawing
   code expects), and :class:`~mmhg_plugin.evaluation.MPIIPCKh` adds
   :data:`MPII_INDEX_BASE` to predictions before comparing them with the
   1-based ground truth (from the data samples or from the ``.mat`` file).

MMPose 1.3.2 skips step 2 yet keeps step 3 (``MpiiPCKAccuracy`` adds 1 to
its predictions), which leaves its models trained on targets offset by one
pixel from the image content; see ``docs/mpii_protocol.md``.
"""
from typing import Dict, Tuple

#: Index base of MPII annotation coordinates (MATLAB).
MPII_INDEX_BASE = 1

#: Head size = this factor x the diagonal of the head box (official PCKh).
PCKH_HEAD_FACTOR = 0.6

#: MMPose's names of the 16 MPII joints, in annotation order.
MPII_JOINT_NAMES: Tuple[str, ...] = (
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee',
    'left_ankle', 'pelvis', 'thorax', 'upper_neck', 'head_top',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder',
    'left_elbow', 'left_wrist')

#: The official evaluation's names (``dataset_joints`` in the .mat file).
MPII_MAT_JOINT_NAMES: Tuple[str, ...] = ('rank', 'rkne', 'rhip', 'lhip',
                                         'lkne', 'lank', 'pelv', 'thor',
                                         'neck', 'head', 'rwri', 'relb',
                                         'rsho', 'lsho', 'lelb', 'lwri')

#: Rows of the official PCKh table and the joints each row averages.
PCKH_PARTS: Dict[str, Tuple[str, ...]] = {
    'Head': ('head_top', ),
    'Shoulder': ('left_shoulder', 'right_shoulder'),
    'Elbow': ('left_elbow', 'right_elbow'),
    'Wrist': ('left_wrist', 'right_wrist'),
    'Hip': ('left_hip', 'right_hip'),
    'Knee': ('left_knee', 'right_knee'),
    'Ankle': ('left_ankle', 'right_ankle'),
}

#: Joints the official Mean leaves out (14 joints remain).
PCKH_EXCLUDED_FROM_MEAN: Tuple[str, ...] = ('pelvis', 'thorax')
