"""Per-stack heatmap MSE loss with target weights (intermediate supervision)."""
from typing import Optional, Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class StackedHeatmapMSELoss(nn.Module):
    """Mean squared error of every stack's heatmaps against one target.

    For stack ``s``: ``loss_s = stack_weights[s] * loss_weight *
    mean_{b,k,h,w}(w_bk * f * (pred_s - target)^2)`` where ``w_bk`` is
    the joint's target weight (0 for a joint that is not annotated or whose
    centre left the crop) and ``f = 1 + foreground_weight * target`` (1 by
    default). The mean runs over all ``B * K * H * W`` elements, masked ones
    included, as MMPose's ``KeypointMSELoss``; for 0/1 weights the two
    agree. The total is the unweighted sum over stacks (the
    Lua original's ``nn.ParallelCriterion`` of one ``nn.MSECriterion`` per
    stack) unless ``stack_weights`` say otherwise. Computed in float32 even
    under autocast.

    ``mask_invisible=False`` is the Lua original's loss: a joint of weight 0
    is not masked but trained toward an all-zero heatmap (its target is set
    to zero here, whatever the codec drew), with factor 1; the other joints
    keep ``w_bk``. For 0/1 weights every stack's loss is then ``mean_{b,k,
    h,w}((pred_s - target')^2)``, ``nn.MSECriterion`` with its default
    ``sizeAverage = true``.

    Args:
        use_target_weight (bool): Multiply by the target weights; when
            False every joint counts with the target as given. Defaults to
            True.
        mask_invisible (bool): Mask the joints of weight 0 (True, default)
            or train them toward zero heatmaps (False, the Lua original;
            needs ``target_weights``).
        stack_weights (Sequence[float] | None): One weight per stack, or
            None for all ones.
        loss_weight (float): Global factor. Defaults to 1.0.
        foreground_weight (float): ``a >= 0``: every pixel's squared error
            is multiplied by ``1 + a * target``, so the pixels under a
            joint's Gaussian count up to ``1 + a`` times the background's.
            A Gaussian of sigma 2 covers about 3% of a 32x32 heatmap, and
            with ``a = 0`` (the paper's loss, default) the background
            dominates the gradient early in training; the demo configs
            use it to reach their accuracy in fewer epochs
            (docs/results.md).
    """

    def __init__(self,
                 use_target_weight: bool = True,
                 stack_weights: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 mask_invisible: bool = True,
                 foreground_weight: float = 0.) -> None:
        super().__init__()
        if not foreground_weight >= 0:
            raise ValueError('StackedHeatmapMSELoss: foreground_weight must '
                             f'be >= 0, got {foreground_weight}')
        self.foreground_weight = float(foreground_weight)
        self.use_target_weight = use_target_weight
        self.mask_invisible = bool(mask_invisible)
        self.stack_weights = None if stack_weights is None else tuple(
            float(w) for w in stack_weights)
        self.loss_weight = float(loss_weight)

    def forward(self,
                outputs: Sequence[Tensor],
                target: Tensor,
                target_weights: Optional[Tensor] = None) -> Tensor:
        """Compute every stack's loss.

        Args:
            outputs (Sequence[Tensor]): N per-stack heatmaps, each
                (B, K, H, W).
            target (Tensor): Target heatmaps (B, K, H, W).
            target_weights (Tensor | None): Joint weights (B, K); required
                when ``use_target_weight`` or not ``mask_invisible``.

        Returns:
            Tensor: Per-stack losses, shape (N,), float32.
        """
        if self.stack_weights is not None and len(
                self.stack_weights) != len(outputs):
            raise ValueError(
                f'stack_weights has {len(self.stack_weights)} entries but '
                f'the network returned {len(outputs)} stacks')
        if self.use_target_weight and target_weights is None:
            raise ValueError('use_target_weight=True needs target_weights')
        if not self.mask_invisible and target_weights is None:
            raise ValueError('mask_invisible=False needs target_weights (to '
                             'zero the targets of weight-0 joints)')
        device_type = target.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            target = target.float()
            mask = None
            if self.use_target_weight:
                mask = target_weights.float().reshape(
                    *target.shape[:2], 1, 1)
            if not self.mask_invisible:
                mask, target = _unmask_invisible(mask, target,
                                                 target_weights)
            if self.foreground_weight:
                # one per-pixel factor for all stacks, the joint weights in it
                pixel = 1 + self.foreground_weight * target
                mask = pixel if mask is None else pixel * mask
            losses = []
            for s, pred in enumerate(outputs):
                if pred.shape != target.shape:
                    raise ValueError(
                        f'stack {s}: heatmaps {tuple(pred.shape)} do not '
                        f'match the target {tuple(target.shape)}')
                sq = (pred.float() - target)**2
                if mask is not None:
                    sq = sq * mask
                losses.append(sq.mean())
            losses = torch.stack(losses) * self.loss_weight
            if self.stack_weights is not None:
                losses = losses * losses.new_tensor(self.stack_weights)
        return losses


def _unmask_invisible(mask: Optional[Tensor], target: Tensor,
                      target_weights: Tensor) -> Tuple[Optional[Tensor],
                                                       Tensor]:
    """The Lua original's treatment of weight-0 joints: factor 1, target 0.

    Args:
        mask (Tensor | None): Per-joint factors (B, K, 1, 1), or None for
            all ones.
        target (Tensor): Target heatmaps (B, K, H, W), float32.
        target_weights (Tensor): Joint weights (B, K).

    Returns:
        tuple: the new factors (B, K, 1, 1) or None, and the target with
        the heatmaps of weight-0 joints zeroed.
    """
    invisible = (target_weights.reshape(*target.shape[:2], 1, 1) == 0)
    target = target.masked_fill(invisible, 0.)
    if mask is not None:
        mask = mask.masked_fill(invisible, 1.)
    return mask, target
