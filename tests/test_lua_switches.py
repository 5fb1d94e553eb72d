"""Switches to the Lua original's behaviour (pose-hg-train): scale law, loss
without masking, Torch7's norm initialisation; and that the defaults did not
move."""
import math

import numpy as np
import pytest
import torch
from helpers import target_samples
from torch import nn

from mmhg_plugin.codecs import HourglassHeatmap
from mmhg_plugin.datasets.transforms import MPIITopdownAffine
from mmhg_plugin.datasets.transforms.augment_laws import sample_scale_factor
from mmhg_plugin.models import StackedHeatmapMSELoss, StackedHourglass, StackedHourglassHead

SQRT2 = math.sqrt(2.)


def normal_tail(z: float) -> float:
    """P(N(0, 1) > z)."""
    return 0.5 * math.erfc(z / SQRT2)


def clipped_normal_std(c: float) -> float:
    """Std of clip(N(0, 1), -c, c): E[Z^2; |Z| < c] + c^2 P(|Z| > c)."""
    pdf = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
    inner = 1 - 2 * normal_tail(c) - 2 * c * pdf
    return math.sqrt(inner + c * c * 2 * normal_tail(c))


# ---------------------------------------------------------------- scale law
def test_lua_scale_law_range_clip_mass_and_median():
    np.random.seed(0)
    n = 100_000
    f = np.array([sample_scale_factor('lua') for _ in range(n)])
    lo, hi = 2.**-0.5, 2.**0.5
    assert f.min() == pytest.approx(lo, abs=1e-12)   # the clip is reached
    assert f.max() == pytest.approx(hi, abs=1e-12)
    assert lo - 1e-12 <= f.min() and f.max() <= hi + 1e-12
    # clip(N(0, .25), +-.5): P(Z > 2) = 2.275 % of draws on each bound
    p = normal_tail(2.)
    se = math.sqrt(p * (1 - p) / n)
    for bound in (lo, hi):
        frac = np.mean(np.isclose(f, bound, rtol=0, atol=1e-12))
        assert abs(frac - p) < 5 * se, (bound, frac, p)
    # log-normal around 1: median 1, log2 std of the clipped normal
    assert np.median(f) == pytest.approx(1., abs=0.005)
    assert np.log2(f).std() == pytest.approx(
        0.25 * clipped_normal_std(2.), rel=0.01)
    # 14.7 % of the factors fall outside the paper's U(0.75, 1.25)
    q = (normal_tail(math.log2(1.25) / 0.25) +
         normal_tail(-math.log2(0.75) / 0.25))
    assert np.mean((f < 0.75) | (f > 1.25)) == pytest.approx(
        q, abs=5 * math.sqrt(q * (1 - q) / n))


def test_uniform_law_and_parameters():
    np.random.seed(1)
    f = np.array([sample_scale_factor('uniform', (0.75, 1.25))
                  for _ in range(20_000)])
    assert 0.75 <= f.min() and f.max() < 1.25
    assert np.mean(f < 1.) == pytest.approx(0.5, abs=0.02)
    assert sample_scale_factor('uniform', None) == 1.
    # sigma and clip are the law's parameters
    g = np.array([sample_scale_factor('lua', sigma=0.1, clip=0.1)
                  for _ in range(20_000)])
    assert g.min() == pytest.approx(2**-0.1) and g.max() == pytest.approx(
        2**0.1)
    with pytest.raises(ValueError, match='scale law'):
        sample_scale_factor('normal')


def _person(img_hw=(120, 160)):
    img = np.random.default_rng(5).integers(0, 255, (*img_hw, 3),
                                            dtype=np.uint8)
    return dict(img=img, bbox_center=np.array([[80., 60.]], np.float32),
                bbox_scale=np.array([[80., 80.]], np.float32))


def _draws(t, n, seed):
    """(scale factor, rotation in degrees, flip) of n samples of ``t``."""
    np.random.seed(seed)
    out = []
    for _ in range(n):
        r = t(_person())
        m = r['warp_mat'].astype(np.float64)
        # crop width = 80 * scale_padding 1.25 * factor; the second row of
        # the matrix is k * (-sin a, cos a), also after a flip
        out.append((r['input_scale'][0] / 100.,
                    math.degrees(math.atan2(-m[1, 0], m[1, 1])), r['flip']))
    return np.array(out, dtype=float)


def test_transform_with_lua_scale_law():
    t = MPIITopdownAffine((32, 32), scale_law='lua')
    s = _draws(t, 1500, seed=2)[:, 0]
    assert 2**-0.5 - 1e-5 <= s.min() and s.max() <= 2**0.5 + 1e-5
    hits = np.mean(np.isclose(s, 2**0.5, atol=1e-5))
    assert 0.008 < hits < 0.045       # 2.3 % expected, 1500 draws
    assert 'scale_law' in repr(t)
    with pytest.raises(ValueError, match='takes no scale_range'):
        MPIITopdownAffine((32, 32), scale_range=(0.75, 1.25),
                          scale_law='lua')
    with pytest.raises(ValueError, match='scale_law must be one of'):
        MPIITopdownAffine((32, 32), scale_law='log')
    with pytest.raises(ValueError, match='>= 0'):
        MPIITopdownAffine((32, 32), scale_law='lua', scale_sigma=-1)


def test_rotation_and_flip_laws_match_the_lua_code():
    # pose.lua: r = clip(N(0, 30), +-60), zeroed when uniform() <= .6;
    # flip when uniform() < .5
    t = MPIITopdownAffine((32, 32), rotate_std=30., rotate_max=60.,
                          rotate_prob=0.4, flip_prob=0.5)
    np.random.seed(3)
    n = 40_000
    d = np.array([t._sample_augmentation() for _ in range(n)], dtype=float)
    rot, flip = d[:, 1], d[:, 2]
    rotated = rot != 0
    assert rotated.mean() == pytest.approx(0.4, abs=0.015)
    assert np.abs(rot).max() == pytest.approx(60.)
    p = 2 * normal_tail(2.)
    assert np.mean(np.abs(rot[rotated]) == 60.) == pytest.approx(p, abs=0.01)
    assert rot[rotated].std() == pytest.approx(30 * clipped_normal_std(2.),
                                               rel=0.03)
    assert flip.mean() == pytest.approx(0.5, abs=0.015)
    assert np.all(d[:, 0] == 1.)     # no scale_range: no scale draw


def test_default_transform_draws_are_unchanged():
    # The base config's augmentation; numbers recorded with the code before
    # the scale_law switch existed (same seed, same sequence of draws).
    t = MPIITopdownAffine((32, 32), scale_range=(0.75, 1.25), rotate_std=30.,
                          rotate_max=60., rotate_prob=0.4, flip_prob=0.5)
    expected = [(1.044007, 0.0, True), (0.771904, 9.2306, False),
                (0.986923, 0.0, True), (1.126299, 0.0, False),
                (1.082184, 0.0, True), (0.862677, 0.0, False),
                (0.878998, -16.0018, False), (0.875884, 20.9567, False)]
    np.testing.assert_allclose(_draws(t, 8, seed=2024),
                               np.array(expected, dtype=float), atol=1e-4)


# ---------------------------------------------------------------- loss
def lua_mse(preds, target, weights):
    """The Lua criterion, independently: nn.ParallelCriterion of one
    nn.MSECriterion (sizeAverage = true) per stack, against targets whose
    unannotated joints are all-zero heatmaps."""
    t = target.double().numpy().copy()
    w = weights.numpy()
    t[w == 0] = 0.
    per_stack = [((p.double().numpy() - t)**2).sum() / t.size for p in preds]
    return np.array(per_stack), float(sum(per_stack))


def test_unmasked_loss_is_the_lua_criterion():
    torch.manual_seed(0)
    B, K, H, W = 3, 5, 8, 6
    target = torch.rand(B, K, H, W)      # nonzero where weight is 0 too
    preds = [torch.randn(B, K, H, W) for _ in range(4)]
    w = torch.ones(B, K)
    w[0, 1] = w[2, 0] = w[2, 4] = 0.
    per_stack, total = lua_mse(preds, target, w)
    for use_target_weight in (True, False):
        loss = StackedHeatmapMSELoss(use_target_weight=use_target_weight,
                                     mask_invisible=False)
        out = loss(preds, target, w)
        np.testing.assert_allclose(out.numpy(), per_stack, rtol=1e-6)
        assert out.sum().item() == pytest.approx(total, rel=1e-6)
    # a weight-0 joint is now trained toward zero: its prediction matters
    p = [x.clone().requires_grad_() for x in preds]
    StackedHeatmapMSELoss(mask_invisible=False)(p, target, w).sum().backward()
    grad = p[0].grad[0, 1]
    torch.testing.assert_close(grad, 2 * preds[0][0, 1] / target.numel())
    # the default masks it: no gradient there, a different number
    p = [x.clone().requires_grad_() for x in preds]
    masked = StackedHeatmapMSELoss()(p, target, w)
    masked.sum().backward()
    assert p[0].grad[0, 1].abs().max() == 0
    assert not np.allclose(masked.detach().numpy(), per_stack)


def test_unmasked_loss_keeps_fractional_weights_and_needs_weights():
    target = torch.rand(1, 2, 4, 4)
    preds = [torch.rand(1, 2, 4, 4)]
    w = torch.tensor([[0.5, 0.]])
    out = StackedHeatmapMSELoss(mask_invisible=False)(preds, target, w)
    ref = (0.5 * ((preds[0][0, 0] - target[0, 0])**2).sum() +
           (preds[0][0, 1]**2).sum()) / target.numel()
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match='mask_invisible=False needs'):
        StackedHeatmapMSELoss(use_target_weight=False,
                              mask_invisible=False)(preds, target)


def test_codec_draws_nothing_for_weight_zero_joints():
    codec = HourglassHeatmap((64, 64), (16, 16), sigma=1.75)
    kpts = np.array([[[30., 30.], [40., 20.], [70., 30.], [np.nan, 5.]]],
                    np.float32)
    enc = codec.encode(kpts, np.array([[1., 0., 1., 1.]], np.float32))
    # not visible; centre outside the crop; not a number
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1, 0, 0, 0]])
    assert enc['heatmaps'][0].max() > 0.9
    assert not enc['heatmaps'][1:].any()


def test_head_with_unmasked_loss_matches_lua_formula():
    head = StackedHourglassHead(
        num_stacks=2, in_channels=3, out_channels=3,
        loss=dict(type='StackedHeatmapMSELoss', mask_invisible=False))
    torch.manual_seed(1)
    feats = tuple(torch.rand(2, 3, 8, 8) for _ in range(2))
    w = torch.tensor([[1., 0., 1.], [1., 1., 0.]])
    samples = target_samples(2, 3, 8, 8, w)
    losses = head.loss(feats, samples, dict(compute_acc=False))
    target = torch.stack([d.gt_fields.heatmaps for d in samples])
    per_stack, _ = lua_mse(feats, target, w)
    np.testing.assert_allclose(
        [losses['loss_kpt_s0'].item(), losses['loss_kpt_s1'].item()],
        per_stack, rtol=1e-6)


# ---------------------------------------------------------------- init
def _norms(net):
    return [m for m in net.modules()
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]


def test_torch7_norm_init_law():
    torch.manual_seed(0)
    net = StackedHourglass(num_stacks=2, feat_channels=32,
                           stem_channels=(16, 32), norm_init='torch7')
    norms = _norms(net)
    w = torch.cat([m.weight.detach() for m in norms]).double()
    n = w.numel()
    assert n > 2000
    assert 0 <= w.min() and w.max() < 1
    assert w.std() > 0.25                        # U(0, 1): 0.289
    assert w.mean().item() == pytest.approx(0.5, abs=5 * (1 / 12 / n)**0.5)
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):       # the quantiles of U(0, 1)
        assert (w < q).double().mean().item() == pytest.approx(
            q, abs=5 * (q * (1 - q) / n)**0.5)
    assert all(not m.bias.any() for m in norms)
    assert all(not m.running_mean.any() and (m.running_var == 1).all()
               for m in norms)
    # every layer draws its own weights
    assert len({tuple(m.weight[:4].tolist()) for m in norms}) == len(norms)


def test_norm_init_changes_only_the_norms_and_default_is_pytorch():
    torch.manual_seed(0)
    default = StackedHourglass(num_stacks=2, feat_channels=32,
                               stem_channels=(16, 32))
    torch.manual_seed(0)
    torch7 = StackedHourglass(num_stacks=2, feat_channels=32,
                              stem_channels=(16, 32), norm_init='torch7')
    assert default.norm_init == 'pytorch'
    for m in _norms(default):
        assert (m.weight == 1).all() and not m.bias.any()
    convs = {f'{n}.{k}': p for n, m in default.named_modules()
             if isinstance(m, nn.Conv2d)
             for k, p in m.named_parameters(recurse=False)}
    other = dict(torch7.named_parameters())
    assert len(convs) > 50
    for name, p in convs.items():       # same seed: the same convolutions
        torch.testing.assert_close(p, other[name], rtol=0, atol=0)


def test_conv_default_init_is_torch7_law():
    # Torch7's SpatialConvolution.reset(): weight and bias U(+-1/sqrt(fan_in))
    torch.manual_seed(0)
    net = StackedHourglass(num_stacks=1, feat_channels=64,
                           stem_channels=(32, 64))
    checked = 0
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and m.weight.numel() >= 4096:
            bound = 1 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound
            assert m.weight.std().item() == pytest.approx(
                bound / math.sqrt(3), rel=0.05)
            assert m.bias.abs().max() <= bound
            checked += 1
    assert checked >= 10


def test_norm_init_applies_to_group_norm_and_rejects_unknown():
    torch.manual_seed(0)
    net = StackedHourglass(num_stacks=1, feat_channels=32,
                           stem_channels=(16, 32),
                           norm_cfg=dict(type='GN', num_groups=4),
                           norm_init='torch7')
    w = torch.cat([m.weight.detach() for m in _norms(net)])
    assert 0 <= w.min() and w.max() < 1 and w.std() > 0.25
    with pytest.raises(ValueError, match='norm_init must be one of'):
        StackedHourglass(num_stacks=1, norm_init='lua')


def test_torch7_norm_init_survives_init_weights():
    # mmengine's runner calls init_weights() after building the model
    torch.manual_seed(0)
    net = StackedHourglass(num_stacks=1, feat_channels=32,
                           stem_channels=(16, 32), norm_init='torch7')
    before = [m.weight.detach().clone() for m in _norms(net)]
    net.init_weights()
    for m, w in zip(_norms(net), before):
        torch.testing.assert_close(m.weight.detach(), w, rtol=0, atol=0)
