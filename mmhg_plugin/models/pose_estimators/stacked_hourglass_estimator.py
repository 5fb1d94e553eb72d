"""Top-down estimator with a batched flip test and speed switches."""
from typing import Any, Mapping, Optional, Tuple, Union

import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList
from torch import Tensor, nn

from mmhg_plugin.models.utils.autocast import AutocastSetting, autocast_dtype, check_autocast
from mmhg_plugin.models.utils.config_checks import check_backbone_and_head
from mmhg_plugin.models.utils.fuse_norm import fuse_norm, refresh_fused_norm
from mmhg_plugin.models.utils.fused_kernels import can_run_fused, cast_convolutions, fused_forward
from mmhg_plugin.models.utils.state_dict_match import state_dict_mismatch
from mmhg_plugin.utils.errors import CheckpointMismatchError


def compile_options(
        torch_compile: Union[bool, dict, None]) -> Optional[dict]:
    """Normalise the ``torch_compile`` switch: None (off) or a dict of
    ``torch.compile`` options plus ``regional`` (default True)."""
    if torch_compile is None or torch_compile is False:
        return None
    if torch_compile is True:
        return dict(regional=True)
    if not isinstance(torch_compile, dict):
        raise TypeError(f'torch_compile must be a bool or a dict of '
                        f'torch.compile options, got '
                        f'{type(torch_compile).__name__}')
    return dict(dict(regional=True), **torch_compile)


def compile_backbone(backbone: nn.Module, options: dict) -> None:
    """Compile ``backbone`` in place (``nn.Module.compile``).

    With ``regional`` (default) and a backbone made of a ``stem`` and
    identical ``stacks`` (``StackedHourglass``), each of them is compiled on
    its own: the stacks share one compiled graph, so an 8-stack network
    compiles as fast as a 1-stack one; the 1x1 remap convolutions between
    stacks stay eager. Otherwise the whole backbone is one graph.
    """
    options = dict(options)
    regional = options.pop('regional', True)
    if regional and hasattr(backbone, 'stem') and hasattr(backbone, 'stacks'):
        backbone.stem.compile(**options)
        for stack in backbone.stacks:
            stack.compile(**options)
    else:
        backbone.compile(**options)


@MODELS.register_module()
class StackedHourglassEstimator(TopdownPoseEstimator):
    """MMPose's ``TopdownPoseEstimator`` with speed switches.

    - Flip test (``test_cfg.flip_test``) runs the images and their mirrors
      either as *one* batch of 2B or as two passes of B, as MMPose does
      (``test_cfg.flip_batch``: True, False, or 'auto', the default: one
      batch on a GPU, which runs a big batch faster, two passes elsewhere,
      where a batch of 2B is slower than two of B: docs/results.md);
      eval-mode norms make both numerically the same.
    - ``channels_last=True`` stores weights and inputs in NHWC, which
      oneDNN (CPU) and cuDNN convolutions run faster; outputs are the same
      up to float rounding.
    - ``fuse_norm_for_test=True``: in eval mode without autograd (MMEngine's
      val/test loops, inference) the backbone runs as a copy with its batch
      norms folded into the convolutions before them
      (:mod:`mmhg_plugin.models.utils.fuse_norm`). The copy is made at the
      first such call and re-folded whenever the backbone's weights or
      statistics changed since (e.g. after training epochs or a checkpoint
      load); training always uses the unfused backbone. The copy is not a
      submodule: it is in no state dict. In float32 on a CPU with oneDNN
      (and not compiled) the copy runs with the ReLUs and residual sums
      inside its convolutions
      (:mod:`mmhg_plugin.models.utils.fused_kernels`).
    - ``torch_compile=True`` (or a dict of ``torch.compile`` options, plus
      ``regional``) compiles the backbone in place, for training and test
      (:func:`compile_backbone`), and the folded copy likewise. The first
      call of each mode compiles (about a minute on a CPU); leave MMEngine's
      ``cfg.compile`` unset then (it compiles the whole ``train_step``).
    - ``autocast='bf16'`` (or ``'fp16'``) runs the backbone under
      ``torch.autocast`` with that dtype, in training and test, on any
      device (MMEngine's ``AmpOptimWrapper`` refuses CPUs); ``'auto'`` picks
      bfloat16 only where the device has native bfloat16 math (CUDA, or a
      CPU with AMX or AVX512-BF16) and float32 elsewhere
      (:mod:`mmhg_plugin.models.utils.autocast`). The backbone's outputs
      are cast back to float32, so the head, the loss and decoding run in
      float32. This changes the numbers (heatmaps by about 1e-2).
    - Loading refuses a state dict whose keys or tensor shapes differ from
      the model's (:class:`CheckpointMismatchError`, one line naming both
      shapes and the first differing keys), whichever loader runs
      (MMEngine's, which would load what fits and only warn, or torch's).
      ``partial_load=True`` (tools: ``--partial-load``) or torch's
      ``load_state_dict(..., strict=False)`` opt in to loading only what
      fits, e.g. to fine-tune from weights of another architecture.
    - The backbone and head are checked against each other when built
      (:func:`check_backbone_and_head`).

    Args:
        channels_last (bool): Use the channels-last memory format.
        fuse_norm_for_test (bool): Fold norms for inference.
        torch_compile (bool | dict): Compile the backbone.
        autocast (str | None): None (float32), 'auto', 'bf16' or 'fp16'.
        partial_load (bool): Load checkpoints that match the model only in
            part (MMEngine's behaviour). Defaults to False: refuse them.
        **kwargs: Passed to ``TopdownPoseEstimator`` (backbone, neck, head,
            train_cfg, test_cfg, data_preprocessor, init_cfg, metainfo).
    """

    def __init__(self,
                 channels_last: bool = False,
                 fuse_norm_for_test: bool = False,
                 torch_compile: Union[bool, dict] = False,
                 autocast: AutocastSetting = None,
                 partial_load: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.with_head:
            check_backbone_and_head(self.backbone, self.head)
        self.partial_load = partial_load
        self.channels_last = channels_last
        self.autocast = check_autocast(autocast)
        self.fuse_norm_for_test = fuse_norm_for_test
        self.compile_cfg = compile_options(torch_compile)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if self.compile_cfg is not None:
            compile_backbone(self.backbone, self.compile_cfg)
        # The folded copy and the state it was folded from; kept out of the
        # module tree (no state dict entries, not moved by .to()).
        self.__dict__['_fused_backbone'] = None
        self.__dict__['_fused_key'] = None

    def load_state_dict(self, state_dict: Mapping[str, Any],
                        strict: bool = True, assign: bool = False):
        """torch's ``load_state_dict``; ``strict=False`` also allows keys
        (torch itself refuses other shapes) that :meth:`_load_from_state_dict`
        would refuse."""
        self.__dict__['_partial_call'] = not strict
        try:
            return super().load_state_dict(state_dict, strict, assign)
        finally:
            self.__dict__['_partial_call'] = False

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              *args, **kwargs) -> None:
        """Refuse a state dict that does not match this model.

        Every loader calls this first on the whole (prefixed) state dict,
        before any submodule copies its tensors, so a mismatch loads
        nothing. MMPose's pre-hook (key renames of old checkpoints) has run
        by the time of the comparison.

        Raises:
            CheckpointMismatchError: Unless ``partial_load`` (or torch's
                ``strict=False``) allows it.
        """
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if self.partial_load or self.__dict__.get('_partial_call'):
            return
        ours = {prefix + k: v for k, v in self.state_dict().items()}
        problem = state_dict_mismatch(
            ours, {k: v for k, v in state_dict.items()
                   if k.startswith(prefix)})
        if problem:
            raise CheckpointMismatchError(
                f'checkpoint does not match the model: {problem}. To load '
                'only the matching tensors set model.partial_load=True '
                '(tools: --partial-load)')

    def _weights_key(self) -> Tuple:
        """Identifies the backbone's current tensors and their versions."""
        return tuple((t.data_ptr(), t._version, t.dtype, t.device)
                     for t in (*self.backbone.parameters(),
                               *self.backbone.buffers()))

    def fused_backbone(self) -> nn.Module:
        """The backbone with folded norms, up to date with its weights."""
        key = self._weights_key()
        fused = self.__dict__['_fused_backbone']
        old = self.__dict__['_fused_key']
        if old == key:
            return fused
        # normal tensors even when called under torch.inference_mode
        with torch.inference_mode(False), torch.no_grad():
            if fused is None or [k[:1] + k[2:] for k in old] != [
                    k[:1] + k[2:] for k in key]:
                fused = fuse_norm(self.backbone)  # new tensors: rebuild
                if self.compile_cfg is not None:
                    compile_backbone(fused, self.compile_cfg)
                self.__dict__['_fused_backbone'] = fused
            else:
                refresh_fused_norm(fused, self.backbone)  # in place
        self.__dict__['_fused_key'] = key
        return fused

    def _fused_in(self, dtype: torch.dtype) -> nn.Module:
        """The folded copy with its convolutions in ``dtype`` (as autocast
        would cast them at every call), made once per folding."""
        key = (self.__dict__['_fused_key'], dtype)
        if self.__dict__.get('_lowp_key') != key:
            with torch.inference_mode(False), torch.no_grad():
                self.__dict__['_lowp_backbone'] = cast_convolutions(
                    self.__dict__['_fused_backbone'], dtype)
            self.__dict__['_lowp_key'] = key
        return self.__dict__['_lowp_backbone']

    def _use_fused(self) -> bool:
        return (self.fuse_norm_for_test and not self.training
                and not torch.is_grad_enabled())

    def extract_feat(self, inputs: Tensor):
        """Backbone (and neck) features of (B, C, H, W) images."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        backbone = self.fused_backbone() if self._use_fused() \
            else self.backbone
        dtype = autocast_dtype(self.autocast, inputs.device)
        if backbone is not self.backbone and self.compile_cfg is None and \
                can_run_fused(backbone, inputs, dtype):
            if dtype is None:
                x = fused_forward(backbone, inputs)
            else:
                x = tuple(t.float() for t in fused_forward(
                    self._fused_in(dtype), inputs.to(dtype)))
        elif dtype is None:
            x = backbone(inputs)
        else:
            with torch.autocast(inputs.device.type, dtype=dtype):
                x = backbone(inputs)
            x = x.float() if isinstance(x, Tensor) else tuple(
                t.float() for t in x)
        if self.with_neck:
            x = self.neck(x)
        return x

    def _flip_in_one_batch(self, device: torch.device) -> bool:
        """``test_cfg.flip_batch`` resolved for ``device``."""
        setting = self.test_cfg.get('flip_batch', 'auto')
        if setting == 'auto':
            return device.type == 'cuda'
        if not isinstance(setting, bool):
            raise ValueError(f"test_cfg.flip_batch must be True, False or "
                             f"'auto', got {setting!r}")
        return setting

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predict keypoints; with ``test_cfg.flip_test`` also from the
        mirrored images (in one batch or two, see ``flip_batch``).

        Args:
            inputs (Tensor): Images (B, C, H, W).
            data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: With ``pred_instances`` in image space.
        """
        if not self.with_head:
            raise RuntimeError('the model needs a head to predict')
        if not self.test_cfg.get('flip_test', False):
            feats = self.extract_feat(inputs)
        elif self._flip_in_one_batch(inputs.device):
            n = inputs.shape[0]
            both = self.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
            feats = [tuple(f[:n] for f in both), tuple(f[n:] for f in both)]
        else:
            feats = [self.extract_feat(inputs),
                     self.extract_feat(inputs.flip(-1))]
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds,
                                                                    None)
        return self.add_pred_to_datasample(instances, fields, data_samples)
