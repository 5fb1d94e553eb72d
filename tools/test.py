"""Evaluate a checkpoint with MMEngine's runner (MMPose's flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out metrics.json]
        [--dump preds.pkl] [--show-dir DIR] [--partial-load]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--local-rank N]

A checkpoint whose keys or shapes differ from the model is refused (exit 1)
unless ``--partial-load`` is given.

Many GPUs: ``bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [args]``.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from mmhg_plugin.utils.quiet import silence_deprecation_logs, silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import mmengine  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)
from mmhg_plugin.engine.runner_setup import (  # noqa: E402
    close_distributed,
    error_line,
    load_runner_config,
    parse_runner_args,
    preflight,
    setup_launcher,
)
from mmhg_plugin.utils.errors import MMHGError  # noqa: E402


def add_test_args(p: argparse.ArgumentParser) -> None:
    """The arguments only evaluation has."""
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out', help='save the metrics (.json, .yaml or .pkl)')
    p.add_argument('--dump', help='save every prediction to this .pkl')
    p.add_argument('--show-dir', help='draw predictions into this folder '
                   '(relative to the work dir)')
    p.add_argument('--interval', type=int, default=1,
                   help='draw every n-th sample with --show-dir')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of this tool (see the module docstring)."""
    return parse_runner_args('Evaluate a pose model', 'test config file',
                             'directory for the evaluation logs',
                             add_test_args, argv)


def build_config(args: argparse.Namespace) -> Config:
    """Config after the command-line switches."""
    cfg = load_runner_config(args)
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


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    try:
        preflight(cfg, ('test_dataloader', ), args.checkpoint)
        runner = Runner.from_cfg(cfg)
        silence_deprecation_logs(runner.logger)
        metrics = runner.test()
    except MMHGError as e:
        raise SystemExit(error_line(e, args.checkpoint)) from None
    if args.out and is_main_process():
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        mmengine.dump({k: float(v) for k, v in metrics.items()}, args.out)
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
