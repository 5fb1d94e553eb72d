"""Evaluate a checkpoint with MMEngine's runner (MMPose's flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out metrics.json]
        [--dump preds.pkl] [--show-dir DIR] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi] [--local-rank N]

Many GPUs: ``bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [args]``.
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmengine  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)
from mmhg_plugin.engine.runner_setup import (apply_work_dir,  # noqa: E402
                                             preflight, setup_launcher)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Evaluate a pose model')
    p.add_argument('config', help='test config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--work-dir', help='directory for the evaluation logs')
    p.add_argument('--out', help='save the metrics (.json, .yaml or .pkl)')
    p.add_argument('--dump', help='save every prediction to this .pkl')
    p.add_argument('--show-dir', help='draw predictions into this folder '
                   '(relative to the work dir)')
    p.add_argument('--interval', type=int, default=1,
                   help='draw every n-th sample with --show-dir')
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
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.enable = True
        # absolute: MMPose's hook re-joins a relative out_dir every iteration
        vis.out_dir = osp.abspath(osp.join(cfg.work_dir, args.show_dir))
        vis.interval = args.interval
    if args.dump:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit('--dump must end with .pkl or .pickle')
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, list):
            evaluators = [evaluators]
        cfg.test_evaluator = [*evaluators,
                              dict(type='DumpResults', out_file_path=args.dump)]
    setup_launcher(cfg, args.launcher)
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    preflight(cfg, ('test_dataloader', ), args.checkpoint)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.out and is_main_process():
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        mmengine.dump({k: float(v) for k, v in metrics.items()}, args.out)
    return metrics


if __name__ == '__main__':
    main()
