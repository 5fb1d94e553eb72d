"""Flip test through the estimator: exact re-flip, symmetric predictions."""
import numpy as np
import pytest
import torch
from helpers import pose_samples
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS

from mmhg_plugin.datasets.mpii_conventions import MPII_FLIP_INDICES

MPII_FLIP = list(MPII_FLIP_INDICES)


def build(flip_shift: bool, channels_last: bool = False):
    codec = dict(type='HourglassHeatmap', input_size=(64, 64),
                 heatmap_size=(16, 16), sigma=1.)
    cfg = dict(
        type='StackedHourglassEstimator', channels_last=channels_last,
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0],
                               std=[255, 255, 255], bgr_to_rgb=True),
        backbone=dict(type='StackedHourglass', num_stacks=2, feat_channels=32,
                      depth=4, num_keypoints=16),
        head=dict(type='StackedHourglassHead', num_stacks=2, in_channels=16,
                  out_channels=16, decoder=codec),
        test_cfg=dict(flip_test=True, flip_mode='heatmap',
                      shift_heatmap=flip_shift, output_heatmaps=True))
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg)
    model.init_weights()
    # a few training steps on random data give the BN statistics some life
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model.backbone(torch.rand(4, 3, 64, 64))
    return model.eval()


def symmetric_images(n):
    half = torch.rand(n, 3, 64, 32)
    return torch.cat([half, half.flip(-1)], dim=-1)


def test_flip_averaged_predictions_of_a_symmetric_input_are_symmetric():
    model = build(flip_shift=False)
    with torch.no_grad():
        res = model.predict(symmetric_images(3), pose_samples(3, 64, MPII_FLIP))
    for r in res:
        hm = r.pred_fields.heatmaps
        # the averaged heatmaps are their own mirror (with the joint swap)
        torch.testing.assert_close(hm, hm.flip(-1)[MPII_FLIP], atol=1e-5,
                                   rtol=0)
        k = r.pred_instances.keypoints[0]
        # left/right pairs mirror each other in image space: x -> 63 - x
        pairs = [i for i in range(16) if MPII_FLIP[i] != i]
        np.testing.assert_allclose(k[pairs, 0] + k[MPII_FLIP, 0][pairs], 63.,
                                   atol=1e-4)
        np.testing.assert_allclose(k[pairs, 1], k[MPII_FLIP, 1][pairs],
                                   atol=1e-4)
        # a centre joint's map is symmetric: its maximum has a mirror twin
        for j in set(range(16)) - set(pairs):
            col = int(round((k[j, 0] + 0.5) / 4 - 0.5))
            row = int(round((k[j, 1] + 0.5) / 4 - 0.5))
            assert float(hm[j, row, 15 - col]) == pytest.approx(
                float(hm[j].max()), abs=1e-6)


def test_shifting_the_reflipped_heatmap_breaks_the_symmetry():
    model = build(flip_shift=True)
    with torch.no_grad():
        (r, ) = model.predict(symmetric_images(1), pose_samples(1, 64, MPII_FLIP))
    hm = r.pred_fields.heatmaps
    assert (hm - hm.flip(-1)[MPII_FLIP]).abs().max() > 1e-3


@pytest.mark.parametrize('flip_batch', [True, False, 'auto'])
@pytest.mark.parametrize('channels_last', [False, True])
def test_flip_in_one_batch_or_two_equals_mmpose(channels_last, flip_batch):
    """Image + mirror as one batch of 2B or as two passes of B (as MMPose's
    ``TopdownPoseEstimator``): eval-mode results agree; 'auto' means two
    passes on a CPU."""
    from mmpose.models.pose_estimators import TopdownPoseEstimator
    model = build(flip_shift=False, channels_last=channels_last)
    model.test_cfg['flip_batch'] = flip_batch
    sizes = []
    hook = model.backbone.register_forward_hook(
        lambda m, args, out: sizes.append(args[0].shape[0]))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ours = model.predict(x, pose_samples(2, 64, MPII_FLIP))
        hook.remove()
        theirs = TopdownPoseEstimator.predict(model, x, pose_samples(2, 64, MPII_FLIP))
    assert sizes == ([4] if flip_batch is True else [2, 2])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.pred_fields.heatmaps,
                                   b.pred_fields.heatmaps, atol=1e-5, rtol=0)
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-4)


def test_flip_batch_setting_is_checked():
    model = build(flip_shift=False)
    model.test_cfg['flip_batch'] = 'yes'
    with pytest.raises(ValueError, match='flip_batch'):
        with torch.no_grad():
            model.predict(torch.rand(1, 3, 64, 64), pose_samples(1, 64, MPII_FLIP))
