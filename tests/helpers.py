"""Plain helpers for the tests (no fixtures)."""
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData, PixelData
from mmpose.structures import PoseDataSample
from torch import nn

from mmhg_plugin.datasets.mpii_conventions import MPII_JOINT_NAMES

REPO = Path(__file__).resolve().parents[1]
#: The head boxes of a data root's validation split (generated or real).
HEADBOX = 'annotations/mpii_gt_val.mat'
#: The dataloaders of a config, by their prefix.
LOADERS = ('train', 'val', 'test')


def run_python(code: str, timeout: float = 600,
               args: Sequence[str] = (), cwd: Optional[Path] = None,
               env: Optional[dict] = None) -> str:
    """Run ``code`` in a fresh interpreter; return stdout, fail with stderr."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(cwd or REPO), env=full_env)
    assert proc.returncode == 0, (
        f'exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n'
        f'--- stderr\n{proc.stderr[-6000:]}')
    return proc.stdout


def run_tool(args: Sequence[str], timeout: float = 900,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repo root (scripts under tools/)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=str(REPO),
                          env=full_env)


def load_tool(path: Union[str, Path], name: Optional[str] = None) -> ModuleType:
    """Import a script (``tools/...``, ``demo/...``; relative to the repo
    root) as a module, to call its functions in-process."""
    path = REPO / path
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def randomise_norms(model: nn.Module) -> nn.Module:
    """Non-trivial norm parameters (BatchNorm, GroupNorm) and BatchNorm
    running statistics, so that folding or fusing them is really tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0., 0.2)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0., 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


@contextmanager
def logged(level: int = logging.WARNING) -> Iterator[List[str]]:
    """Messages of MMEngine's current logger at ``level`` and above."""
    records: List[str] = []
    handler = logging.Handler(level)
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def data_roots(root: Union[str, Path],
               loaders: Sequence[str] = LOADERS) -> Dict[str, str]:
    """Config keys pointing dataloaders at a data root, for
    ``Config.merge_from_dict``.

    Args:
        root (str | Path): The data root (``annotations/``, ``images/``).
        loaders (Sequence[str]): Which dataloaders, by prefix (``'train'``,
            ``'val'``, ``'test'``). Each gets ``dataset.data_root``; the
            validation and test ones also ``dataset.headbox_file``.

    Returns:
        Dict[str, str]: Dotted keys to values, in the order of ``loaders``.
    """
    keys = {}
    for name in loaders:
        keys[f'{name}_dataloader.dataset.data_root'] = str(root)
        if name != 'train':
            keys[f'{name}_dataloader.dataset.headbox_file'] = \
                str(Path(root) / HEADBOX)
    return keys


def data_options(root: Union[str, Path],
                 loaders: Sequence[str] = LOADERS) -> List[str]:
    """The same keys as :func:`data_roots`, as ``--cfg-options`` arguments
    of ``tools/train.py`` and ``tools/test.py``.

    Args:
        root (str | Path): The data root.
        loaders (Sequence[str]): Which dataloaders, by prefix.

    Returns:
        List[str]: ``key=value`` strings.
    """
    return [f'{k}={v}' for k, v in data_roots(root, loaders).items()]



def _add_targets(ds: PoseDataSample, i: int, k: int, h: int, w: int,
                 weights: Optional[torch.Tensor], seeded: bool) -> None:
    """Give sample ``i`` random (k, h, w) target heatmaps and its joint
    weights (row ``i`` of ``weights``, or ones)."""
    gen = torch.Generator().manual_seed(i) if seeded else None
    ds.gt_fields = PixelData(heatmaps=torch.rand(k, h, w, generator=gen))
    ds.gt_instance_labels = InstanceData(
        keypoint_weights=torch.ones(1, k) if weights is None
        else weights[i:i + 1])


def target_samples(n: int, k: int, h: int, w: int,
                   weights: Optional[torch.Tensor] = None,
                   seeded: bool = False) -> List[PoseDataSample]:
    """Samples for a head's loss: random target heatmaps and joint weights.

    Args:
        n (int): How many samples.
        k (int): Joints per sample; the flip pairs reverse their order.
        h (int): Heatmap height.
        w (int): Heatmap width.
        weights (torch.Tensor, optional): (n, k) joint weights; all ones
            when not given.
        seeded (bool): Draw sample i's heatmaps from a generator seeded
            with i; else from torch's global random state, in order.

    Returns:
        List[PoseDataSample]: With ``flip_indices``, ``gt_fields.heatmaps``
        (k, h, w) and ``gt_instance_labels.keypoint_weights`` (1, k).
    """
    out = []
    for i in range(n):
        ds = PoseDataSample(metainfo=dict(flip_indices=list(range(k))[::-1]))
        _add_targets(ds, i, k, h, w, weights, seeded)
        out.append(ds)
    return out


def pose_samples(n: int, size: int, flip_indices: Sequence[int],
                 targets: bool = False,
                 centers: Optional[Sequence[Tuple[float, float]]] = None,
                 scale: Optional[float] = None,
                 seeded: bool = False) -> List[PoseDataSample]:
    """Samples of a top-down estimator: one person each, in a square input.

    Args:
        n (int): How many samples.
        size (int): The input side (px); heatmaps are a quarter of it.
        flip_indices (Sequence[int]): The joints' flip pairs (their count
            is the number of joints).
        targets (bool): Add random target heatmaps and unit joint weights
            (for ``loss``), as :func:`target_samples` does.
        centers (Sequence[Tuple[float, float]], optional): Each sample's crop
            centre in the image; the input's centre when not given.
        scale (float, optional): The crop side in the image; ``size`` when
            not given.
        seeded (bool): Target heatmaps of sample i from a generator seeded
            with i (see :func:`target_samples`).

    Returns:
        List[PoseDataSample]: With the crop's metainfo and a zero box.
    """
    k, side = len(flip_indices), float(scale or size)
    out = []
    for i in range(n):
        center = centers[i] if centers is not None else (size / 2, size / 2)
        ds = PoseDataSample(metainfo=dict(
            flip_indices=list(flip_indices), input_size=(size, size),
            input_center=np.array(center, np.float64),
            input_scale=np.array([side, side])))
        ds.gt_instances = InstanceData(bboxes=np.zeros((1, 4)),
                                       bbox_scores=np.ones(1))
        if targets:
            _add_targets(ds, i, k, size // 4, size // 4, None, seeded)
        out.append(ds)
    return out


def pckh_samples(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                 head_size: np.ndarray,
                 images: Optional[Sequence[str]] = None) -> List[dict]:
    """Data samples for ``MPIIPCKh.process``, one person each, as MMPose's
    ``MpiiDataset`` and estimator pack them. Arrays keep their dtypes.

    Args:
        pred (np.ndarray): (N, K, 2) predicted joints (0-based px).
        gt (np.ndarray): (N, K, 2) annotated joints.
        visible (np.ndarray): (N, K) annotation flags.
        head_size (np.ndarray): (N,) head sizes (px).
        images (Sequence[str], optional): Each sample's ``img_path``; the
            samples have none when not given.

    Returns:
        List[dict]: Sample i has ``id`` i, ``pred_instances.keypoints``
        (1, K, 2) and ``gt_instances`` with ``keypoints`` (1, K, 2),
        ``keypoints_visible`` (1, K) and ``head_size`` (1, 1).
    """
    out = []
    for i in range(len(pred)):
        ds = dict(id=i, pred_instances=dict(keypoints=pred[i][None]),
                  gt_instances=dict(keypoints=gt[i][None],
                                    keypoints_visible=visible[i][None],
                                    head_size=np.array([[head_size[i]]])))
        if images is not None:
            ds['img_path'] = images[i]
        out.append(ds)
    return out


def evaluate_pckh(metric, samples: List[dict], batch: int = 32) -> dict:
    """Feed ``samples`` to a PCK metric in batches, with MPII's joint names
    as dataset meta; return its table.

    Args:
        metric (BaseMetric): ``MPIIPCKh`` or MMPose's ``MpiiPCKAccuracy``.
        samples (List[dict]): As :func:`pckh_samples` builds them.
        batch (int): Samples per ``process`` call.

    Returns:
        dict: ``metric.evaluate``'s result.
    """
    metric.dataset_meta = dict(
        keypoint_id2name=dict(enumerate(MPII_JOINT_NAMES)))
    for i in range(0, len(samples), batch):
        metric.process([], samples[i:i + batch])
    return metric.evaluate(len(samples))
