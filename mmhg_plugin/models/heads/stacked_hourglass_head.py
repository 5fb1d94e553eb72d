"""Multi-stack heatmap head: intermediate supervision and flip-test decoding."""
from typing import List, Sequence, Tuple, Union

import torch
from mmengine.structures import PixelData
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

Feats = Sequence[Tensor]


@MODELS.register_module()
class StackedHourglassHead(BaseHead):
    """Head of the Stacked Hourglass: one heatmap tensor per stack.

    With :class:`StackedHourglass` in heatmap mode (the paper's network) the
    backbone already ends every stack with its heatmap convolution, so this
    head adds no parameters (``has_final_layer=False``), like MMPose's
    ``CPMHead`` for CPM. With a backbone in feature mode,
    ``has_final_layer=True`` adds one 1x1 convolution per stack.

    ``loss`` supervises every stack with the same target and reports each
    stack's loss as ``loss_kpt_s0 ... loss_kpt_s{N-1}`` (mmengine's logged
    ``loss`` is their sum) plus ``acc_pose`` of the last stack.
    ``predict`` decodes the last stack; with ``test_cfg['flip_test']`` it
    takes ``[feats, feats_flipped]`` (what MMPose's estimators pass), flips
    the mirrored heatmaps back with the left/right swap and averages.

    Args:
        num_stacks (int): Number of stacks N the backbone returns.
        in_channels (int): Channels of every backbone output.
        out_channels (int): Number of keypoints K.
        has_final_layer (bool): Add a 1x1 conv per stack. Defaults to False.
        loss (dict): Loss config. Defaults to
            ``dict(type='StackedHeatmapMSELoss')``.
        decoder (dict | None): Codec config used by ``predict``.
        init_cfg (dict | list | None): Initialisation config.

    Note:
        ``forward`` input: N tensors (B, C, H, W); output: N tensors
        (B, K, H, W), stack 0 first.
    """

    def __init__(self,
                 num_stacks: int,
                 in_channels: int,
                 out_channels: int,
                 has_final_layer: bool = False,
                 loss: OptConfigType = None,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not has_final_layer and in_channels != out_channels:
            raise ValueError(
                f'StackedHourglassHead: in_channels ({in_channels}) != '
                f'out_channels ({out_channels}) needs has_final_layer=True '
                '(or a backbone in heatmap mode with num_keypoints='
                f'{out_channels})')
        self.num_stacks = num_stacks
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.final_layers = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 1)
            for _ in range(num_stacks)) if has_final_layer else None
        self.loss_module = MODELS.build(
            loss or dict(type='StackedHeatmapMSELoss'))
        self.decoder = None if decoder is None else KEYPOINT_CODECS.build(
            decoder)

    def forward(self, feats: Feats) -> Tuple[Tensor, ...]:
        """Per-stack heatmaps.

        Args:
            feats (Sequence[Tensor]): N backbone outputs (B, C, H, W).

        Returns:
            tuple[Tensor]: N heatmaps (B, K, H, W), stack 0 first.
        """
        if len(feats) != self.num_stacks:
            raise ValueError(
                f'StackedHourglassHead expects {self.num_stacks} stacks, got '
                f'{len(feats)}; check the backbone out_indices')
        if self.final_layers is None:
            return tuple(feats)
        return tuple(conv(f) for conv, f in zip(self.final_layers, feats))

    def last_heatmaps(self, feats: Feats) -> Tensor:
        """Heatmaps (B, K, H, W) of the last stack only."""
        if self.final_layers is None:
            return feats[-1]
        return self.final_layers[-1](feats[-1])

    def flip_test_heatmaps(self, feats: Feats, feats_flip: Feats,
                           flip_indices: Sequence[int],
                           test_cfg: ConfigType) -> Tensor:
        """Average the heatmaps of the input and of its mirror.

        The mirror's heatmaps are flipped back horizontally and their
        left/right channels swapped. Under mmhg's pixel-centre convention
        this is exact, so ``shift_heatmap`` must be False for our codec; it
        stays available for codecs using MMPose's ``x / stride`` mapping.
        """
        flip_mode = test_cfg.get('flip_mode', 'heatmap')
        if flip_mode != 'heatmap':
            raise ValueError(f"flip_mode must be 'heatmap', got {flip_mode}")
        hm = self.last_heatmaps(feats)
        hm_flip = flip_heatmaps(
            self.last_heatmaps(feats_flip),
            flip_indices=list(flip_indices),
            flip_mode='heatmap',
            shift_heatmap=test_cfg.get('shift_heatmap', False))
        return (hm + hm_flip) * 0.5

    def predict(self,
                feats: Union[Feats, List[Feats]],
                batch_data_samples: OptSampleList,
                test_cfg: OptConfigType = None):
        """Decode keypoints from the last stack.

        Args:
            feats: N backbone outputs, or ``[feats, feats_flipped]`` when
                ``test_cfg['flip_test']``.
            batch_data_samples (list[PoseDataSample]): The batch's samples
                (``flip_indices`` is read from their metainfo).
            test_cfg (dict | None): ``flip_test``, ``shift_heatmap``,
                ``output_heatmaps``.

        Returns:
            list[InstanceData] with ``keypoints`` (1, K, 2) in input space
            and ``keypoint_scores`` (1, K); with ``output_heatmaps`` also a
            list of ``PixelData(heatmaps=(K, H, W))``.
        """
        test_cfg = test_cfg or {}
        if test_cfg.get('flip_test', False):
            if not (isinstance(feats, list) and len(feats) == 2):
                raise ValueError('flip_test expects [feats, feats_flipped]')
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            heatmaps = self.flip_test_heatmaps(feats[0], feats[1],
                                               flip_indices, test_cfg)
        else:
            heatmaps = self.last_heatmaps(feats)
        preds = self.decode(heatmaps)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=h) for h in heatmaps.detach()]
        return preds

    def loss(self,
             feats: Feats,
             batch_data_samples: OptSampleList,
             train_cfg: OptConfigType = None) -> dict:
        """Per-stack losses against the same target.

        Returns:
            dict: ``loss_kpt_s{i}`` for every stack and ``acc_pose`` (the
            last stack's heatmap PCK, when ``train_cfg['compute_acc']``,
            default True).
        """
        train_cfg = train_cfg or {}
        outputs = self.forward(feats)
        target = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ])
        per_stack = self.loss_module(outputs, target, weights)
        losses = {f'loss_kpt_s{i}': v for i, v in enumerate(per_stack)}
        if train_cfg.get('compute_acc', True):
            _, avg_acc, _ = pose_pck_accuracy(
                output=to_numpy(outputs[-1].float()),
                target=to_numpy(target),
                mask=to_numpy(weights) > 0)
            losses['acc_pose'] = torch.tensor(avg_acc, device=target.device)
        return losses
