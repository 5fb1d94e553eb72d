"""MPIIPCKh against an independent implementation and MMPose's metric."""
import numpy as np
import pytest
from helpers import evaluate_pckh, pckh_samples
from scipy.io import savemat

from mmhg_plugin.datasets.mpii_conventions import MPII_JOINT_NAMES
from mmhg_plugin.evaluation import MPIIPCKh

# official evaluatePCKh.m, transcribed as loops (1-based joint ids there):
# head top 10 (HeadTop, the common validation table's Head) and upper neck 9
# with it (HeadNeckTop, evaluatePCKh.m's Head), shoulders 13/14, elbows
# 12/15, wrists 11/16, hips 3/4, knees 2/5, ankles 1/6; pelvis 7 and thorax 8
# left out of the mean.
PAIRS = {'HeadTop': [9], 'HeadNeckTop': [8, 9], 'Shoulder': [12, 13],
         'Elbow': [11, 14], 'Wrist': [10, 15], 'Hip': [2, 3], 'Knee': [1, 4],
         'Ankle': [0, 5]}


def official_pckh(pred1, gt1, missing, headboxes, thr):
    """pred1/gt1 (N, 16, 2) 1-based; headboxes (N, 2, 2)."""
    N, K = missing.shape
    hits = np.zeros(K)
    count = np.zeros(K)
    for n in range(N):
        hs = 0.6 * np.sqrt(((headboxes[n, 1] - headboxes[n, 0])**2).sum())
        for k in range(K):
            if missing[n, k]:
                continue
            count[k] += 1
            d = np.sqrt(((pred1[n, k] - gt1[n, k])**2).sum())
            if d / hs <= thr:
                hits[k] += 1
    pck = 100 * hits / count
    table = {p: float(np.mean([pck[j] for j in js])) for p, js in PAIRS.items()}
    keep = [k for k in range(K) if k not in (6, 7)]
    table['Mean'] = float(sum(pck[k] * count[k] for k in keep) /
                          sum(count[k] for k in keep))
    table['Total16'] = float(100 * hits.sum() / count.sum())
    return table


def random_case(n=300, seed=0):
    rng = np.random.default_rng(seed)
    gt1 = rng.uniform(50, 600, (n, 16, 2))
    tl = rng.uniform(50, 500, (n, 2))
    side = rng.uniform(20, 60, (n, 1))
    headboxes = np.stack([tl, tl + side * rng.uniform(0.8, 1.2, (n, 2))], 1)
    head_size = 0.6 * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=1)
    # errors from 0 to ~1 head size; a few joints missing
    pred0 = gt1 - 1 + rng.normal(0, 1, (n, 16, 2)) * head_size[:, None, None] * \
        rng.uniform(0.05, 0.6, (n, 16, 1))
    missing = rng.uniform(size=(n, 16)) < 0.1
    return pred0, gt1, missing, headboxes, head_size


def samples_for(pred0, gt1, missing, head_size):
    """Samples without image names; float32 visibility flags."""
    return pckh_samples(pred0, gt1, (~missing).astype(np.float32), head_size)


@pytest.mark.parametrize('thr', [0.5, 0.1])
def test_equals_official_protocol_on_random_data(thr):
    pred0, gt1, missing, boxes, hs = random_case()
    ours = evaluate_pckh(MPIIPCKh(thr=thr), samples_for(pred0, gt1, missing, hs))
    ref = official_pckh(pred0 + 1, gt1, missing, boxes, thr)
    for k, v in ref.items():
        assert ours[f'PCKh/{k}'] == pytest.approx(v, abs=1e-9), k
    ref_low = official_pckh(pred0 + 1, gt1, missing, boxes, 0.1)
    assert ours['PCKh/Mean@0.1'] == pytest.approx(ref_low['Mean'], abs=1e-9)
    assert 5 < ours['PCKh/Mean'] < 95   # a non-trivial case at both thr


def test_threshold_is_inclusive():
    gt1 = np.zeros((1, 16, 2)) + 100
    pred0 = gt1 - 1
    pred0[0, :, 0] += 10.          # exactly 0.5 head sizes away
    hs = np.array([20.])
    res = evaluate_pckh(MPIIPCKh(), samples_for(pred0, gt1,
                                                  np.zeros((1, 16), bool), hs))
    assert res['PCKh/Mean'] == 100.


def test_gt_file_gives_the_same_numbers(tmp_path):
    pred0, gt1, missing, boxes, hs = random_case(n=50, seed=3)
    mat = tmp_path / 'mpii_gt_val.mat'
    savemat(str(mat), dict(
        pos_gt_src=np.transpose(gt1, (1, 2, 0)),
        jnt_missing=missing.T.astype(np.uint8),
        headboxes_src=np.transpose(boxes, (1, 2, 0))))
    from_samples = evaluate_pckh(MPIIPCKh(), samples_for(pred0, gt1, missing, hs))
    # shuffle the order in which samples arrive: ids index the .mat; the
    # samples' own joints, flags and head sizes are wrong (none annotated,
    # so the pairing has nothing to refute): every number is the .mat's
    samples = samples_for(pred0, np.zeros_like(gt1),
                          np.ones_like(missing), hs * 7)
    order = np.random.default_rng(0).permutation(50)
    from_mat = evaluate_pckh(MPIIPCKh(gt_file=str(mat)),
                               [samples[i] for i in order])
    for k, v in from_samples.items():
        assert from_mat[k] == pytest.approx(v, abs=1e-9), k


def test_duplicates_are_refused_and_curve_is_monotonic():
    pred0, gt1, missing, boxes, hs = random_case(n=20)
    samples = samples_for(pred0, gt1, missing, hs)
    with pytest.raises(ValueError, match='more than once'):
        evaluate_pckh(MPIIPCKh(), samples + samples[:3])
    m = MPIIPCKh()
    evaluate_pckh(m, samples)
    curve = list(m.last_curve.values())
    assert curve[0] == 0. and all(b >= a for a, b in zip(curve, curve[1:]))
    assert len(curve) == 51 and set(m.last_per_joint) == set(MPII_JOINT_NAMES)


def test_agrees_with_mmpose_mpii_pck_accuracy():
    """Both add 1 to 0-based predictions; on continuous random data the only
    deliberate difference (<= vs <) never triggers."""
    from mmpose.evaluation.metrics import MpiiPCKAccuracy
    pred0, gt1, missing, boxes, hs = random_case(n=200, seed=5)
    samples = samples_for(pred0, gt1, missing, hs)
    ours = evaluate_pckh(MPIIPCKh(), samples)
    theirs_metric = MpiiPCKAccuracy(norm_item='head')
    for s in samples:
        s['gt_instances']['keypoints_visible'] = \
            s['gt_instances']['keypoints_visible'].astype(bool)
        s['gt_instances']['bboxes'] = np.array([[0., 0., 1., 1.]])
    theirs = evaluate_pckh(theirs_metric, samples)
    mapping = {'HeadTop': 'Head PCK', 'Shoulder': 'Shoulder PCK',
               'Elbow': 'Elbow PCK', 'Wrist': 'Wrist PCK', 'Hip': 'Hip PCK',
               'Knee': 'Knee PCK', 'Ankle': 'Ankle PCK', 'Mean': 'PCK',
               'Mean@0.1': 'PCK@0.1'}
    for ours_key, their_key in mapping.items():
        assert ours[f'PCKh/{ours_key}'] == pytest.approx(
            float(theirs[f'MpiiPCKAccuracy/{their_key}']
                  if f'MpiiPCKAccuracy/{their_key}' in theirs
                  else theirs[their_key]), abs=1e-4), ours_key
