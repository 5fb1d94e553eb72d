"""Per-stack heatmap MSE loss with target weights (intermediate supervision)."""
from typing import Optional, Sequence

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class StackedHeatmapMSELoss(nn.Module):
    """Mean squared error of every stack's heatmaps against one target.

    For stack ``s``: ``loss_s = stack_weights[s] * loss_weight *
    mean_{b,k,h,w}(w_bk * (pred_s - target)^2)`` where ``w_bk`` is the
    joint's target weight (0 for invisible joints). The mean runs over all
    ``B * K * H * W`` elements, masked ones included, as MMPose's
    ``KeypointMSELoss``; for 0/1 weights the two agree. The total is the
    unweighted sum over stacks (the Lua original's sum of per-stack
    ``MSECriterion``s, there without a mask) unless ``stack_weights`` say
    otherwise. Computed in float32 even under autocast.

    Args:
        use_target_weight (bool): Multiply by the target weights; when
            False every joint counts (the Lua original). Defaults to True.
        stack_weights (Sequence[float] | None): One weight per stack, or
            None for all ones.
        loss_weight (float): Global factor. Defaults to 1.0.
    """

    def __init__(self,
                 use_target_weight: bool = True,
                 stack_weights: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
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
                when ``use_target_weight``.

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
        device_type = target.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            target = target.float()
            mask = None
            if self.use_target_weight:
                mask = target_weights.float().reshape(
                    *target.shape[:2], 1, 1)
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
