"""Command line, config and environment set-up shared by tools/train.py and
tools/test.py."""
import argparse
import os.path as osp
from typing import Callable, Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

from mmhg_plugin.datasets import mpii_checks
from mmhg_plugin.utils.errors import (
    CheckpointFileError,
    CheckpointMismatchError,
    DatasetFilesError,
    MMHGError,
)
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely

#: Job launchers of MMEngine's runner (``--launcher``).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def parse_runner_args(
        description: str,
        config_help: str,
        work_dir_help: str,
        add_tool_args: Callable[[argparse.ArgumentParser], None],
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line of a runner tool (train or test).

    Every runner tool takes MMPose's ``CONFIG``, ``--work-dir``,
    ``--cfg-options``, ``--launcher`` and ``--local-rank`` (also spelt
    ``--local_rank``, as ``torch.distributed.launch`` passes it), and
    ``--partial-load``. The launchers set ``LOCAL_RANK`` themselves;
    ``--local-rank`` is accepted because ``torch.distributed.launch`` passes it.

    Args:
        description (str): The tool's description for ``--help``.
        config_help (str): Help of the ``config`` argument.
        work_dir_help (str): Help of ``--work-dir``.
        add_tool_args (Callable[[ArgumentParser], None]): Adds the tool's
            own arguments; they come after ``config`` and ``--work-dir`` and
            before the launch arguments.
        argv (Sequence[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument('config', help=config_help)
    p.add_argument('--work-dir', help=work_dir_help)
    add_tool_args(p)
    p.add_argument('--partial-load', action='store_true',
                   help='load a checkpoint that matches the model only in '
                   'part (model.partial_load=True); by default it is refused')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    p.add_argument('--launcher', choices=LAUNCHERS, default='none',
                   help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    return args


def load_runner_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with ``--cfg-options`` and ``--work-dir`` applied.

    Args:
        args (argparse.Namespace): From :func:`parse_runner_args`.

    Returns:
        Config: The config; the tool applies its own switches and then
        :func:`setup_launcher`.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.partial_load:
        cfg.model.partial_load = True
    apply_work_dir(cfg, args.config, args.work_dir)
    return cfg


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


def close_distributed() -> None:
    """Destroy the process group of a run that ended normally.

    Without this, gloo's worker threads are still alive when the
    interpreter shuts down, and the process can abort at exit
    (``terminate called without an active exception``, SIGABRT) after the
    work is done, which fails the whole ``torchrun`` job. Call it only on
    success: a rank that failed must not wait for the others here.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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
        DatasetFilesError: Listing every problem of the dataset files.
        CheckpointFileError: When the checkpoint is missing, would run code
            when loaded, or cannot be read (see
            :func:`~mmhg_plugin.utils.safe_checkpoint.load_checkpoint_safely`).
    """
    problems = []
    for key in dataloader_keys:
        if cfg.get(key):
            problems += mpii_checks.errors(
                mpii_checks.check_dataset_config(cfg[key].get('dataset')))
    if problems:
        lines = '\n'.join(dict.fromkeys(str(q) for q in problems))
        raise DatasetFilesError(
            f'the dataset files cannot be used:\n{lines}\nFor a full '
            'report (images included) run: python '
            'tools/dataset_converters/check_mpii.py DATA_ROOT')
    if not checkpoint or '://' in checkpoint:
        return
    if not osp.isfile(checkpoint):
        raise CheckpointFileError(f'checkpoint {checkpoint} does not exist')
    load_checkpoint_safely(checkpoint)


def error_line(error: MMHGError, checkpoint: Optional[str]) -> str:
    """The one line a tool prints on stderr for ``error`` before exit 1.

    Library code raises :class:`~mmhg_plugin.utils.errors.MMHGError`; the
    entry points under ``tools/`` catch it and exit with this line.

    Args:
        error (MMHGError): A checkpoint, dataset-file or write error.
        checkpoint (str | None): The checkpoint the failing step loaded; it
            prefixes the message of a checkpoint of another architecture,
            whose own text cannot name the file.

    Returns:
        str: ``error: <message>`` (``error: <checkpoint>: <message>`` for a
        :class:`CheckpointMismatchError`).
    """
    if isinstance(error, CheckpointMismatchError) and checkpoint:
        return f'error: {checkpoint}: {error}'
    return f'error: {error}'
