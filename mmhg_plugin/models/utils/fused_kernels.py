"""Inference forward of a norm-folded Stacked Hourglass with fused kernels.

Once the norms after the convolutions are folded
(:mod:`mmhg_plugin.models.utils.fuse_norm`), most element-wise passes left
in the network sit right after a convolution: the ReLU after ``conv1``,
``conv2`` and the stem/stack convolutions, and the residual sum after
``conv3`` and after the remap convolutions between stacks. On a CPU with
oneDNN these run inside the convolution (oneDNN post-ops, the kernels
``torch.compile`` emits on CPU, called eagerly here), so the activation is
written once instead of being re-read and re-written by a separate ReLU or
add. The hourglass's ``up(x) + upsample(low)`` becomes one broadcast add
(no upsampled tensor) fed to ``up``'s ``conv3`` as its residual.

Same operations, same order of summation up to float rounding: outputs
agree with the module's own forward to about 1e-6 relative (tested). Used
by :class:`~mmhg_plugin.models.pose_estimators.StackedHourglassEstimator`
for ``fuse_norm_for_test`` where :func:`can_run_fused` allows it (float32
on a CPU with oneDNN, not traced, compiled or under autocast); everything
else runs the module's forward.
"""
import copy
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmhg_plugin.models.backbones.hourglass_blocks import Hourglass, PreActResidual


def _onednn_ops() -> Optional[object]:
    """torch's oneDNN fused-convolution op namespace, or None."""
    if not torch.backends.mkldnn.is_available():
        return None
    ops = torch.ops.mkldnn
    return ops if hasattr(ops, '_convolution_pointwise') else None


_OPS = _onednn_ops()


def _onednn_bf16_supported() -> bool:
    """Whether oneDNN convolves bfloat16 on this CPU (AVX512-BW/VL/DQ or
    AVX-NE-CONVERT); elsewhere its bfloat16 convolutions raise."""
    check = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
    return _OPS is not None and check is not None and bool(check())


_BF16_OK = _onednn_bf16_supported()


def _is_folded(backbone: nn.Module) -> bool:
    """Whether every norm that sits right after a convolution is folded
    (the fused forward has no place for it)."""
    for mod in backbone.modules():
        for _, norm_attr in getattr(mod, 'foldable_pairs', ()):
            if not isinstance(getattr(mod, norm_attr, None), nn.Identity):
                return False
    return True


def can_run_fused(backbone: nn.Module, x: Tensor,
                  dtype: Optional[torch.dtype] = None) -> bool:
    """Whether :func:`fused_forward` may run ``backbone`` on ``x``, in
    float32 (``dtype`` None) or in bfloat16 (``dtype`` bfloat16: what
    ``model.autocast`` asked for; the convolutions of
    :func:`cast_convolutions`).

    Needs: oneDNN's fused convolutions (in bfloat16: a CPU on which
    oneDNN convolves bfloat16), a float32 CPU input, no autograd,
    no autocast region, no tracing/scripting/compiling (the ops have no
    export or compile rules of their own), a ``StackedHourglass`` with
    every foldable norm folded.
    """
    return (_OPS is not None and x.device.type == 'cpu'
            and (dtype is None or (dtype == torch.bfloat16 and _BF16_OK))
            and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing() and not torch.jit.is_scripting()
            and not torch.compiler.is_compiling()
            and hasattr(backbone, 'stem') and hasattr(backbone, 'stacks')
            and getattr(backbone, '_mmhg_fused_norm', False)
            and _is_folded(backbone))


def cast_convolutions(fused: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A copy of the folded ``fused`` with every convolution's weight and
    bias in ``dtype`` (the norms that stay keep float32, as under
    autocast), for :func:`fused_forward` on ``dtype`` inputs."""
    out = copy.deepcopy(fused)
    for m in out.modules():
        if isinstance(m, nn.Conv2d):
            m.to(dtype)
    return out


def _conv(x: Tensor, conv: nn.Conv2d, relu: bool = False) -> Tensor:
    """``conv(x)``, optionally followed by ReLU inside the kernel."""
    return _OPS._convolution_pointwise(
        x, conv.weight, conv.bias, list(conv.padding), list(conv.stride),
        list(conv.dilation), conv.groups, 'relu' if relu else 'none',
        [None] if relu else [], '')


def _conv_add(x: Tensor, other: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(x) + other`` with the sum inside the kernel (``other`` in
    ``x``'s memory format: oneDNN's fast path needs them to match)."""
    fmt = (torch.channels_last if x.is_contiguous(
        memory_format=torch.channels_last) else torch.contiguous_format)
    other = other.contiguous(memory_format=fmt)
    return _OPS._convolution_pointwise(
        x, other, conv.weight, conv.bias, list(conv.padding),
        list(conv.stride), list(conv.dilation), conv.groups, 'add', 1.0,
        None, [], None)


def _residual(m: PreActResidual, x: Tensor,
              low: Optional[Tensor] = None) -> Tensor:
    """A folded residual; ``low`` (half the output's height and width),
    upsampled by 2 (nearest), is added to the skip branch."""
    a = F.relu_(m.norm1(x))
    h = _conv(_conv(a, m.conv1, relu=True), m.conv2, relu=True)
    skip = x if m.skip is None else _conv(x, m.skip)
    if low is not None:
        skip = _plus_upsampled(skip, low)
    return _conv_add(h, skip, m.conv3)


def _plus_upsampled(x: Tensor, low: Tensor) -> Tensor:
    """``x + nearest_upsample2(low)`` in one pass, in ``x``'s memory
    format. Shapes (B, C, 2h, 2w) and (B, C, h, w)."""
    b, c, h, w = low.shape
    out = torch.empty_like(x)  # keeps x's memory format
    torch.add(x.view(b, c, h, 2, w, 2), low.view(b, c, h, 1, w, 1),
              out=out.view(b, c, h, 2, w, 2))
    return out


def _hourglass(m: Hourglass, x: Tensor) -> Tensor:
    low = _residual(m.down, F.max_pool2d(x, 2))
    inner = (_hourglass(m.inner, low) if isinstance(m.inner, Hourglass)
             else _residual(m.inner, low))
    low = _residual(m.after, inner)
    # up(x) + upsample(low): the upsampled map joins up's skip sum
    return _residual(m.up, x, low)


def fused_forward(backbone: nn.Module, x: Tensor) -> Tuple[Tensor, ...]:
    """Run a norm-folded ``StackedHourglass`` with fused kernels.

    Args:
        backbone (nn.Module): The copy made by
            :func:`~mmhg_plugin.models.utils.fuse_norm.fuse_norm`.
        x (Tensor): Images (B, C, H, W) on the CPU, float32 (or the
            dtype of :func:`cast_convolutions`' copy); check with
            :func:`can_run_fused` first.

    Returns:
        tuple[Tensor]: What ``backbone(x)`` returns (one tensor per stack
        in ``out_indices``).
    """
    backbone._check_input(x)
    stem = backbone.stem
    y = _residual(stem.res1, _conv(x, stem.conv, relu=True))
    y = _residual(stem.res3, _residual(stem.res2, F.max_pool2d(y, 2)))
    outs: List[Tensor] = []
    last = backbone.num_stacks - 1
    for i, stack in enumerate(backbone.stacks):
        feat = _residual(stack.residual, _hourglass(stack.hourglass, y))
        feat = _conv(feat, stack.conv, relu=True)
        heatmaps = (None if stack.heatmap_conv is None else
                    _conv(feat, stack.heatmap_conv))
        if i in backbone.out_indices:
            outs.append(feat if heatmaps is None else heatmaps)
        if i < last:
            y = _conv_add(feat, y, backbone.merge_features[i])
            if heatmaps is not None:
                y = _conv_add(heatmaps, y, backbone.merge_heatmaps[i])
    return tuple(outs)
