"""Tests of the synthetic MPII-format dataset generator."""
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import cv2
import numpy as np
import pytest
from scipy.io import loadmat

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_INDEX_BASE,
    MPII_JOINT_INDEX,
    MPII_JOINT_NAMES,
    MPII_LEFT_JOINTS,
    MPII_MAT_JOINT_NAMES,
    MPII_NUM_JOINTS,
    MPII_RIGHT_JOINTS,
    PCKH_HEAD_FACTOR,
    mpii_crop_box,
)
from mmhg_plugin.datasets.synthetic import (
    VAL_ID_OFFSET,
    SceneConfig,
    generate_synthetic_mpii,
    project_person,
    render_scene,
    sample_person,
)

REPO = Path(__file__).resolve().parents[1]

HEAD_TOP = MPII_JOINT_INDEX['head_top']
UPPER_NECK = MPII_JOINT_INDEX['upper_neck']

SEED = 0
NUM_TRAIN, NUM_VAL = 40, 10
ENTRY_KEYS = ['image', 'center', 'scale', 'joints', 'joints_vis']
PLAIN_GREY = 128
HEAD_SIZE_PER_SCALE = 25.0
HEAD_SIZE_TOLERANCE = 0.2


def _load(root: Path, split: str) -> List[Dict[str, Any]]:
    return json.loads(
        (root / 'annotations' / f'mpii_{split}.json').read_text())


def _image_name(split: str, index: int) -> str:
    offset = VAL_ID_OFFSET if split == 'val' else 0
    return f'{offset + index + 1:09d}.jpg'


def _all_files(root: Path) -> Dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


@pytest.fixture(scope='module')
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('synth') / 'w1'
    generate_synthetic_mpii(root, NUM_TRAIN, NUM_VAL, seed=SEED, workers=1)
    return root


@pytest.fixture(scope='module')
def dataset_two_workers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('synth') / 'w2'
    generate_synthetic_mpii(root, NUM_TRAIN, NUM_VAL, seed=SEED, workers=2)
    return root


def test_layout(dataset: Path) -> None:
    images = sorted(p.name for p in (dataset / 'images').iterdir())
    assert len(images) == NUM_TRAIN + NUM_VAL
    assert all(
        len(n) == len('000000001.jpg') and n.endswith('.jpg') for n in images)
    assert images[0] == '000000001.jpg'
    assert f'{VAL_ID_OFFSET + 1:09d}.jpg' in images
    for name in ('mpii_train.json', 'mpii_val.json', 'mpii_trainval.json',
                 'mpii_gt_val.mat'):
        assert (dataset / 'annotations' / name).is_file()
    assert (dataset / 'README.txt').is_file()
    meta = json.loads((dataset / 'meta.json').read_text())
    assert meta['seed'] == SEED
    assert meta['num_train_images'] == NUM_TRAIN
    assert meta['num_val_people'] == len(_load(dataset, 'val'))
    train, val = _load(dataset, 'train'), _load(dataset, 'val')
    assert _load(dataset, 'trainval') == train + val
    referenced = {e['image'] for e in train + val}
    assert referenced == set(images)  # every image has >= 1 person


def test_json_entries(dataset: Path) -> None:
    for split in ('train', 'val'):
        for e in _load(dataset, split):
            assert list(e) == ENTRY_KEYS
            assert isinstance(e['image'], str)
            assert int(Path(e['image']).stem) > 0
            assert len(e['center']) == 2
            assert all(isinstance(v, float) for v in e['center'])
            assert isinstance(e['scale'], float) and 1.0 <= e['scale'] <= 4.0
            assert len(e['joints']) == MPII_NUM_JOINTS
            assert all(len(j) == 2 for j in e['joints'])
            assert len(e['joints_vis']) == MPII_NUM_JOINTS
            assert set(e['joints_vis']) <= {0, 1}


def test_missing_joints_are_exactly_out_of_image(dataset: Path) -> None:
    truncated = people = 0
    for split, count in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        entries = _load(dataset, split)
        by_image: Dict[str, List[Dict[str, Any]]] = {}
        for e in entries:
            by_image.setdefault(e['image'], []).append(e)
        for index in range(count):
            scene = render_scene(SEED, split, index, plain_background=True)
            name = _image_name(split, index)
            height, width = cv2.imread(str(dataset / 'images' /
                                           name)).shape[:2]
            assert scene.image.shape[:2] == (height, width)
            for e, person in zip(by_image[name], scene.people, strict=True):
                people += 1
                exact = person.joints_px + MPII_INDEX_BASE  # unrounded
                rounded = np.round(exact, 2)
                inside = np.all((rounded >= MPII_INDEX_BASE)
                                & (rounded <= [width, height]), axis=1)
                vis = np.array(e['joints_vis'], dtype=bool)
                joints = np.array(e['joints'])
                np.testing.assert_array_equal(vis, inside)
                np.testing.assert_allclose(joints[vis], exact[vis], atol=0.006)
                assert np.all(joints[~vis] == -1.0)
                truncated += int(not vis.all())
    assert people > NUM_TRAIN + NUM_VAL  # some images hold two people
    assert 0 < truncated < 0.3 * people


def test_mat_matches_val_json(dataset: Path) -> None:
    val = _load(dataset, 'val')
    mat = loadmat(str(dataset / 'annotations' / 'mpii_gt_val.mat'))
    n = len(val)
    names = [str(x[0]) for x in mat['dataset_joints'][0]]
    assert names == list(MPII_MAT_JOINT_NAMES)
    assert mat['jnt_missing'].shape == (MPII_NUM_JOINTS, n)
    assert mat['pos_gt_src'].shape == (MPII_NUM_JOINTS, 2, n)
    assert mat['headboxes_src'].shape == (2, 2, n)
    vis = np.array([e['joints_vis'] for e in val])
    np.testing.assert_array_equal(mat['jnt_missing'], 1 - vis.T)
    joints = np.array([e['joints'] for e in val])
    np.testing.assert_allclose(
        np.transpose(mat['pos_gt_src'], [2, 0, 1]), joints)
    boxes = np.transpose(mat['headboxes_src'], [2, 0, 1])  # as MMPose
    head_size = PCKH_HEAD_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0],
                                                  axis=1)
    expected = HEAD_SIZE_PER_SCALE * np.array([e['scale'] for e in val])
    assert np.all(np.abs(head_size / expected - 1) < HEAD_SIZE_TOLERANCE)
    assert np.all(boxes[:, 1] > boxes[:, 0])  # x2 > x1, y2 > y1
    head_mid = 0.5 * (joints[:, HEAD_TOP] + joints[:, UPPER_NECK])
    both = vis[:, HEAD_TOP].astype(bool) & vis[:, UPPER_NECK].astype(bool)
    assert np.all((head_mid[both] > boxes[both, 0])
                  & (head_mid[both] < boxes[both, 1]))


def test_same_seed_identical_any_workers(dataset: Path,
                                         dataset_two_workers: Path) -> None:
    first, second = _all_files(dataset), _all_files(dataset_two_workers)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_different_seed_differs(dataset: Path, tmp_path: Path) -> None:
    generate_synthetic_mpii(tmp_path, 2, 1, seed=SEED + 1, workers=1)
    name = '000000001.jpg'
    assert (tmp_path / 'images' / name).read_bytes() != (dataset / 'images' /
                                                         name).read_bytes()
    assert _load(tmp_path, 'train')[0] != _load(dataset, 'train')[0]


def test_joints_lie_on_the_drawn_figure(dataset: Path) -> None:
    """Visible joints (read from json, 1-based) are covered by the figure.

    The same people are drawn on a plain grey background; a 5x5 window
    around every visible joint must contain figure pixels, while the same
    windows shifted sideways by half a body height mostly must not.
    """
    hits, shifted_hits, total = 0, 0, 0
    for split, count in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        entries = _load(dataset, split)
        for index in range(count):
            scene = render_scene(SEED, split, index, plain_background=True)
            img = scene.image.astype(int)
            height, width = img.shape[:2]
            figure = np.any(img != PLAIN_GREY, axis=2)
            name = _image_name(split, index)
            for e in (x for x in entries if x['image'] == name):
                for (x, y), v in zip(e['joints'], e['joints_vis']):
                    if not v:
                        continue
                    total += 1
                    for dx, counter in ((0.0, 'hit'), (100 * e['scale'],
                                                       'shift')):
                        u = int(round(x - MPII_INDEX_BASE + dx))
                        r = int(round(y - MPII_INDEX_BASE))
                        win = figure[max(r - 2, 0):r + 3,
                                     max(u - 2, 0):min(u + 3, width)]
                        covered = win.size > 0 and bool(win.any())
                        if counter == 'hit':
                            hits += covered
                        else:
                            shifted_hits += covered
    assert total > 0
    assert hits == total
    assert shifted_hits < 0.5 * total


def test_left_right_geometry() -> None:
    """Facing the camera, the person's right joints are on the image left.

    Measured on 2000 sampled people (with the in-plane rotation of the
    scene sampler, seed 1): 100 % of the 1699 people facing the camera have
    a smaller mean x for right-side than for left-side joints, and 0 % of
    the 301 people seen from the back.
    """
    rng = np.random.default_rng(1)
    cfg = SceneConfig()
    results: Dict[bool, List[bool]] = {True: [], False: []}
    for _ in range(2000):
        person = sample_person(rng, cfg.facing_prob)
        roll = float(
            np.clip(
                rng.normal(0, cfg.roll_std_deg), -cfg.max_roll_deg,
                cfg.max_roll_deg))
        uv, _ = project_person(person, 400.0, roll, np.zeros(2))
        right = uv[list(MPII_RIGHT_JOINTS), 0].mean()
        left = uv[list(MPII_LEFT_JOINTS), 0].mean()
        results[person.facing_camera].append(bool(right < left))
    facing, away = np.mean(results[True]), np.mean(results[False])
    assert 0.8 < len(results[True]) / 2000 < 0.9  # ~85 % face the camera
    assert facing > 0.95, facing
    assert away < 0.05, away


@pytest.mark.slow    # about 7 s: two tools, one subprocess each
def test_cli_and_show_tool(tmp_path: Path) -> None:
    out = tmp_path / 'synth'
    cli = REPO / 'tools' / 'dataset_converters' / 'make_synthetic_mpii.py'
    run = subprocess.run([
        sys.executable,
        str(cli), '--out',
        str(out), '--train', '2', '--val', '2', '--workers', '1'
    ],
                         cwd=tmp_path,
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert 'Total time' in run.stdout and 'images/s' in run.stdout
    png = tmp_path / 'ann.png'
    show = REPO / 'tools' / 'misc' / 'show_mpii_annotations.py'
    run = subprocess.run([
        sys.executable,
        str(show), '--data-root',
        str(out), '--split', 'val', '--index', '0', '--out',
        str(png)
    ],
                         cwd=tmp_path,
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    drawn = cv2.imread(str(png))
    image = cv2.imread(str(out / 'images' / _load(out, 'val')[0]['image']))
    assert drawn.shape == image.shape
    assert np.any(drawn != image)


def test_loading_with_mmpose(dataset: Path) -> None:
    try:
        from mmpose.datasets import MpiiDataset
    except ModuleNotFoundError as exc:
        if (exc.name or '').split('.')[0] == 'mmcv':
            pytest.skip('mmcv is not installed yet (needed by mmpose)')
        raise
    ds = MpiiDataset(
        ann_file='annotations/mpii_val.json',
        data_root=str(dataset),
        data_prefix=dict(img='images/'),
        headbox_file=str(dataset / 'annotations' / 'mpii_gt_val.mat'),
        test_mode=True,
        pipeline=[])
    val = _load(dataset, 'val')
    assert len(ds) == len(val)
    assert ds.metainfo['num_keypoints'] == MPII_NUM_JOINTS
    assert tuple(ds.metainfo['keypoint_id2name'][i]
                 for i in range(MPII_NUM_JOINTS)) == MPII_JOINT_NAMES
    for i, e in enumerate(val):
        info = ds.get_data_info(i)
        assert float(info['head_size'].squeeze()) > 0
        np.testing.assert_allclose(
            info['keypoints'][0], e['joints'], rtol=0, atol=1e-3)
        np.testing.assert_array_equal(info['keypoints_visible'][0],
                                      e['joints_vis'])
        assert Path(info['img_path']).name == e['image']
        assert Path(info['img_path']).is_file()
        center, side = mpii_crop_box(e['center'], e['scale'], padding=1.)
        np.testing.assert_allclose(info['bbox_center'][0], center, atol=1e-3)
        np.testing.assert_allclose(info['bbox_scale'][0], [side, side],
                                   rtol=1e-6)
