"""Inference-time folding of batch norms into the convolutions before them.

In eval mode a batch norm is the per-channel affine map
``y = (x - mean) * gamma / sqrt(var + eps) + beta``. Where it acts directly
on a convolution's output it folds into that convolution:
``W' = W * s`` and ``b' = (b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``, and the norm becomes the identity.

A block declares which of its norms follow a convolution directly in its
class attribute ``foldable_pairs``: (convolution attribute, norm attribute)
pairs. In the Stacked Hourglass the residuals are pre-activation, so
:class:`~mmhg_plugin.models.backbones.hourglass_blocks.PreActResidual`
declares two of its three norms; the stem and every stack declare the norm
after their convolution.

The result is a new, eval-only module (:func:`fuse_norm`);
:func:`refresh_fused_norm` re-folds updated weights into it in place (same
tensors, so a compiled copy needs no recompilation).
"""
import copy
import types
from typing import Dict, Iterator, List, Tuple, Union

import torch
from torch import Tensor, nn

#: Norms that fold: batch norms over the (B, C, H, W) output of a Conv2d.
FOLDABLE_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm)
FoldableNorm = Union[nn.BatchNorm2d, nn.SyncBatchNorm]


def _foldable(module: nn.Module) -> Iterator[Tuple[str, str, str]]:
    """(module name, conv name, norm name) of each fold in ``module``'s tree.

    Every submodule's ``foldable_pairs`` are candidates. Norms that are not
    batch norms with running statistics (e.g. GroupNorm, or BN with
    ``track_running_stats=False``) are not foldable: skipped.
    """
    for name, mod in module.named_modules():
        for conv_attr, norm_attr in getattr(mod, 'foldable_pairs', ()):
            conv = getattr(mod, conv_attr, None)
            norm = getattr(mod, norm_attr, None)
            if (isinstance(conv, nn.Conv2d)
                    and isinstance(norm, FOLDABLE_NORMS)
                    and norm.running_mean is not None):
                yield name, conv_attr, norm_attr


def _join(*parts: str) -> str:
    return '.'.join(p for p in parts if p)


def folded_conv_params(conv: nn.Conv2d,
                       norm: FoldableNorm) -> Tuple[Tensor, Tensor]:
    """Weight and bias of ``norm(conv(x))`` as one convolution.

    Computed in float64 and returned in the convolution's dtype, device and
    memory format.

    Args:
        conv (nn.Conv2d): The convolution (with or without bias).
        norm (nn.BatchNorm2d | nn.SyncBatchNorm): The eval-mode norm after
            it.

    Returns:
        tuple[Tensor, Tensor]: The folded weight and bias.
    """
    with torch.no_grad():
        var = norm.running_var.double()
        scale = torch.rsqrt(var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.double()
        bias = -norm.running_mean.double()
        if conv.bias is not None:
            bias = bias + conv.bias.double()
        bias = bias * scale
        if norm.bias is not None:
            bias = bias + norm.bias.double()
        w = conv.weight
        weight = (w.double() * scale.view(-1, 1, 1, 1)).to(w.dtype)
        if w.is_contiguous(memory_format=torch.channels_last):
            weight = weight.contiguous(memory_format=torch.channels_last)
        return weight, bias.to(w.dtype)


def folded_state_dict(module: nn.Module) -> Dict[str, Tensor]:
    """State dict of ``module`` with its foldable norms folded.

    The folded norms' entries are dropped, the convolutions before them
    carry the folded weight and bias (a bias is added where there was none).
    """
    state = dict(module.state_dict())
    for name, conv_attr, norm_attr in _foldable(module):
        mod = module.get_submodule(name)
        weight, bias = folded_conv_params(
            getattr(mod, conv_attr), getattr(mod, norm_attr))
        state[_join(name, conv_attr, 'weight')] = weight
        state[_join(name, conv_attr, 'bias')] = bias
        prefix = _join(name, norm_attr) + '.'
        for key in [k for k in state if k.startswith(prefix)]:
            del state[key]
    return state


def _refuse_train(self: nn.Module, mode: bool = True) -> nn.Module:
    """``train`` of a fused module: eval mode only."""
    if mode:
        raise RuntimeError(
            f'{type(self).__name__} has its batch norms folded into its '
            'convolutions (mmhg_plugin.models.utils.fuse_norm): it is for '
            'inference only; train the original module instead')
    return nn.Module.train(self, False)


def _refuse_training_forward(module: nn.Module, args: tuple) -> None:
    """Forward pre-hook of a fused module: refuse training mode."""
    if module.training:
        _refuse_train(module, True)


def fuse_norm(module: nn.Module) -> nn.Module:
    """Return an eval-only copy of ``module`` with its norms folded.

    Folds every batch norm a block declares in its ``foldable_pairs`` into
    the convolution before it; every folded norm becomes ``nn.Identity``.
    The copy gives ``module.eval()``'s outputs up to float rounding (about
    1e-6 relative). ``module`` itself is not changed.

    The copy refuses training: its ``train()`` raises, and so does a forward
    call if its ``training`` flag is set by hand. Its parameters do not
    require gradients. A module compiled in place (``nn.Module.compile``)
    is copied uncompiled.

    Args:
        module (nn.Module): A network built from mmhg's blocks, e.g.
            ``StackedHourglass``, or any module containing them.

    Returns:
        nn.Module: The folded copy, in eval mode, on the same device and in
        the same dtype and memory format as ``module``.
    """
    folds: List[Tuple[str, str, str]] = list(_foldable(module))
    state = folded_state_dict(module)
    fused = copy.deepcopy(module)
    for mod in fused.modules():
        if getattr(mod, '_compiled_call_impl', None) is not None:
            mod._compiled_call_impl = None  # would call the original
    for name, conv_attr, norm_attr in folds:
        mod = fused.get_submodule(name)
        setattr(mod, norm_attr, nn.Identity())
        conv = getattr(mod, conv_attr)
        if conv.bias is None:
            conv.bias = nn.Parameter(torch.zeros_like(state[_join(
                name, conv_attr, 'bias')]))
    fused.load_state_dict(state)
    fused.requires_grad_(False)
    nn.Module.train(fused, False)
    for mod in fused.modules():
        mod.train = types.MethodType(_refuse_train, mod)
    fused.register_forward_pre_hook(_refuse_training_forward)
    fused._mmhg_fused_norm = True
    return fused


def refresh_fused_norm(fused: nn.Module, module: nn.Module) -> None:
    """Re-fold ``module``'s current weights and statistics into ``fused``.

    Copies in place into ``fused``'s existing tensors (so a compiled
    ``fused`` keeps its compiled code). ``fused`` must come from
    ``fuse_norm(module)``.
    """
    if not getattr(fused, '_mmhg_fused_norm', False):
        raise ValueError('refresh_fused_norm needs a module made by '
                         'fuse_norm')
    fused.load_state_dict(folded_state_dict(module))


def is_fused(module: nn.Module) -> bool:
    """Whether ``module`` was made by :func:`fuse_norm`."""
    return bool(getattr(module, '_mmhg_fused_norm', False))
