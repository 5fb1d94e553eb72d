"""tools/dataset_converters/mpii_mat2json.py on a small MPII-layout .mat.

The .mat is written with scipy.io.savemat in the nesting of
mpii_human_pose_v1_u12_1.mat: RELEASE.annolist(i).image.name,
.annorect(j).{x1,y1,x2,y2,scale,objpos.{x,y},annopoints.point(k).{x,y,id,
is_visible}}, RELEASE.img_train, RELEASE.single_person. Quirks of the real file
included: an image whose single annorect is a struct (not an array), a person
with empty annopoints, a test image whose annorect has only scale/objpos, an
image without annorect, is_visible as '', as a string and as a number.
"""
import json
from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np
import pytest
import scipy.io
from helpers import REPO, load_tool, run_tool

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_MAT_JOINT_NAMES,
    MPII_NUM_JOINTS,
    PCKH_HEAD_FACTOR,
    mpii_crop_box,
)

TOOL = REPO / 'tools' / 'dataset_converters' / 'mpii_mat2json.py'
EMPTY = np.zeros((0, 0))


def struct_array(items: Sequence[Dict[str, Any]]) -> np.ndarray:
    """A 1xN MATLAB struct array (fields of the first item)."""
    fields = list(items[0])
    arr = np.empty((1, len(items)), dtype=[(f, 'O') for f in fields])
    for n, item in enumerate(items):
        for f in fields:
            arr[0, n][f] = item[f]
    return arr


def points(joints: Dict[int, tuple]) -> np.ndarray:
    """annopoints.point: {id: (x, y, is_visible)}, stored in MPII's order
    (not sorted by id)."""
    return struct_array([dict(x=x, y=y, id=jid, is_visible=v)
                         for jid, (x, y, v) in joints.items()])


def rect(center: Optional[tuple], scale: Any, head: Optional[tuple],
         joints: Optional[Dict[int, tuple]]) -> Dict[str, Any]:
    x1, y1, x2, y2 = head if head else (EMPTY, ) * 4
    return dict(x1=x1, y1=y1, x2=x2, y2=y2, scale=scale,
                objpos=dict(x=center[0], y=center[1]) if center else EMPTY,
                annopoints=dict(point=points(joints)) if joints else EMPTY)


FULL = {j: (100. + 10 * j, 200.5 + j, 1) for j in range(MPII_NUM_JOINTS)}
FULL_NO_PELVIS = {j: v for j, v in FULL.items() if j != 6}
QUIRKY = {9: (55.25, 60., ''), 0: (40., 90., '0'), 13: (47., 70., '1'),
          12: (44., 71., np.array([[0.]]))}


def build_release() -> Dict[str, Any]:
    img0 = struct_array([  # two people
        rect((300., 250.), 3.5, (280, 100, 320, 150), FULL_NO_PELVIS),
        rect((50., 75.), 1.25, (40, 50, 60, 70), QUIRKY)])
    img1 = rect((120., 130.), 2.0, (100, 20, 140, 60), FULL)  # a struct
    img2 = struct_array([
        rect((10., 10.), 1.0, (1, 2, 3, 4), None),  # empty annopoints
        rect((500., 400.), 4.0, (480, 200, 520, 260), FULL)])
    img3 = struct_array([dict(scale=2.2, objpos=dict(x=5., y=6.))])  # test
    img5 = rect((600., 450.), 2.5, (590, 300, 630, 350), FULL_NO_PELVIS)
    names = ['000000001.jpg', '000000002.jpg', '000000003.jpg',
             '000000004.jpg', '000000005.jpg', '000000006.jpg']
    annolist = struct_array([
        dict(image=dict(name=n), annorect=r)
        for n, r in zip(names, [img0, img1, img2, img3, EMPTY, img5])])
    single = np.empty((6, 1), dtype=object)
    for n, v in enumerate([EMPTY, 1, 2, EMPTY, EMPTY, 1]):
        single[n, 0] = v
    return dict(annolist=annolist,
                img_train=np.array([[1, 1, 1, 0, 1, 1]], dtype=np.uint8),
                single_person=single, version='12')


def expected_entry(image: str, center: tuple, scale: float,
                   joints: Dict[int, tuple]) -> Dict[str, Any]:
    return {'image': image, 'center': list(center), 'scale': scale,
            'joints': [list(joints[j][:2]) if j in joints else [-1., -1.]
                       for j in range(MPII_NUM_JOINTS)],
            'joints_vis': [int(j in joints) for j in range(MPII_NUM_JOINTS)]}


VAL = [expected_entry('000000006.jpg', (600., 450.), 2.5, FULL_NO_PELVIS),
       expected_entry('000000002.jpg', (120., 130.), 2.0, FULL)]
TRAIN = [expected_entry('000000001.jpg', (300., 250.), 3.5, FULL_NO_PELVIS),
         expected_entry('000000001.jpg', (50., 75.), 1.25, QUIRKY),
         expected_entry('000000003.jpg', (500., 400.), 4.0, FULL)]


@pytest.fixture
def mpii_mat(tmp_path):
    path = tmp_path / 'mpii_human_pose_v1_u12_1.mat'
    scipy.io.savemat(str(path), {'RELEASE': build_release()})
    split = tmp_path / 'val_split.json'
    split.write_text(json.dumps([{'image': '000000006.jpg', 'person': 0},
                                 {'image': '000000002.jpg', 'person': 0}]))
    return path, split


def read_json(path) -> List[Dict[str, Any]]:
    return json.loads(path.read_text())


@pytest.mark.slow    # a subprocess that imports MMPose
def test_cli_output_exact_and_loadable_by_mmpose(mpii_mat, tmp_path):
    mat, split = mpii_mat
    root = tmp_path / 'mpii'
    proc = run_tool([str(TOOL), str(mat), '--val-split', str(split),
                     '--out-dir', str(root)], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'train 3, val 2' in proc.stdout
    ann = root / 'annotations'
    assert read_json(ann / 'mpii_val.json') == VAL
    assert read_json(ann / 'mpii_train.json') == TRAIN

    gt = scipy.io.loadmat(str(ann / 'mpii_gt_val.mat'))
    assert gt['pos_gt_src'].shape == (MPII_NUM_JOINTS, 2, 2)
    np.testing.assert_array_equal(
        gt['pos_gt_src'].transpose(2, 0, 1),
        np.array([e['joints'] for e in VAL]))
    np.testing.assert_array_equal(
        gt['jnt_missing'], 1 - np.array([e['joints_vis'] for e in VAL]).T)
    assert gt['jnt_missing'][6].tolist() == [1, 0]  # pelvis of the first
    np.testing.assert_array_equal(
        gt['headboxes_src'].transpose(2, 0, 1),
        [[[590, 300], [630, 350]], [[100, 20], [140, 60]]])
    assert [str(n[0]) for n in gt['dataset_joints'][0]] == list(
        MPII_MAT_JOINT_NAMES)

    from mmpose.datasets import MpiiDataset
    (root / 'images').mkdir()
    for e in VAL + TRAIN:
        cv2.imwrite(str(root / 'images' / e['image']),
                    np.zeros((8, 8, 3), np.uint8))
    ds = MpiiDataset(ann_file='annotations/mpii_val.json', data_root=str(root),
                     data_prefix=dict(img='images/'),
                     headbox_file=str(ann / 'mpii_gt_val.mat'),
                     test_mode=True, pipeline=[])
    assert len(ds) == 2
    item = ds[0]
    assert item['img_id'] == 6
    np.testing.assert_allclose(item['keypoints'][0], VAL[0]['joints'])
    np.testing.assert_array_equal(item['keypoints_visible'][0],
                                  VAL[0]['joints_vis'])
    center, side = mpii_crop_box(VAL[0]['center'], VAL[0]['scale'],
                                 padding=1.)
    np.testing.assert_allclose(item['bbox_center'][0], center)
    np.testing.assert_allclose(item['bbox_scale'][0], [side, side])
    np.testing.assert_allclose(item['head_size'][0],
                               PCKH_HEAD_FACTOR * np.hypot(40, 50), rtol=1e-6)


def test_is_visible_quirks_and_mmpose_style_split(mpii_mat, tmp_path):
    mat, split = mpii_mat
    tool = load_tool(TOOL, 'mpii_mat2json')
    out1 = tmp_path / 'a'
    tool.convert(str(mat), str(split), str(out1), with_is_visible=True)
    quirky = read_json(out1 / 'annotations' / 'mpii_train.json')[1]
    vis = quirky.pop('joints_is_visible')
    assert quirky == TRAIN[1]
    assert vis == [0 if j == 0 else 1 if j in (9, 13) else 0 if j == 12
                   else -1 for j in range(MPII_NUM_JOINTS)]
    # an MMPose-style mpii_val.json as the split, centres off by 1 px,
    # selects the same people: byte-identical files
    mm_split = tmp_path / 'mmpose_val.json'
    mm_split.write_text(json.dumps(
        [dict(e, center=[e['center'][0] + 1, e['center'][1]]) for e in VAL]))
    out2, out3 = tmp_path / 'b', tmp_path / 'c'
    counts = tool.convert(str(mat), str(mm_split), str(out2))
    assert counts['val'] == 2 and counts['train'] == 3
    tool.convert(str(mat), str(split), str(out3))
    for name in ('mpii_train.json', 'mpii_val.json', 'mpii_gt_val.mat'):
        assert (out2 / 'annotations' / name).read_bytes() == (
            out3 / 'annotations' / name).read_bytes(), name
    assert read_json(out2 / 'annotations' / 'mpii_val.json') == VAL


@pytest.mark.parametrize('entry, message', [
    ({'image': '000000003.jpg', 'person': 0},
     r'000000003\.jpg\) annorect\[0\] is not an annotated person'),
    ({'image': '000000003.jpg', 'center': [400., 400.]},
     r'no annotated person of 000000003\.jpg has objpos within 3\.0 px'),
    ({'image': 'nope.jpg', 'person': 0}, r"'nope\.jpg' is in the \.mat 0"),
])
def test_bad_split_entries_are_named(mpii_mat, tmp_path, entry, message):
    mat, _ = mpii_mat
    split = tmp_path / 'bad.json'
    split.write_text(json.dumps([entry]))
    with pytest.raises(ValueError, match=message):
        load_tool(TOOL, 'mpii_mat2json').convert(str(mat), str(split), str(tmp_path / 'o'))


def test_bad_joint_id_is_named(tmp_path, capsys):
    release = build_release()
    release['annolist'][0, 1]['annorect'] = rect(
        (1., 1.), 1.0, (0, 0, 1, 1), {16: (1., 2., 1)})
    mat = tmp_path / 'bad.mat'
    scipy.io.savemat(str(mat), {'RELEASE': release})
    split = tmp_path / 'split.json'
    split.write_text(json.dumps([{'image': '000000006.jpg', 'person': 0}]))
    assert load_tool(TOOL, 'mpii_mat2json').main([str(mat), '--val-split', str(split),
                             '--out-dir', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert ('annolist[1] (000000002.jpg) annorect[0]: field '
            'annopoints.point[0].id: expected a joint id 0-15, got 16.0'
            ) in err
