"""Building the benchmarked networks and their inputs, and the timed steps.

Every variant is built from the shipped config (``configs/hg{N}_mpii_256.py``)
with only the speed switches changed, and loads the same random weights.
The baselines: the plain build (:data:`PLAIN`: every switch off) fed NCHW
images, and the same plain build fed as the official PyTorch port feeds its
network (:func:`port_layout`).
"""
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from common import REPO
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from torch import Tensor, nn

from mmhg_plugin.datasets.mpii_conventions import MPII_FLIP_INDICES, MPII_NUM_JOINTS

#: Every speed switch off: the plain build (float32, NCHW, eager).
PLAIN = dict(channels_last=False, fuse_norm_for_test=False,
             torch_compile=False, autocast=None)


def port_layout(x: Tensor) -> Tensor:
    """``x`` (B, C, H, W) as the official PyTorch port hands it to its
    network: an NHWC tensor permuted to NCHW (``imgs.permute(0, 3, 1,
    2)``), so with channels-last strides, and the same values."""
    return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


def model_cfg(num_stacks: int, **switches) -> dict:
    """The shipped model config of ``num_stacks`` stacks (its default
    switches), with ``switches`` changed; ``**PLAIN`` gives the plain
    build."""
    cfg = Config.fromfile(str(REPO / 'configs' /
                              f'hg{num_stacks}_mpii_256.py')).model
    cfg = cfg.to_dict()
    cfg.update(switches)
    return cfg


def build(cfg: dict) -> nn.Module:
    """Build a model config in MMPose's scope (registers mmhg first)."""
    import mmhg_plugin  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(cfg)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random norm parameters and statistics (the convolutions keep
    PyTorch's random default init from construction)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0., 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0., 0.1)
    return model


def clone_with(reference: nn.Module, cfg: dict) -> nn.Module:
    """Build ``cfg`` and load ``reference``'s weights into it."""
    model = build(cfg)
    model.load_state_dict(reference.state_dict())
    return model


def make_samples(batch: int, size: int, heatmap: int, rng: np.random.
                 Generator, targets: bool) -> List[PoseDataSample]:
    """Data samples with metainfo (and random targets for training)."""
    out = []
    for _ in range(batch):
        ds = PoseDataSample(metainfo=dict(
            flip_indices=list(MPII_FLIP_INDICES), input_size=(size, size),
            input_center=np.array([size / 2, size / 2], np.float32),
            input_scale=np.array([size, size], np.float32)))
        ds.gt_instances = InstanceData(bboxes=np.zeros((1, 4)),
                                       bbox_scores=np.ones(1))
        if targets:
            ds.gt_fields = PixelData(heatmaps=torch.from_numpy(
                rng.random((MPII_NUM_JOINTS, heatmap, heatmap), np.float32)))
            ds.gt_instance_labels = InstanceData(
                keypoint_weights=torch.ones(1, MPII_NUM_JOINTS))
        out.append(ds)
    return out


def infer_fn(model: nn.Module, x: Tensor) -> Callable[[], Tuple[Tensor, ...]]:
    """Eval-mode forward of the backbone through the estimator (what
    predict runs), without autograd."""
    model.eval()

    def run():
        with torch.no_grad():
            return model.extract_feat(x)
    return run


def train_fn(model: nn.Module, x: Tensor, samples: List[PoseDataSample],
             **optim_kwargs) -> Callable[..., Optional[dict]]:
    """One training step: forward, per-stack loss, backward, RMSprop step
    (the paper's optimiser and settings; ``optim_kwargs`` such as
    ``foreach=True`` are passed to it).

    ``fn(capture=True)`` also returns the step's loss, last-stack output
    and the stem convolution's weight gradient (for the agreement check).
    """
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4, alpha=0.99,
                              eps=1e-8, momentum=0., weight_decay=0.,
                              **optim_kwargs)
    seen: Dict[str, Tensor] = {}

    def hook(module, args, outs):
        if 'want' in seen:
            seen['out'] = outs[-1].detach().float().clone()

    model.backbone.register_forward_hook(hook)

    def run(capture: bool = False) -> Optional[dict]:
        if capture:
            seen['want'] = True
        opt.zero_grad(set_to_none=True)
        losses = model.loss(x, samples)
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        loss.backward()
        out = None
        if capture:
            out = dict(loss=loss.detach().float().reshape(1), out=seen['out'],
                       grad=model.backbone.stem.conv.weight.grad.clone())
            seen.clear()
        opt.step()
        return out
    return run


def max_abs_diff(a: Tensor, b: Tensor) -> float:
    """max |a - b| (as float32)."""
    return float((a.float() - b.float()).abs().max())


def rel_diff(a: Tensor, b: Tensor) -> float:
    """max |a - b| / max |b|."""
    return max_abs_diff(a, b) / max(float(b.abs().max()), 1e-12)


def first_call(fn: Callable, sync: Optional[Callable] = None):
    """Run ``fn`` once; return (its result, seconds)."""
    import time
    start = time.perf_counter()
    out = fn()
    if sync is not None:
        sync()
    return out, time.perf_counter() - start
