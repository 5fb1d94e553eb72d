"""Train a pose model with MMEngine's runner (MMPose's flags).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--no-validate] [--auto-scale-lr] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--local-rank N]

Many GPUs or nodes: ``bash tools/dist_train.sh CONFIG GPUS [args]``.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner, find_latest_checkpoint  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)
from mmhg_plugin.engine.runner_setup import (apply_work_dir,  # noqa: E402
                                             preflight, setup_launcher)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Train a pose model')
    p.add_argument('config', help='train config file')
    p.add_argument('--work-dir', help='directory for logs and checkpoints')
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
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Config after the command-line switches."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_work_dir(cfg, args.config, args.work_dir)
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


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    path = cfg.get('load_from')
    if cfg.get('resume') and path is None:
        path = find_latest_checkpoint(cfg.work_dir)
    preflight(cfg, ('train_dataloader', 'val_dataloader'), path)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
