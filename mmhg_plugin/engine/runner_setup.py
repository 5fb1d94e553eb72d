"""Config and environment set-up shared by tools/train.py and tools/test.py."""
import os
import os.path as osp
import pickle
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config

from mmhg_plugin.datasets import mpii_checks
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config file stem>``, MMPose's default."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def apply_work_dir(cfg: Config, config_path: str,
                   work_dir: Optional[str]) -> None:
    """``--work-dir`` beats the config, which beats the default."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config_path)


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Record the launcher; on machines without CUDA use gloo on the CPU.

    mmengine 0.10.7 always calls ``torch.cuda.set_device`` when it starts a
    distributed run and gives DDP ``device_ids=[LOCAL_RANK]``; both fail
    without a GPU. Here the process group is started with gloo from the
    ``torchrun`` environment (mmengine then skips its own start), and DDP is
    built with ``device_ids=None``, which is right for CPU modules.
    """
    cfg.launcher = launcher
    if launcher == 'none':
        return
    os.environ.setdefault('LOCAL_RANK', os.environ.get('LOCAL_RANK', '0'))
    if torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def preflight(cfg: Config, dataloader_keys: Sequence[str],
              checkpoint: Optional[str] = None) -> None:
    """Fail fast, every problem named, before the runner starts.

    Checks the MPII annotation and head-box files of the given dataloaders
    (which MMPose would otherwise fail to parse deep inside numpy or json)
    and that ``checkpoint`` exists and is safe to load (weights only: it
    cannot run code).

    Args:
        cfg (Config): The run's config.
        dataloader_keys (Sequence[str]): e.g. ``('train_dataloader',
            'val_dataloader')``.
        checkpoint (str | None): A local checkpoint the run will load.

    Raises:
        SystemExit: With a readable report.
    """
    problems = []
    for key in dataloader_keys:
        if cfg.get(key):
            problems += mpii_checks.errors(
                mpii_checks.check_dataset_config(cfg[key].get('dataset')))
    if problems:
        lines = '\n'.join(dict.fromkeys(str(q) for q in problems))
        raise SystemExit(
            f'error: the dataset files cannot be used:\n{lines}\nFor a full '
            'report (images included) run: python '
            'tools/dataset_converters/check_mpii.py DATA_ROOT')
    if not checkpoint or '://' in checkpoint:
        return
    if not osp.isfile(checkpoint):
        raise SystemExit(f'error: checkpoint {checkpoint} does not exist')
    try:
        load_checkpoint_safely(checkpoint)
    except pickle.UnpicklingError as e:
        raise SystemExit(f'error: {e}') from None
    except (RuntimeError, EOFError, OSError) as e:
        raise SystemExit(f'error: cannot read checkpoint {checkpoint} '
                         f'(truncated or corrupt?): {e}') from None
