"""Activation checkpointing that leaves norm running statistics untouched.

``torch.utils.checkpoint`` recomputes the forward pass during backward. In
training mode a BatchNorm layer updates its running mean and variance on
*every* forward, so a plain checkpoint updates them twice per step and a
model trained with checkpointing drifts from one trained without. Here the
recomputation runs under a context that snapshots the norm buffers and
restores them afterwards, so ``with_cp=True`` gives the same outputs,
gradients *and* running statistics as ``with_cp=False``.
"""
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator, List

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def norm_buffers(module: nn.Module) -> List[Tensor]:
    """Running-statistics buffers of every norm layer inside ``module``.

    A norm layer here is one with the ``track_running_stats`` attribute of
    torch's batch and instance norms; with it False it has no such buffers.
    """
    return [
        buf for m in module.modules()
        if hasattr(m, 'track_running_stats')
        for buf in m.buffers()
    ]


@contextmanager
def preserved_buffers(buffers: List[Tensor]) -> Iterator[None]:
    """Restore ``buffers`` to their values on entry when the block exits."""
    with torch.no_grad():
        saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, s in zip(buffers, saved):
                b.copy_(s)


def checkpoint_module_call(module: nn.Module, fn: Callable[..., Tensor],
                           *args: Tensor) -> Tensor:
    """Run ``fn(*args)`` under non-reentrant activation checkpointing.

    Args:
        module (nn.Module): The module whose norm statistics ``fn`` updates;
            they are restored after the backward-time recomputation.
        fn (Callable): The function to checkpoint.
        *args (Tensor): Its inputs.

    Returns:
        Tensor: ``fn(*args)``.
    """
    buffers = norm_buffers(module)

    def contexts():
        return nullcontext(), preserved_buffers(buffers)

    return checkpoint(fn, *args, use_reentrant=False, context_fn=contexts)
