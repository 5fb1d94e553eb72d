"""The MPII facts (mpii_conventions) against MMPose's own, and mpii_io."""
import json
import warnings

import numpy as np
import pytest
import scipy.io

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_FLIP_INDICES,
    MPII_FLIP_PAIRS,
    MPII_JOINT_NAMES,
    MPII_LEFT_JOINTS,
    MPII_MAT_JOINT_NAMES,
    MPII_NUM_JOINTS,
    MPII_RIGHT_JOINTS,
    MPII_SKELETON,
    PCKH_EXCLUDED_FROM_MEAN,
    PCKH_PARTS,
    mpii_crop_box,
)
from mmhg_plugin.datasets.mpii_io import (
    MpiiFileError,
    make_entry,
    read_annotations,
    read_gt_mat,
    read_head_boxes,
    write_annotations,
    write_gt_mat,
)


def mmpose_mpii_metainfo() -> dict:
    """MMPose's MPII metainfo (its configs/_base_/datasets/mpii.py)."""
    from mmpose.datasets import MpiiDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "matched config file ... used"
        return parse_pose_metainfo(MpiiDataset.METAINFO)


def test_joints_and_flip_equal_mmpose_metainfo():
    meta = mmpose_mpii_metainfo()
    assert meta['num_keypoints'] == MPII_NUM_JOINTS
    assert tuple(meta['keypoint_id2name'][k]
                 for k in range(MPII_NUM_JOINTS)) == MPII_JOINT_NAMES
    assert list(MPII_FLIP_INDICES) == meta['flip_indices']
    assert {frozenset(p) for p in MPII_FLIP_PAIRS} == {
        frozenset(p) for p in meta['flip_pairs']}


def test_sides_pairs_and_names_agree():
    for right, left in MPII_FLIP_PAIRS:
        assert MPII_JOINT_NAMES[right].replace('right_', 'left_') == \
            MPII_JOINT_NAMES[left]
        # the official abbreviations: r... / l... of the same part
        assert MPII_MAT_JOINT_NAMES[right][0] == 'r'
        assert 'l' + MPII_MAT_JOINT_NAMES[right][1:] == \
            MPII_MAT_JOINT_NAMES[left]
    assert set(MPII_RIGHT_JOINTS) == {
        k for k, n in enumerate(MPII_JOINT_NAMES) if n.startswith('right_')}
    assert set(MPII_LEFT_JOINTS) == {
        k for k, n in enumerate(MPII_JOINT_NAMES) if n.startswith('left_')}
    # every joint in exactly one PCKh row or excluded from the Mean
    rows = [n for names in PCKH_PARTS.values() for n in names]
    assert sorted(rows + list(PCKH_EXCLUDED_FROM_MEAN) + ['upper_neck']) == \
        sorted(MPII_JOINT_NAMES)
    # the skeleton is a tree over all 16 joints
    assert len(MPII_SKELETON) == MPII_NUM_JOINTS - 1
    assert {k for limb in MPII_SKELETON for k in limb} == set(
        range(MPII_NUM_JOINTS))


def test_crop_box_is_mpii_datasets_box_and_the_transforms_crop(tmp_path):
    from mmpose.datasets import MpiiDataset

    from mmhg_plugin.datasets.transforms import MPIITopdownAffine
    entries = [make_entry(f'{i + 1:09d}.jpg', c, s,
                          [[5., 5.]] * MPII_NUM_JOINTS,
                          [1] * MPII_NUM_JOINTS)
               for i, (c, s) in enumerate([((100.5, 200.), 1.7),
                                           ((1., 1.), 3.25)])]
    write_annotations(tmp_path / 'ann.json', entries)
    ds = MpiiDataset(ann_file=str(tmp_path / 'ann.json'),
                     data_root=str(tmp_path), test_mode=True, pipeline=[])
    crop = MPIITopdownAffine((64, 64))
    for i, e in enumerate(entries):
        info = ds.get_data_info(i)
        center, side = mpii_crop_box(e['center'], e['scale'], padding=1.)
        np.testing.assert_allclose(info['bbox_center'][0], center, rtol=1e-6)
        np.testing.assert_allclose(info['bbox_scale'][0], [side, side],
                                   rtol=1e-6)
        info['img'] = np.zeros((8, 8, 3), np.uint8)
        out = crop(info)
        center, side = mpii_crop_box(e['center'], e['scale'])
        np.testing.assert_allclose(out['input_center'], center, rtol=1e-6)
        np.testing.assert_allclose(out['input_scale'], [side, side],
                                   rtol=1e-6)


def test_gt_mat_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    joints = rng.uniform(1, 500, (3, MPII_NUM_JOINTS, 2)).round(2)
    vis = (rng.uniform(size=(3, MPII_NUM_JOINTS)) > 0.2).astype(int)
    boxes = rng.uniform(1, 500, (3, 2, 2)).round(2)
    entries = [make_entry('1.jpg', (1., 2.), 1., j, v)
               for j, v in zip(joints, vis)]
    path = tmp_path / 'gt.mat'
    write_gt_mat(path, entries, boxes)
    gt = read_gt_mat(path)
    np.testing.assert_array_equal(gt.joints, joints)
    np.testing.assert_array_equal(gt.missing, vis == 0)
    np.testing.assert_array_equal(gt.head_boxes, boxes)
    np.testing.assert_array_equal(read_head_boxes(path), boxes)
    assert gt.joint_names == MPII_MAT_JOINT_NAMES
    np.testing.assert_allclose(
        gt.head_sizes, [0.6 * np.hypot(*(b[1] - b[0])) for b in boxes])
    # the layout of the official file, read back without our reader
    raw = scipy.io.loadmat(str(path))
    assert raw['pos_gt_src'].shape == (MPII_NUM_JOINTS, 2, 3)
    assert raw['jnt_missing'].shape == (MPII_NUM_JOINTS, 3)
    assert raw['headboxes_src'].shape == (2, 2, 3)
    # same content, same bytes (no timestamp in the header)
    write_gt_mat(tmp_path / 'again.mat', entries, boxes)
    assert (tmp_path / 'again.mat').read_bytes() == path.read_bytes()


def test_gt_mat_of_one_person_without_trailing_axis(tmp_path):
    """MATLAB drops a trailing singleton axis: 2 x 2 for one head box."""
    path = tmp_path / 'one.mat'
    scipy.io.savemat(str(path), dict(
        headboxes_src=np.array([[1., 2.], [30., 40.]]),
        pos_gt_src=np.ones((MPII_NUM_JOINTS, 2)),
        jnt_missing=np.zeros((MPII_NUM_JOINTS, 1))))
    gt = read_gt_mat(path)
    assert gt.joints.shape == (1, MPII_NUM_JOINTS, 2)
    np.testing.assert_array_equal(gt.head_boxes, [[[1., 2.], [30., 40.]]])


@pytest.mark.parametrize('content, message', [
    (None, r'missing\.mat does not exist'),
    (b'not a mat file', r"bad\.mat as a \.mat file"),
    (dict(headboxes_src=np.zeros((2, 2, 3)),
          pos_gt_src=np.zeros((MPII_NUM_JOINTS, 2, 3))),
     r"bad\.mat: field 'jnt_missing' is missing"),
    (dict(headboxes_src=np.zeros((2, 2, 3)),
          pos_gt_src=np.zeros((14, 2, 3)),
          jnt_missing=np.zeros((MPII_NUM_JOINTS, 3))),
     r"bad\.mat: field 'pos_gt_src' has shape \(14, 2, 3\), expected "
     r'16 x 2 x N'),
    (dict(headboxes_src=np.zeros((2, 2, 3)),
          pos_gt_src=np.zeros((MPII_NUM_JOINTS, 2, 3)),
          jnt_missing=np.zeros((MPII_NUM_JOINTS, 2))),
     r'bad\.mat: fields hold different numbers of people'),
])
def test_bad_gt_mat_names_file_and_field(tmp_path, content, message):
    path = tmp_path / ('missing.mat' if content is None else 'bad.mat')
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        scipy.io.savemat(str(path), content)
    with pytest.raises(MpiiFileError, match=message):
        read_gt_mat(path)


def test_annotations_round_trip_and_errors(tmp_path):
    entry = make_entry('000000001.jpg', np.array([1.5, 2.]), np.float32(2.),
                       np.ones((MPII_NUM_JOINTS, 2)),
                       np.ones(MPII_NUM_JOINTS, np.int64))
    assert list(entry) == ['image', 'center', 'scale', 'joints',
                           'joints_vis']
    path = tmp_path / 'a.json'
    write_annotations(path, [entry])
    assert json.loads(path.read_text()) == [entry]  # plain Python numbers
    assert read_annotations(path) == [entry]
    path.write_text('{"image": 1}')
    with pytest.raises(MpiiFileError, match=r'a\.json: expected a JSON list'):
        read_annotations(path)
    with pytest.raises(MpiiFileError, match=r'cannot read .*nope\.json'):
        read_annotations(tmp_path / 'nope.json')
