"""Config and environment set-up shared by tools/train.py and tools/test.py."""
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config


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
