"""Train a pose model with MMEngine's runner (MMPose's flags).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--no-validate] [--auto-scale-lr] [--partial-load]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--local-rank N]

``--resume`` without CKPT continues from the checkpoint named in the work
dir's ``last_checkpoint``, mapped into this work dir when it was copied.

Many GPUs or nodes: ``bash tools/dist_train.sh CONFIG GPUS [args]``.
"""
import argparse
from typing import Optional, Sequence

from mmhg_plugin.utils.quiet import silence_deprecation_logs, silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

from mmengine.config import Config  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)
from mmhg_plugin.engine.atomic_files import remove_stale_temp_files  # noqa: E402
from mmhg_plugin.engine.runner_setup import (  # noqa: E402
    close_distributed,
    error_line,
    load_runner_config,
    parse_runner_args,
    preflight,
    setup_launcher,
)
from mmhg_plugin.engine.work_dir_files import (  # noqa: E402
    checkpoint_dirs,
    is_first_process,
    resolve_last_checkpoint,
)
from mmhg_plugin.utils.errors import MMHGError  # noqa: E402


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The flags only training has."""
    p.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work '
        'dir when no CKPT is given')
    p.add_argument('--amp', action='store_true',
                   help='automatic mixed precision (needs a GPU)')
    p.add_argument('--no-validate', action='store_true',
                   help='do not evaluate checkpoints during training')
    p.add_argument('--auto-scale-lr', action='store_true',
                   help='scale the lr by total batch / auto_scale_lr base')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of this tool (see the module docstring)."""
    return parse_runner_args('Train a pose model', 'train config file',
                             'directory for logs and checkpoints',
                             add_train_args, argv)


def build_config(args: argparse.Namespace) -> Config:
    """Config after the command-line switches."""
    cfg = load_runner_config(args)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU (on this CPU bfloat16 is '
                             'much slower than float32)')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise SystemExit('--auto-scale-lr: the config has no auto_scale_lr')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    setup_launcher(cfg, args.launcher)
    return cfg


def prepare(cfg: Config) -> None:
    """Before the runner writes anything: remove the temporary files of
    interrupted checkpoint writes (on a full disk they may be what fills
    it), pick the checkpoint ``--resume`` continues from inside the work
    dir, and check the data and checkpoint files."""
    if is_first_process():
        for folder in checkpoint_dirs(cfg):
            for path in remove_stale_temp_files(folder):
                print_log(f'removing {path}, left by an interrupted '
                          'checkpoint write', logger='current')
    if cfg.get('resume') and cfg.get('load_from') is None:
        cfg.load_from = resolve_last_checkpoint(cfg)
    preflight(cfg, ('train_dataloader', 'val_dataloader'),
              cfg.get('load_from'))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    try:
        prepare(cfg)
        runner = Runner.from_cfg(cfg)
        silence_deprecation_logs(runner.logger)
        runner.train()
    except MMHGError as e:
        raise SystemExit(error_line(e, cfg.get('load_from'))) from None
    close_distributed()


if __name__ == '__main__':
    main()
