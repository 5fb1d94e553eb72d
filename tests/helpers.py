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
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
from mmengine.logging import MMLogger
from torch import nn

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


