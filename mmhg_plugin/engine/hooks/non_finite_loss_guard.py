"""Stop training at the first NaN or infinite loss."""
from typing import Any, Dict, Optional

import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossGuard(Hook):
    """Raise :class:`NonFiniteLossError` when a loss is NaN or infinite.

    Checks every entry of the train step's outputs whose name starts with
    ``loss`` (``loss``, ``loss_kpt_s0`` ...) after each training iteration.
    Its priority (``ABOVE_NORMAL``) runs it before the logger and the
    checkpoint hook, so the run stops before any checkpoint stores the
    weights that the non-finite gradients have just corrupted: the last
    checkpoint on disk stays the last good one, and ``--resume`` continues
    from it. The message names the iteration and the epoch as the log
    counts them (from 1).

    Args:
        prefix (str): Output names to check. Defaults to ``'loss'``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, prefix: str = 'loss') -> None:
        self.prefix = prefix

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[Dict[str, Any]] = None) -> None:
        """Check this iteration's losses."""
        bad = {}
        for name, value in (outputs or {}).items():
            if not name.startswith(self.prefix):
                continue
            value = torch.as_tensor(value).detach().float()
            if not bool(torch.isfinite(value).all()):
                bad[name] = value.flatten()[0].item() if value.numel() == 1 \
                    else value.tolist()
        if not bad:
            return
        losses = ', '.join(f'{k}={v}' for k, v in bad.items())
        last = runner.message_hub.get_info('last_ckpt')
        where = (f'epoch {runner.epoch + 1}, batch {batch_idx + 1}/'
                 f'{len(runner.train_dataloader)}'
                 if getattr(runner.train_loop, 'max_epochs', None) else
                 f'{runner.max_iters} iterations in all')
        raise NonFiniteLossError(
            f'non-finite training loss at iteration {runner.iter + 1} '
            f'({where}): {losses}. Training stopped before any checkpoint '
            'stored these weights; the last checkpoint is '
            f'{last or "none yet"}. Lower the learning rate, try fp32 '
            'instead of AMP, or check the data, then --resume.')

