"""Speed switches give the plain path's numbers: norm folding, channels-last,
torch.compile (equal up to float rounding) and bfloat16 autocast (close, and
really in bfloat16); folded norms refuse training. No timing here."""
import time

import pytest
import torch
from helpers import pose_samples, randomise_norms
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS
from torch import nn

from mmhg_plugin.models.backbones import StackedHourglass
from mmhg_plugin.models.pose_estimators.stacked_hourglass_estimator import compile_options
from mmhg_plugin.models.utils import autocast as autocast_utils
from mmhg_plugin.models.utils.autocast import autocast_dtype, check_autocast, cpu_flags
from mmhg_plugin.models.utils.fuse_norm import fuse_norm, is_fused, refresh_fused_norm

FLIP = [3, 2, 1, 0]
TINY = dict(type='StackedHourglass', num_stacks=2, feat_channels=16,
            depth=2, num_keypoints=4, stem_channels=(8, 16))



def estimator(**switches) -> nn.Module:
    cfg = dict(
        type='StackedHourglassEstimator', **switches,
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0],
                               std=[255, 255, 255]),
        backbone=TINY,
        head=dict(type='StackedHourglassHead', num_stacks=2, in_channels=4,
                  out_channels=4, decoder=dict(
                      type='HourglassHeatmap', input_size=(32, 32),
                      heatmap_size=(8, 8), sigma=1.)),
        test_cfg=dict(flip_test=True, shift_heatmap=False,
                      output_heatmaps=True))
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(cfg)


def pair(**switches):
    """A plain estimator and one with ``switches``, same weights."""
    torch.manual_seed(0)
    plain = randomise_norms(estimator())
    fast = estimator(**switches)
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def predict_heatmaps(model, x):
    model.eval()
    with torch.no_grad():
        return torch.stack([r.pred_fields.heatmaps
                            for r in model.predict(x, pose_samples(len(x), 32, FLIP))])


# ------------------------------------------------------------ norm folding
def test_fuse_norm_folds_two_of_three_norms_and_keeps_outputs():
    torch.manual_seed(0)
    net = randomise_norms(StackedHourglass(**{
        k: v for k, v in TINY.items() if k != 'type'})).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fused = fuse_norm(net)
    count = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    left = sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    residuals = sum(type(m).__name__ == 'PreActResidual'
                    for m in net.modules())
    assert left == residuals  # only every residual's norm1 stays
    assert count == 3 * residuals + 1 + 2  # + stem norm + stack norms
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(net(x), fused(x)):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    for k, v in net.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k
    assert is_fused(fused) and not is_fused(net)


def test_fused_module_refuses_training():
    net = randomise_norms(StackedHourglass(**{
        k: v for k, v in TINY.items() if k != 'type'})).eval()
    fused = fuse_norm(net)
    with pytest.raises(RuntimeError, match='inference only'):
        fused.train()
    with pytest.raises(RuntimeError, match='inference only'):
        fused.stacks[0].train(True)
    fused.training = True  # set by hand: the forward refuses
    with pytest.raises(RuntimeError, match='inference only'):
        fused(torch.rand(1, 3, 32, 32))
    fused.training = False
    fused.eval()  # eval is fine
    assert not any(p.requires_grad for p in fused.parameters())


def test_refresh_follows_new_weights_in_place():
    net = randomise_norms(StackedHourglass(**{
        k: v for k, v in TINY.items() if k != 'type'})).eval()
    fused = fuse_norm(net)
    ptrs = [p.data_ptr() for p in fused.parameters()]
    randomise_norms(net)
    refresh_fused_norm(fused, net)
    assert ptrs == [p.data_ptr() for p in fused.parameters()]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fused(x)[-1], net(x)[-1], atol=1e-5,
                                   rtol=1e-5)


def test_estimator_fuse_switch_predicts_the_same_and_tracks_weights():
    plain, fast = pair(fuse_norm_for_test=True)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(predict_heatmaps(fast, x),
                               predict_heatmaps(plain, x), atol=1e-5,
                               rtol=1e-5)
    assert set(fast.state_dict()) == set(plain.state_dict())
    # a training step changes weights and statistics: re-folded at predict
    for model in (plain, fast):
        model.train()
        torch.manual_seed(1)
        losses = model.loss(x, pose_samples(2, 32, FLIP, targets=True))
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.sub_(0.1 * p.grad)
    torch.testing.assert_close(predict_heatmaps(fast, x),
                               predict_heatmaps(plain, x), atol=1e-5,
                               rtol=1e-5)
    # and a new dtype rebuilds the folded copy
    plain.double(), fast.double()
    torch.testing.assert_close(predict_heatmaps(fast, x.double()),
                               predict_heatmaps(plain, x.double()),
                               atol=1e-9, rtol=1e-9)


def test_estimator_training_never_uses_the_folded_copy():
    _, fast = pair(fuse_norm_for_test=True)
    x = torch.rand(2, 3, 32, 32)
    predict_heatmaps(fast, x)  # builds the folded copy
    fast.train()
    losses = fast.loss(x, pose_samples(2, 32, FLIP, targets=True))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    grads = [p.grad for p in fast.backbone.parameters()]
    assert all(g is not None for g in grads)


# ------------------------------------------------------------ channels last
def test_channels_last_gives_the_same_numbers():
    plain, fast = pair(channels_last=True)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(predict_heatmaps(fast, x),
                               predict_heatmaps(plain, x), atol=1e-5,
                               rtol=1e-5)


# ------------------------------------------------------------ compile
def test_compile_options():
    assert compile_options(False) is None and compile_options(None) is None
    assert compile_options(True) == dict(regional=True)
    assert compile_options(dict(mode='max-autotune', regional=False)) == \
        dict(mode='max-autotune', regional=False)
    with pytest.raises(TypeError):
        compile_options('yes')


def _compile_or_skip(model, x) -> float:
    """Run the compiled model once; skip the test when compile fails or
    takes over 60 s here. Returns the seconds it took."""
    start = time.perf_counter()
    try:
        predict_heatmaps(model, x)
    except Exception as e:  # noqa: BLE001  (any inductor/toolchain failure)
        pytest.skip(f'torch.compile does not work here: '
                    f'{type(e).__name__}: {str(e)[:200]}')
    took = time.perf_counter() - start
    if took > 60:
        pytest.skip(f'torch.compile took {took:.0f} s (> 60 s) here')
    return took


@pytest.mark.slow    # torch.compile: tens of seconds
def test_compile_switch_gives_the_same_numbers():
    """The shipped inference combination (compile + folded norms +
    channels-last) against the plain path, and compiled training."""
    plain, fast = pair(torch_compile=True, fuse_norm_for_test=True,
                       channels_last=True)
    x = torch.rand(2, 3, 32, 32)
    _compile_or_skip(fast, x)
    torch.testing.assert_close(predict_heatmaps(fast, x),
                               predict_heatmaps(plain, x), atol=1e-5,
                               rtol=1e-5)
    # Training mode: batch-statistics norms amplify float rounding, so the
    # compiled step is compared with float64 alongside the plain float32
    # step: its error must be of the plain step's order.
    exact = estimator().double()
    exact.load_state_dict(plain.state_dict())
    targets = pose_samples(2, 32, FLIP, targets=True)
    loss, grad = {}, {}
    for name, model, inp in (('plain', plain, x), ('fast', fast, x),
                             ('exact', exact, x.double())):
        model.train()
        losses = model.loss(inp, targets)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        loss[name] = losses['loss_kpt_s1'].detach().double()
        grad[name] = model.backbone.stem.conv.weight.grad.double()
    torch.testing.assert_close(loss['fast'], loss['exact'], atol=0,
                               rtol=1e-4)
    err = {k: float((grad[k] - grad['exact']).abs().max())
           for k in ('plain', 'fast')}
    scale = float(grad['exact'].abs().max())
    assert err['fast'] <= 10 * err['plain'] + 1e-6 * scale, (err, scale)


@pytest.mark.parametrize('kind', ['foreach', 'fused'])
def test_optimizer_switches_update_like_the_loop(kind):
    """``optim_wrapper.optimizer.fused/foreach=True`` (the demo uses fused
    Adam): given the same gradients, three steps land on the same
    parameters as torch's per-parameter loop. (Gradients are shared so
    that training-mode batch norm cannot amplify rounding between steps.)"""
    torch.manual_seed(0)
    loop = MODELS.build(TINY)
    fast = MODELS.build(TINY)
    fast.load_state_dict(loop.state_dict())
    start = {k: v.detach().clone() for k, v in loop.named_parameters()}
    opt_loop = torch.optim.Adam(loop.parameters(), lr=2e-3, foreach=False)
    opt_fast = torch.optim.Adam(fast.parameters(), lr=2e-3, **{kind: True})
    for step in range(3):
        gen = torch.Generator().manual_seed(step)
        x = torch.rand(2, 3, 64, 64, generator=gen)
        loss = sum(o.square().mean() for o in loop(x))
        opt_loop.zero_grad()
        loss.backward()
        for a, b in zip(loop.parameters(), fast.parameters()):
            b.grad = a.grad.clone()
        opt_loop.step()
        opt_fast.step()
        for (name, a), b in zip(loop.named_parameters(), fast.parameters()):
            assert torch.allclose(a, b, rtol=1e-6, atol=1e-7), (step, name)
    # and the steps did move the weights (3 Adam steps: ~3 * lr each)
    assert max(float((a.detach() - start[k]).abs().max())
               for k, a in loop.named_parameters()) > 1e-3


# ------------------------------------------------------------ autocast
def test_autocast_setting_is_validated():
    assert check_autocast(None) is None and check_autocast(False) is None
    for ok in ('auto', 'bf16', 'bfloat16', 'fp16', 'float16'):
        assert check_autocast(ok) == ok
    with pytest.raises(ValueError, match="'half'"):
        check_autocast('half')
    with pytest.raises(ValueError, match='autocast must be'):
        estimator(autocast=True)


def test_cpu_flags_parsing(tmp_path):
    x86 = tmp_path / 'x86'
    x86.write_text('processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16'
                   '\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n')
    arm = tmp_path / 'arm'
    arm.write_text('processor\t: 0\nFeatures\t: fp asimd bf16\n')
    assert {'avx2', 'avx512_bf16', 'amx_bf16'} <= cpu_flags(str(x86))
    assert 'asimd' in cpu_flags(str(arm))
    assert cpu_flags(str(tmp_path / 'missing')) == frozenset()


@pytest.mark.parametrize('flags,expected', [
    ({'avx2', 'amx_bf16'}, torch.bfloat16),
    ({'avx2', 'avx512_bf16'}, torch.bfloat16),
    ({'avx2', 'avx512f'}, None),
])
def test_auto_picks_bf16_only_with_native_cpu_support(monkeypatch, flags,
                                                      expected):
    monkeypatch.setattr(autocast_utils, 'cpu_flags',
                        lambda *a: frozenset(flags))
    cpu = torch.device('cpu')
    assert autocast_dtype('auto', cpu) is expected
    # an explicit dtype is taken as asked, whatever the CPU
    assert autocast_dtype('bf16', cpu) is torch.bfloat16
    assert autocast_dtype('fp16', cpu) is torch.float16
    assert autocast_dtype(None, cpu) is None


def test_auto_without_native_bf16_is_the_float32_path(monkeypatch):
    monkeypatch.setattr(autocast_utils, 'cpu_flags',
                        lambda *a: frozenset({'avx2'}))
    plain, fast = pair(autocast='auto')
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(predict_heatmaps(fast, x), predict_heatmaps(plain, x))


def _conv_dtypes(model) -> set:
    """Record the output dtypes of the backbone's convolutions."""
    seen = set()
    for m in model.backbone.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, a, out: seen.add(out.dtype))
    return seen


def test_bf16_autocast_runs_the_backbone_in_bf16_and_stays_close():
    """The backbone's convolutions run in bfloat16; heatmaps leave the
    backbone as float32, the loss is float32, predictions stay close to
    float32's and a training step gives gradients to every parameter."""
    plain, fast = pair(autocast='bf16', channels_last=True)
    seen = _conv_dtypes(fast)
    x = torch.rand(2, 3, 32, 32)
    ref = predict_heatmaps(plain, x)
    got = predict_heatmaps(fast, x)
    assert seen == {torch.bfloat16}
    assert got.dtype == torch.float32
    # bfloat16 keeps 8 bits of mantissa: ~1e-2 of the heatmaps' range
    scale = float(ref.abs().max())
    err = float((got - ref).abs().max())
    assert 0 < err <= 0.05 * scale, (err, scale)
    fast.train()
    feats = fast.extract_feat(x)
    assert all(f.dtype == torch.float32 for f in feats)
    losses = fast.loss(x, pose_samples(2, 32, FLIP, targets=True))
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert total.dtype == torch.float32 and torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in fast.backbone.parameters())
