"""Building blocks of the Stacked Hourglass network (Newell et al., 2016).

Two blocks make the whole network: the pre-activation bottleneck residual
(:class:`PreActResidual`) and the recursive hourglass (:class:`Hourglass`)
built from it. Both follow the Lua original (``pose-hg-train``,
``layers/Residual.lua`` and ``models/hg.lua``) to the parameter: every
convolution carries a bias, the skip branch is the identity when the channel
counts match and a bias-carrying 1x1 convolution otherwise (no norm on the
skip), and nothing follows the final sum.
"""
from typing import ClassVar, Optional, Tuple

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmhg_plugin.utils.typing import NormCfg


def _norm(norm_cfg: NormCfg, channels: int) -> nn.Module:
    """Build one normalisation layer from ``norm_cfg``."""
    return build_norm_layer(dict(norm_cfg), channels)[1]


class PreActResidual(nn.Module):
    """Pre-activation bottleneck residual (the paper's "Residual" module).

    ``x -> norm-ReLU-conv1x1(C/2) -> norm-ReLU-conv3x3(C/2) -> norm-ReLU-
    conv1x1(C)`` plus the skip branch, where ``C = out_channels``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels; the bottleneck has half of them.
        norm_cfg (dict): Config of the normalisation layers. Defaults to
            ``dict(type='BN')``.

    Note:
        Shapes: input (B, in_channels, H, W), output (B, out_channels, H, W).
    """

    #: (convolution, norm) attributes where the norm acts directly on the
    #: convolution's output, so inference can fold it into the convolution
    #: (:mod:`mmhg_plugin.models.utils.fuse_norm`). ``norm1`` acts on the
    #: block input, which also feeds the skip branch: it cannot fold.
    foldable_pairs: ClassVar[Tuple[Tuple[str, str], ...]] = (
        ('conv1', 'norm2'), ('conv2', 'norm3'))

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: Optional[NormCfg] = None) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f'PreActResidual: out_channels must be even, '
                             f'got {out_channels}')
        norm_cfg = norm_cfg or dict(type='BN')
        mid = out_channels // 2
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.norm1 = _norm(norm_cfg, in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, 1)
        self.norm2 = _norm(norm_cfg, mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.norm3 = _norm(norm_cfg, mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1)
        self.skip = (None if in_channels == out_channels else nn.Conv2d(
            in_channels, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the residual. Shape (B, C_in, H, W) -> (B, C_out, H, W)."""
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        out = self.conv3(F.relu(self.norm3(out)))
        return out + (x if self.skip is None else self.skip(x))


class Hourglass(nn.Module):
    """One recursive hourglass of ``depth`` levels at constant width.

    At every level: ``up = Res(x)``; ``low = Res(maxpool2(x))``, then the
    next level (or one more residual at the bottom), then ``Res``; the
    output is ``up + nearest_upsample2(low)``. Depth 4 takes a 64x64 map down
    to 4x4 and uses ``3 * depth + 1`` residuals (13 for depth 4).

    Args:
        depth (int): Number of down-sampling levels (>= 1).
        channels (int): Width of every residual.
        norm_cfg (dict): Config of the normalisation layers.

    Note:
        Shapes: input and output (B, channels, H, W); H and W must be
        divisible by ``2 ** depth``.
    """

    def __init__(self,
                 depth: int,
                 channels: int,
                 norm_cfg: Optional[NormCfg] = None) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f'Hourglass: depth must be >= 1, got {depth}')
        self.depth = depth
        self.up = PreActResidual(channels, channels, norm_cfg)
        self.down = PreActResidual(channels, channels, norm_cfg)
        self.inner: nn.Module = (
            Hourglass(depth - 1, channels, norm_cfg)
            if depth > 1 else PreActResidual(channels, channels, norm_cfg))
        self.after = PreActResidual(channels, channels, norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Run the hourglass. Shape (B, C, H, W) -> (B, C, H, W)."""
        low = self.down(F.max_pool2d(x, 2))
        low = self.after(self.inner(low))
        up = F.interpolate(low, scale_factor=2, mode='nearest')
        return self.up(x) + up

