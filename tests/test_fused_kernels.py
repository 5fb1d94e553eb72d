"""The folded backbone's fused-kernel forward (ReLU and residual sums inside
oneDNN's convolutions) computes what the module's forward computes, and
the estimator takes it only where it may (float32 or bfloat16 autocast on
a CPU, no autograd, folded norms, not traced)."""
import pytest
import torch
from helpers import randomise_norms
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS
from torch import nn

from mmhg_plugin.models.backbones import StackedHourglass
from mmhg_plugin.models.utils import fused_kernels
from mmhg_plugin.models.utils.fuse_norm import fuse_norm
from mmhg_plugin.models.utils.fused_kernels import can_run_fused, cast_convolutions, fused_forward

pytestmark = pytest.mark.skipif(
    fused_kernels._OPS is None, reason='no oneDNN fused convolutions here')

SMALL = dict(num_stacks=3, feat_channels=16, depth=3, num_keypoints=5,
             stem_channels=(8, 16))



def folded(channels_last: bool, **kwargs):
    torch.manual_seed(0)
    net = randomise_norms(StackedHourglass(**dict(SMALL, **kwargs))).eval()
    if channels_last:
        net.to(memory_format=torch.channels_last)
    return net, fuse_norm(net)


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('kwargs', [
    {}, dict(num_keypoints=None), dict(out_indices=(0, 2))])
def test_fused_forward_equals_the_module(channels_last, kwargs):
    net, fused = folded(channels_last, **kwargs)
    x = torch.rand(2, 3, 64, 64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert can_run_fused(fused, x)
        want = net(x)
        got = fused_forward(fused, x)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-5)
        if channels_last:
            assert a.is_contiguous(memory_format=torch.channels_last)


def test_refuses_where_it_cannot_run():
    net, fused = folded(False)
    x = torch.rand(1, 3, 64, 64)
    assert not can_run_fused(fused, x)  # autograd on
    with torch.no_grad():
        assert not can_run_fused(net, x)  # not folded
        assert not can_run_fused(fused, x.double())
        assert not can_run_fused(fused, x, torch.float16)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not can_run_fused(fused, x)
        gn = StackedHourglass(**SMALL, norm_cfg=dict(type='GN',
                                                     num_groups=4)).eval()
        assert not can_run_fused(fuse_norm(gn), x)  # GN does not fold


def test_bf16_only_where_onednn_convolves_bf16(monkeypatch):
    _, fused = folded(False)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert can_run_fused(fused, x, torch.bfloat16) == \
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        monkeypatch.setattr(fused_kernels, '_BF16_OK', False)
        assert not can_run_fused(fused, x, torch.bfloat16)
        assert can_run_fused(fused, x)   # float32 is unaffected


@pytest.mark.skipif(not fused_kernels._BF16_OK,
                    reason='oneDNN has no bfloat16 convolution on this CPU')
def test_bf16_copy_runs_in_bf16_and_stays_close():
    net, fused = folded(True)
    x = torch.rand(2, 3, 64, 64).contiguous(
        memory_format=torch.channels_last)
    low = cast_convolutions(fused, torch.bfloat16)
    assert all(m.weight.dtype == torch.bfloat16 for m in low.modules()
               if isinstance(m, nn.Conv2d))
    assert all(m.weight.dtype == torch.float32 for m in fused.modules()
               if isinstance(m, nn.Conv2d))  # the float32 copy is intact
    with torch.no_grad():
        got = fused_forward(low, x.to(torch.bfloat16))[-1]
        want = net(x)[-1]
    assert got.dtype == torch.bfloat16
    scale = float(want.abs().max())
    assert 0 < float((got.float() - want).abs().max()) <= 0.05 * scale


def _estimator(**switches):
    cfg = dict(type='StackedHourglassEstimator', **switches,
               backbone=dict(type='StackedHourglass', **SMALL),
               head=dict(type='StackedHourglassHead', num_stacks=3,
                         in_channels=5, out_channels=5, decoder=dict(
                             type='HourglassHeatmap', input_size=(64, 64),
                             heatmap_size=(16, 16))),
               test_cfg=dict(flip_test=False))
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('autocast', [None, 'bf16'])
def test_estimator_uses_the_fused_forward_in_inference(monkeypatch,
                                                       autocast):
    torch.manual_seed(0)
    plain = randomise_norms(_estimator()).eval()
    fast = _estimator(channels_last=True, fuse_norm_for_test=True,
                      autocast=autocast).eval()
    fast.load_state_dict(plain.state_dict())
    calls = []
    real = fused_kernels.fused_forward
    monkeypatch.setattr(
        'mmhg_plugin.models.pose_estimators.stacked_hourglass_estimator.'
        'fused_forward', lambda b, x: calls.append(x.dtype) or real(b, x))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        want = plain.extract_feat(x)
        got = fast.extract_feat(x)
    # bfloat16: the fused path where oneDNN convolves it, else autocast's
    expected = ([torch.float32] if autocast is None else
                [torch.bfloat16] if fused_kernels._BF16_OK else [])
    assert calls == expected
    assert all(t.dtype == torch.float32 for t in got)
    tol = dict(atol=2e-5, rtol=1e-5) if autocast is None else dict(
        atol=0.05 * float(want[-1].abs().max()), rtol=0)
    torch.testing.assert_close(got[-1], want[-1], **tol)
    fast.train()  # training never takes it
    fast.extract_feat(x)
    assert len(calls) == len(expected)
