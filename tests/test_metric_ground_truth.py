"""MPIIPCKh: both Head rows by hand, and the ground truth it scores against
(mpii_gt_val.mat or the JSON), the pairing of the two and the hook that
gives the metric the dataset's .mat."""
import logging
from types import SimpleNamespace
from typing import List

import numpy as np
import pytest
import scipy.io
from helpers import evaluate_pckh, logged, pckh_samples

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_JOINT_INDEX,
    MPII_NUM_JOINTS,
)
from mmhg_plugin.datasets.mpii_io import MpiiFileError, make_entry, write_gt_mat
from mmhg_plugin.datasets.mpii_pairing import MpiiPairingError
from mmhg_plugin.engine.hooks import MPIIGroundTruthHook
from mmhg_plugin.evaluation import MPIIPCKh

NECK, TOP = MPII_JOINT_INDEX['upper_neck'], MPII_JOINT_INDEX['head_top']
PELVIS, THORAX = MPII_JOINT_INDEX['pelvis'], MPII_JOINT_INDEX['thorax']


def samples(pred0, gt1, visible, head_size, images=None) -> List[dict]:
    """Data samples as MMPose packs them (one person each, float32 joints);
    sample i's image is number ``images[i]`` (default i)."""
    names = [f'images/{(images or {}).get(i, i):09d}.jpg'
             for i in range(len(pred0))]
    return pckh_samples(pred0, gt1.astype(np.float32), visible * 1.,
                        head_size, names)


def hand_case():
    """4 people, head box 30 x 40 (head size 0.6 x 50 = 30 px: a joint is
    correct within 15 px). Offsets along x, in px:

    head top     0, 15, 20, 5   -> 3 of 4 correct (15 <= 15)
    upper neck   16, 0, -, 30   -> 1 of 3 (person 2's is not annotated)
    pelvis, thorax 100          -> 0 of 4 each (outside the Mean)
    every other joint 0         -> 12 x 4 correct
    """
    n = 4
    gt1 = 100. + np.arange(n * MPII_NUM_JOINTS * 2, dtype=np.float64
                           ).reshape(n, MPII_NUM_JOINTS, 2)
    offset = np.zeros((n, MPII_NUM_JOINTS))
    offset[:, TOP] = [0, 15, 20, 5]
    offset[:, NECK] = [16, 0, 0, 30]
    offset[:, [PELVIS, THORAX]] = 100
    pred0 = gt1 - 1
    pred0[..., 0] += offset
    visible = np.ones((n, MPII_NUM_JOINTS), bool)
    visible[2, NECK] = False
    boxes = np.array([[[10., 10.], [40., 50.]]] * n)
    return pred0, gt1, visible, boxes, np.full(n, 30.)


def test_both_head_rows_and_the_mean_on_a_hand_made_case():
    pred0, gt1, visible, _, hs = hand_case()
    res = evaluate_pckh(MPIIPCKh(), samples(pred0, gt1, visible, hs))
    assert res['PCKh/HeadTop'] == pytest.approx(100 * 3 / 4)
    # evaluatePCKh.m's Head: the mean of the two joints' PCKh
    assert res['PCKh/HeadNeckTop'] == pytest.approx((75 + 100 / 3) / 2)
    for row in ('Shoulder', 'Elbow', 'Wrist', 'Hip', 'Knee', 'Ankle'):
        assert res[f'PCKh/{row}'] == 100.
    # 14 joints pooled: 12 x 4 limb joints + 3 head tops + 1 neck of 55
    assert res['PCKh/Mean'] == pytest.approx(100 * 52 / 55)
    assert res['PCKh/Total16'] == pytest.approx(100 * 52 / 63)
    assert list(res)[:2] == ['PCKh/HeadTop', 'PCKh/HeadNeckTop']


def write_mat(path, gt1, visible, boxes) -> None:
    entries = [make_entry(f'{i:09d}.jpg', (0., 0.), 1., gt1[i], visible[i])
               for i in range(len(gt1))]
    write_gt_mat(path, entries, boxes)


def test_json_and_mat_give_identical_pckh_when_they_agree(tmp_path):
    pred0, gt1, visible, boxes, hs = hand_case()
    mat = tmp_path / 'mpii_gt_val.mat'
    write_mat(mat, gt1, visible, boxes)
    from_json = evaluate_pckh(MPIIPCKh(), samples(pred0, gt1, visible, hs))
    metric = MPIIPCKh(gt_file=str(mat))
    with logged() as warnings:
        from_mat = evaluate_pckh(metric, samples(pred0, gt1, visible, hs))
    assert from_mat == from_json and warnings == []
    assert metric.last_gt_source.startswith(str(mat))


def test_a_joint_annotated_in_one_file_only_is_named(tmp_path):
    pred0, gt1, visible, boxes, hs = hand_case()
    mat = tmp_path / 'mpii_gt_val.mat'
    write_mat(mat, gt1, visible, boxes)
    json_vis = visible.copy()
    json_vis[1, TOP] = False             # the JSON lacks one head top
    from_json = evaluate_pckh(MPIIPCKh(), samples(pred0, gt1, json_vis, hs))
    with logged() as warnings:
        from_mat = evaluate_pckh(MPIIPCKh(gt_file=str(mat)),
                                 samples(pred0, gt1, json_vis, hs))
    assert from_json['PCKh/HeadTop'] == pytest.approx(100 * 2 / 3)
    assert from_mat['PCKh/HeadTop'] == 75.    # the .mat's annotation
    assert any('1 joints of 1 entries are annotated in only one' in w and
               'entry 1 (image 000000001.jpg) head_top, annotated in the '
               '.mat only' in w for w in warnings), warnings


def test_a_moved_joint_is_a_named_error(tmp_path):
    pred0, gt1, visible, boxes, hs = hand_case()
    mat = tmp_path / 'mpii_gt_val.mat'
    write_mat(mat, gt1, visible, boxes)
    gt_json = gt1.copy()
    gt_json[2, MPII_JOINT_INDEX['left_knee']] += (3., 4.)   # 5 px away
    gt_json[3, 0, 0] += 0.4                                 # rounding
    with pytest.raises(MpiiPairingError,
                       match=r'entry 2 \(image 000000002\.jpg\) .*left_knee '
                       r'.*5\.0 px apart .*1 of 4 entries'):
        evaluate_pckh(MPIIPCKh(gt_file=str(mat)),
                      samples(pred0, gt_json, visible, hs))


def test_reordered_json_is_refused_naming_the_first_entry(tmp_path):
    """Issue #18, item 3: the same people in another order (same count)
    would each be scored against another person's head box."""
    pred0, gt1, visible, boxes, hs = hand_case()
    boxes = boxes * (1 + np.arange(4))[:, None, None]   # different heads
    mat = tmp_path / 'mpii_gt_val.mat'
    write_mat(mat, gt1, visible, boxes)
    order = np.arange(4)[::-1]
    names = {i: int(order[i]) for i in range(4)}    # the JSON's images
    data = samples(pred0[order], gt1[order], visible[order], hs, names)
    with pytest.raises(MpiiPairingError,
                       match=r'entry 0 \(image 000000003\.jpg\) is not the '
                       r'person of row 0 .*4 of 4 entries'):
        evaluate_pckh(MPIIPCKh(gt_file=str(mat)), data)


def test_mat_without_joints_falls_back_to_the_json_and_says_so(tmp_path):
    pred0, gt1, visible, boxes, hs = hand_case()
    mat = tmp_path / 'boxes_only.mat'
    scipy.io.savemat(mat, dict(headboxes_src=boxes.transpose(1, 2, 0)))
    from_json = evaluate_pckh(MPIIPCKh(), samples(pred0, gt1, visible, hs))
    metric = MPIIPCKh(gt_file=str(mat))
    with logged(logging.INFO) as lines:
        res = evaluate_pckh(metric, samples(pred0, gt1, visible, hs))
    assert res == from_json
    assert any(f"{mat} has no field 'pos_gt_src': scoring against the "
               'annotation JSON' in m for m in lines), lines
    assert metric.last_gt_source == \
        'the annotation JSON (boxes_only.mat has no pos_gt_src)'
    assert any(f'ground truth: {metric.last_gt_source}' in m for m in lines)


def test_missing_or_unresolved_gt_file(tmp_path):
    pred0, gt1, visible, _, hs = hand_case()
    with pytest.raises(MpiiFileError, match=r'nope\.mat does not exist'):
        evaluate_pckh(MPIIPCKh(gt_file=str(tmp_path / 'nope.mat')),
                      samples(pred0, gt1, visible, hs))
    metric = MPIIPCKh(gt_file='headbox_file')
    with logged() as warnings:
        evaluate_pckh(metric, samples(pred0, gt1, visible, hs))
    assert any("gt_file='headbox_file' was not given the dataset's "
               'headbox_file' in w for w in warnings), warnings
    assert 'unresolved' in metric.last_gt_source


def test_ground_truth_hook_gives_the_metric_the_datasets_mat():
    wants, fixed, plain = (MPIIPCKh(gt_file='headbox_file'),
                           MPIIPCKh(gt_file='/x/own.mat'), MPIIPCKh())
    inner = SimpleNamespace(headbox_file='/data/a/mpii_gt_val.mat')
    loop = SimpleNamespace(
        dataloader=SimpleNamespace(dataset=SimpleNamespace(dataset=inner)),
        evaluator=SimpleNamespace(metrics=[wants, fixed, plain]))
    MPIIGroundTruthHook().before_test(SimpleNamespace(test_loop=loop))
    assert (wants.gt_file, fixed.gt_file, plain.gt_file) == (
        '/data/a/mpii_gt_val.mat', '/x/own.mat', None)
    unresolved = MPIIPCKh(gt_file='headbox_file')
    loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=object()),
                           evaluator=SimpleNamespace(metrics=[unresolved]))
    MPIIGroundTruthHook().before_val(SimpleNamespace(val_loop=loop))
    assert unresolved.gt_file == 'headbox_file'
