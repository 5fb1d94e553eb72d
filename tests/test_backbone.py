"""StackedHourglass: shapes, exact size, gradients, checkpointing, freezing."""
import copy

import pytest
import torch
from torch import nn

from mmhg_plugin.models import StackedHourglass, StackedHourglassHead
from mmhg_plugin.models.backbones import Hourglass, PreActResidual

# The original network (Lua pose-hg-train / pytorch_stacked_hourglass), 16 joints,
# 256 features, depth 4, counted layer by layer in ../shared/notes/reference_facts.md.
ORIGINAL_PARAMS = {1: 3_426_448, 2: 6_570_400, 4: 12_858_304, 8: 25_434_112}


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize('stacks', [1, 2, 4, 8])
def test_parameter_count_equals_original(stacks):
    backbone = StackedHourglass(num_stacks=stacks)
    head = StackedHourglassHead(num_stacks=stacks, in_channels=16,
                                out_channels=16)
    assert n_params(backbone) + n_params(head) == ORIGINAL_PARAMS[stacks]


def test_block_parameter_counts():
    # Residual(256, 256): 3 norms + 3 convs, identity skip.
    assert n_params(PreActResidual(256, 256)) == 214_528
    # 13 residuals per depth-4 hourglass.
    assert n_params(Hourglass(4, 256)) == 13 * 214_528
    assert n_params(StackedHourglass(num_stacks=1).stem) == 352_640
    # a channel change adds a biased 1x1 skip conv (no norm on the skip)
    assert n_params(PreActResidual(64, 128)) == 58_112
    assert n_params(PreActResidual(128, 256)) == 230_912

@pytest.mark.parametrize('stacks', [1, 2, 8])
def test_output_shapes(stacks):
    net = StackedHourglass(num_stacks=stacks, feat_channels=32).eval()
    with torch.no_grad():
        outs = net(torch.rand(2, 3, 128, 64))
    assert len(outs) == stacks
    assert all(o.shape == (2, 16, 32, 16) for o in outs)
    assert net.out_channels == 16 and net.out_stride == 4


def test_feature_mode_and_out_indices():
    net = StackedHourglass(num_stacks=3, feat_channels=32, num_keypoints=None,
                           out_indices=(0, 2)).eval()
    with torch.no_grad():
        outs = net(torch.rand(1, 3, 64, 64))
    assert [o.shape for o in outs] == [(1, 32, 16, 16)] * 2
    assert net.out_channels == 32
    assert net.merge_heatmaps is None


def test_full_size_input_gives_64px_maps():
    net = StackedHourglass(num_stacks=1).eval()
    with torch.no_grad():
        (out, ) = net(torch.rand(1, 3, 256, 256))
    assert out.shape == (1, 16, 64, 64)


@pytest.mark.parametrize('size', [(100, 128), (128, 96), (32, 32)])
def test_bad_input_size_is_a_clear_error(size):
    net = StackedHourglass(num_stacks=1, feat_channels=16)
    with pytest.raises(ValueError, match='divisible by 4 \\* 2\\*\\*depth = 64'):
        net(torch.rand(1, 3, *size))


def test_bad_arguments():
    with pytest.raises(ValueError, match='out_indices'):
        StackedHourglass(num_stacks=2, out_indices=(0, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        StackedHourglass(num_stacks=2, frozen_stages=3)


def test_every_parameter_gets_a_gradient():
    net = StackedHourglass(num_stacks=2, feat_channels=32)
    outs = net(torch.rand(2, 3, 64, 64))
    sum(o.square().mean() for o in outs).backward()
    missing = [n for n, p in net.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_stacks_do_not_share_weights():
    net = StackedHourglass(num_stacks=2, feat_channels=32)
    ptrs = [p.data_ptr() for p in net.parameters()]
    assert len(ptrs) == len(set(ptrs))
    a, b = net.stacks
    assert a.hourglass.up.conv1.weight is not b.hourglass.up.conv1.weight


def test_with_cp_matches_plain_outputs_grads_and_stats():
    torch.manual_seed(1)
    plain = StackedHourglass(num_stacks=2, feat_channels=32)
    ckpt = copy.deepcopy(plain)
    ckpt.with_cp = True
    x = torch.rand(2, 3, 64, 64)
    outs = []
    for net in (plain, ckpt):
        net.train()
        y = net(x)
        sum((o * torch.linspace(0, 1, o.numel()).view_as(o)).sum()
            for o in y).backward()
        outs.append(y)
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6,
                                   msg=n)
    for (n, b1), b2 in zip(plain.named_buffers(), ckpt.buffers()):
        torch.testing.assert_close(b1, b2, rtol=0, atol=0, msg=n)


def test_frozen_stages_and_norm_eval():
    net = StackedHourglass(num_stacks=2, feat_channels=32, frozen_stages=1)
    net.train()
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert not any(p.requires_grad for p in net.stacks[0].parameters())
    assert not any(p.requires_grad for p in net.merge_features[0].parameters())
    assert all(p.requires_grad for p in net.stacks[1].parameters())
    assert not net.stem.training and not net.stacks[0].training
    assert net.stacks[1].training
    before = net.stem.norm.running_mean.clone()
    net(torch.rand(2, 3, 64, 64))
    torch.testing.assert_close(net.stem.norm.running_mean, before)

    net = StackedHourglass(num_stacks=1, feat_channels=32, norm_eval=True)
    net.train()
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(not m.training for m in norms)
    before = [m.running_mean.clone() for m in norms]
    net(torch.rand(2, 3, 64, 64))
    for m, b in zip(norms, before):
        torch.testing.assert_close(m.running_mean, b)
    assert net.stacks[0].conv.training  # only norms are held in eval


def test_norm_cfg_reaches_every_level():
    net = StackedHourglass(num_stacks=1, feat_channels=32,
                           norm_cfg=dict(type='GN', num_groups=4))
    kinds = {type(m) for m in net.modules()
             if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))}
    assert kinds == {nn.GroupNorm}
