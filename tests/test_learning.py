"""The whole chain learns: data -> crop -> targets -> network -> decoding ->
image coordinates -> PCKh. A coordinate bug anywhere keeps PCKh near the
mean-pose baseline; flip test must not lower it."""
import json
import re

import numpy as np
import pytest
from helpers import data_options, run_tool

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_INDEX_BASE,
    MPII_JOINT_NAMES,
    PCKH_EXCLUDED_FROM_MEAN,
    mpii_crop_box,
)
from mmhg_plugin.datasets.mpii_io import head_sizes, read_head_boxes

#: Trains models or runs several processes (see conftest.pytest_configure).
pytestmark = pytest.mark.slow

# PCKh points required above the mean-pose baseline. Measured: the CI model
# reaches ~54 against a baseline of ~20 (+34); a swapped left/right, a wrong
# crop, scale or index base lands at or below the baseline.
MARGIN = 20.0


def mean_pose_baseline(data) -> float:
    """PCKh Mean of predicting, for every val person, the average training
    pose placed in the person's crop box: what a network that ignores the
    image can reach. Independent of our training and evaluation code."""
    ann = data / 'annotations'
    train = json.loads((ann / 'mpii_train.json').read_text())
    val = json.loads((ann / 'mpii_val.json').read_text())
    num = len(MPII_JOINT_NAMES)

    def frame(a):
        """0-based joints, crop centre and crop side of an entry."""
        c, s = mpii_crop_box(a['center'], a['scale'])
        return np.array(a['joints']) - MPII_INDEX_BASE, c, s

    rel = np.full((len(train), num, 2), np.nan)
    for i, a in enumerate(train):
        joints, c, s = frame(a)
        vis = np.array(a['joints_vis']) > 0
        rel[i, vis] = (joints[vis] - c) / s
    mean = np.nanmean(rel, axis=0)
    head = head_sizes(read_head_boxes(ann / 'mpii_gt_val.mat'))
    hits = np.zeros(num)
    count = np.zeros(num)
    for i, a in enumerate(val):
        joints, c, s = frame(a)
        vis = np.array(a['joints_vis']) > 0
        d = np.linalg.norm(mean * s + c - joints, axis=1)
        hits += (d / head[i] <= 0.5) & vis
        count += vis
    keep = [k for k, n in enumerate(MPII_JOINT_NAMES)
            if n not in PCKH_EXCLUDED_FROM_MEAN]
    return 100. * hits[keep].sum() / count[keep].sum()


def evaluate(run, out, flip: bool) -> dict:
    proc = run_tool([
        'tools/test.py', str(run.config), str(run.ckpt), '--work-dir',
        str(run.root / f'test_flip{int(flip)}'), '--out', str(out),
        '--cfg-options', *data_options(run.data),
        f'model.test_cfg.flip_test={flip}'])
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_training_learns_far_above_the_mean_pose(trained_small):
    baseline = mean_pose_baseline(trained_small.data)
    assert 5 < baseline < 40   # sanity of the independent baseline
    flip = evaluate(trained_small, trained_small.root / 'flip.json', True)
    plain = evaluate(trained_small, trained_small.root / 'plain.json', False)
    print(f'mean-pose baseline {baseline:.1f}, PCKh Mean {plain["PCKh/Mean"]:.1f}'
          f' (flip test {flip["PCKh/Mean"]:.1f})')
    assert plain['PCKh/Mean'] >= baseline + MARGIN
    # flip test averages two views: it must not cost accuracy
    assert flip['PCKh/Mean'] >= plain['PCKh/Mean'] - 0.5
    # every stack's loss is logged, and each fell during training
    log = trained_small.train_log
    for stack in (0, 1):
        values = [float(v) for v in
                  re.findall(rf'loss_kpt_s{stack}: ([0-9.e+-]+)', log)]
        assert len(values) >= 4, f'loss_kpt_s{stack} not logged'
        assert values[-1] < 0.7 * values[0], (stack, values)
