"""The Stacked Hourglass backbone of Newell, Yang and Deng (ECCV 2016)."""
from functools import partial
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from mmhg_plugin.models.utils.checkpointing import checkpoint_module_call
from mmhg_plugin.models.utils.norm_init import NORM_INITS, init_norms
from mmhg_plugin.utils.typing import NormCfg

from .hourglass_blocks import Hourglass, PreActResidual, _norm


class HourglassStem(nn.Module):
    """Stem: conv7x7/2 (3->C0) + norm + ReLU, Res(C0,C1), max-pool 2,
    Res(C1,C1), Res(C1,F); the original has (C0, C1) = (64, 128).
    Shape (B, 3, H, W) -> (B, F, H/4, W/4)."""

    #: The norm after ``conv`` folds into it (see ``PreActResidual``).
    foldable_pairs = (('conv', 'norm'), )

    def __init__(self, in_channels: int, feat_channels: int,
                 norm_cfg: NormCfg,
                 stem_channels: Sequence[int] = (64, 128)) -> None:
        super().__init__()
        c0, c1 = stem_channels
        self.conv = nn.Conv2d(in_channels, c0, 7, stride=2, padding=3)
        self.norm = _norm(norm_cfg, c0)
        self.res1 = PreActResidual(c0, c1, norm_cfg)
        self.res2 = PreActResidual(c1, c1, norm_cfg)
        self.res3 = PreActResidual(c1, feat_channels, norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Shape (B, 3, H, W) -> (B, F, H/4, W/4)."""
        x = self.res1(F.relu(self.norm(self.conv(x))))
        return self.res3(self.res2(F.max_pool2d(x, 2)))


class HourglassStack(nn.Module):
    """One stack: hourglass, Res(F,F), conv1x1 + norm + ReLU, and the
    optional 1x1 heatmap convolution. Shape (B, F, h, w) -> features
    (B, F, h, w) and heatmaps (B, K, h, w) or None."""

    #: The norm after ``conv`` folds into it (see ``PreActResidual``).
    foldable_pairs = (('conv', 'norm'), )

    def __init__(self, depth: int, feat_channels: int,
                 num_keypoints: Optional[int], norm_cfg: NormCfg) -> None:
        super().__init__()
        self.hourglass = Hourglass(depth, feat_channels, norm_cfg)
        self.residual = PreActResidual(feat_channels, feat_channels, norm_cfg)
        self.conv = nn.Conv2d(feat_channels, feat_channels, 1)
        self.norm = _norm(norm_cfg, feat_channels)
        self.heatmap_conv = (None if num_keypoints is None else nn.Conv2d(
            feat_channels, num_keypoints, 1))

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Return the stack's features and (if built) heatmaps."""
        feat = self.residual(self.hourglass(x))
        feat = F.relu(self.norm(self.conv(feat)))
        heatmaps = None if self.heatmap_conv is None else self.heatmap_conv(
            feat)
        return feat, heatmaps


@MODELS.register_module()
class StackedHourglass(BaseModule):
    """Stacked Hourglass network (Newell et al., "Stacked Hourglass Networks
    for Human Pose Estimation", ECCV 2016), exactly as the Lua original.

    The stem brings the input to a quarter of its size; ``num_stacks``
    hourglasses follow, without shared weights. Between two stacks the
    stack's features and (in heatmap mode) its heatmaps are remapped by 1x1
    convolutions and added to the stack's input.

    Two output modes:

    - heatmap mode (``num_keypoints`` set, the paper's network): each stack
      ends with a 1x1 convolution to ``num_keypoints`` heatmaps, which are
      remapped into the next stack and returned, one tensor per stack in
      ``out_indices``, for intermediate supervision. Pair with
      :class:`StackedHourglassHead`.
    - feature mode (``num_keypoints=None``): the stacks' features are
      returned and only features are remapped between stacks. Use this to
      drop the backbone into another config with any heatmap head, e.g.
      MMPose's ``HeatmapHead`` with ``deconv_out_channels=None``.

    Args:
        num_stacks (int): Number of hourglass stacks. Defaults to 8.
        feat_channels (int): Width F of every hourglass, even (the
            residuals' bottlenecks have F/2 channels). Defaults to 256.
        depth (int): Down-sampling levels per hourglass, >= 1. Defaults to
            4 (64 -> 4 px for a 256 px input).
        num_keypoints (int | None): Heatmap channels K. Defaults to 16.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (Sequence[int]): Widths (C0, C1) of the stem's first
            convolution and residuals. Defaults to the original (64, 128);
            small networks spend most of their time here, so scale it down
            with ``feat_channels`` for them.
        out_indices (Sequence[int] | None): Stacks whose outputs are
            returned; must contain the last stack (otherwise its weights
            would get no gradient). Defaults to all stacks.
        norm_cfg (dict | None): Norm config passed to every layer. Defaults
            to ``dict(type='BN', requires_grad=True)``.
        with_cp (bool): Checkpoint every stack's activations (saves memory,
            costs a recomputation; norm statistics are kept exact).
        frozen_stages (int): Stages to freeze: 0 is the stem, ``i >= 1`` is
            stack ``i - 1`` with its remap convolutions; -1 freezes nothing.
        norm_eval (bool): Keep norm layers in eval mode while training.
        norm_init (str): Initial norm weights: ``'pytorch'`` (default,
            weight 1, bias 0) or ``'torch7'`` (weight ``U(0, 1)``, bias 0:
            Torch7's ``nn.SpatialBatchNormalization``, which the Lua original
            used). See :mod:`mmhg_plugin.models.utils.norm_init`.
        init_cfg (dict | list | None): Initialisation config. Defaults to
            None: PyTorch's default init. Its convolutions draw from
            ``U(+-1/sqrt(fan_in))``, Torch7's law; its norms differ from
            Torch7's unless ``norm_init='torch7'``.

    Note:
        Input (B, in_channels, H, W) with H and W divisible by
        ``4 * 2 ** depth``; every output is (B, K or F, H/4, W/4).
    """

    out_stride = 4

    def __init__(self,
                 num_stacks: int = 8,
                 feat_channels: int = 256,
                 depth: int = 4,
                 num_keypoints: Optional[int] = 16,
                 in_channels: int = 3,
                 stem_channels: Sequence[int] = (64, 128),
                 out_indices: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[NormCfg] = None,
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None,
                 norm_init: str = 'pytorch') -> None:
        super().__init__(init_cfg=init_cfg)
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        if feat_channels < 2 or feat_channels % 2:
            raise ValueError(f'{type(self).__name__}: model.backbone.'
                             'feat_channels must be a positive even number, '
                             f'got {feat_channels}')
        if depth < 1:
            raise ValueError(f'{type(self).__name__}: model.backbone.depth '
                             f'must be >= 1, got {depth}')
        if num_keypoints is not None and num_keypoints < 1:
            raise ValueError(f'{type(self).__name__}: model.backbone.'
                             'num_keypoints must be >= 1 or None, got '
                             f'{num_keypoints}')
        if norm_init not in NORM_INITS:
            raise ValueError(f'norm_init must be one of {NORM_INITS}, got '
                             f'{norm_init!r}')
        if not -1 <= frozen_stages <= num_stacks:
            raise ValueError(f'frozen_stages must be in [-1, {num_stacks}], '
                             f'got {frozen_stages}')
        out_indices = tuple(range(num_stacks)) if out_indices is None \
            else tuple(out_indices)
        if (list(out_indices) != sorted(set(out_indices))
                or not all(0 <= i < num_stacks for i in out_indices)
                or num_stacks - 1 not in out_indices):
            raise ValueError(
                f'out_indices must be increasing stack indices in '
                f'[0, {num_stacks}) ending with the last stack '
                f'{num_stacks - 1}, got {out_indices}')
        norm_cfg = dict(norm_cfg or dict(type='BN', requires_grad=True))
        self.num_stacks = num_stacks
        self.feat_channels = feat_channels
        self.depth = depth
        self.num_keypoints = num_keypoints
        self.out_indices = out_indices
        self.with_cp = with_cp
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        #: Channels of every returned tensor.
        self.out_channels = feat_channels if num_keypoints is None \
            else num_keypoints

        if len(stem_channels) != 2:
            raise ValueError(f'stem_channels must be (C0, C1), got '
                             f'{stem_channels}')
        self.stem = HourglassStem(in_channels, feat_channels, norm_cfg,
                                  tuple(stem_channels))
        self.stacks = nn.ModuleList(
            HourglassStack(depth, feat_channels, num_keypoints, norm_cfg)
            for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(feat_channels, feat_channels, 1)
            for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(num_keypoints, feat_channels, 1)
            for _ in range(num_stacks - 1)) if num_keypoints else None
        init_norms(self, norm_init)
        self.norm_init = norm_init
        self._freeze_stages()

    @property
    def size_divisor(self) -> int:
        """Input height and width must be multiples of this."""
        return self.out_stride * 2**self.depth

    def _stage_modules(self, stage: int) -> List[nn.Module]:
        """Modules of stage ``stage`` (0: stem, i: stack i-1 and its remap
        convolutions)."""
        if stage == 0:
            return [self.stem]
        i = stage - 1
        mods: List[nn.Module] = [self.stacks[i]]
        if i < self.num_stacks - 1:
            mods.append(self.merge_features[i])
            if self.merge_heatmaps is not None:
                mods.append(self.merge_heatmaps[i])
        return mods

    def _freeze_stages(self) -> None:
        """Put frozen stages in eval mode and stop their gradients."""
        for stage in range(self.frozen_stages + 1):
            for m in self._stage_modules(stage):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True) -> 'StackedHourglass':
        """Set train mode, keeping frozen stages and (if ``norm_eval``) all
        norm layers in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._NormBase):
                    m.eval()
        return self

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a (B, C, H, W) '
                             f'tensor, got shape {tuple(x.shape)}')
        h, w = x.shape[-2:]
        d = self.size_divisor
        if h % d or w % d:
            raise ValueError(
                f'{type(self).__name__}: input height and width must be '
                f'divisible by 4 * 2**depth = {d} (depth={self.depth}), got '
                f'{h}x{w}; e.g. use {max(d, h // d * d)}x{max(d, w // d * d)}')

    def _run_stack(self, i: int, x: Tensor) -> Tuple[Tensor, ...]:
        """Stack ``i`` on input ``x``: returns (output, next input)."""
        feat, heatmaps = self.stacks[i](x)
        out = feat if heatmaps is None else heatmaps
        if i == self.num_stacks - 1:
            return out, x
        nxt = x + self.merge_features[i](feat)
        if heatmaps is not None:
            nxt = nxt + self.merge_heatmaps[i](heatmaps)
        return out, nxt

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the network.

        Args:
            x (Tensor): Images, shape (B, C, H, W).

        Returns:
            tuple[Tensor]: One tensor per stack in ``out_indices``, stack 0
            first, each (B, K, H/4, W/4) in heatmap mode or (B, F, H/4, W/4)
            in feature mode.
        """
        self._check_input(x)
        x = self.stem(x)
        outs = []
        for i in range(self.num_stacks):
            if self.with_cp and self.training and torch.is_grad_enabled():
                out, x = checkpoint_module_call(
                    self.stacks[i], partial(self._run_stack, i), x)
            else:
                out, x = self._run_stack(i, x)
            if i in self.out_indices:
                outs.append(out)
        return tuple(outs)

