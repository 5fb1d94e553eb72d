"""Soak test: train for a while and watch resident memory per epoch.

    python benchmarks/soak_memory.py [--minutes 30]
        [--config configs/demo_hg2_synth_mpii.py] [--work-dir DIR]
        [--train-samples N] [--val-samples N]
        [--bound-mb 100] [--bound-pct 5] [--metric rss|pss] [--verbose]
        [--cfg-options k=v ...]

Trains the config (MMEngine runner, in this process) until ``--minutes``
have passed, then finishes the current epoch. After every epoch it records
the resident memory (RSS, and PSS, which counts pages shared between the
main process and its forked dataloader workers once) of the main process
and of all its child processes, plus the peak total seen during the epoch
(sampled every ``--sample-every`` iterations). It prints a table and
whether the growth of total RSS (or PSS, ``--metric pss``) from the end of
the first epoch to the end of the last one stays under ``--bound-mb`` MB
or ``--bound-pct`` percent. Exit status 1 when it does not. Linux only
(reads ``/proc``).

RSS or PSS: a page the main process shares with a forked worker counts
fully in both RSS values, and half in each PSS. When the main process
writes to such a page (Python reference counts do), the page is copied:
physical memory (total PSS) grows while the RSS values do not. That copying
levels off once the shared pages have been touched, typically within a few
epochs; a leak keeps growing in both.

Not a test: run it by hand, e.g. the demo on 400 training images for 30
minutes: ``python benchmarks/soak_memory.py --train-samples 400``.
"""
import argparse
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmhg_plugin.utils.quiet import silence_deprecation_logs, silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration)
import mmhg_plugin.engine  # noqa: E402,F401  (hooks)


def _rollup_mb(pid: int) -> Tuple[float, float]:
    """(RSS, PSS) of one process in MB, (0, 0) if it is gone."""
    values: Dict[str, float] = {}
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                parts = line.split()
                if parts[0] in ('Rss:', 'Pss:'):
                    values[parts[0]] = int(parts[1]) / 1024.
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0., 0.
    return values.get('Rss:', 0.), values.get('Pss:', 0.)


def _descendants(pid: int) -> List[int]:
    """Every live descendant of ``pid`` (dataloader workers)."""
    parent: Dict[int, int] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces: the fields after ')' are fixed
        parent[int(entry)] = int(stat.rsplit(')', 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


def memory_now() -> Dict[str, float]:
    """Main and worker RSS/PSS (MB) and the number of workers."""
    main_rss, main_pss = _rollup_mb(os.getpid())
    kids = _descendants(os.getpid())
    per_kid = [_rollup_mb(k) for k in kids]
    return dict(main_rss=main_rss, main_pss=main_pss,
                workers_rss=sum(r for r, _ in per_kid),
                workers_pss=sum(p for _, p in per_kid),
                workers=len([r for r, _ in per_kid if r > 0]))


class MemoryProbe(Hook):
    """Records memory per epoch; stops training when time is up."""

    priority = 'LOWEST'

    def __init__(self, seconds: float, sample_every: int) -> None:
        self.seconds = seconds
        self.sample_every = sample_every
        self.rows: List[Dict[str, float]] = []
        self.start = time.monotonic()
        self.peak = 0.

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if batch_idx % self.sample_every == 0:
            m = memory_now()
            self.peak = max(self.peak, m['main_rss'] + m['workers_rss'])

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._record(runner)

    def after_train_epoch(self, runner) -> None:
        if runner.val_loop is None or not runner.val_dataloader:
            self._record(runner)

    def _record(self, runner) -> None:
        m = memory_now()
        total = m['main_rss'] + m['workers_rss']
        self.rows.append(dict(m, epoch=runner.epoch, iters=runner.iter,
                              seconds=time.monotonic() - self.start,
                              total_rss=total,
                              total_pss=m['main_pss'] + m['workers_pss'],
                              peak_rss=max(self.peak, total)))
        self.peak = 0.
        print(format_row(self.rows[-1]), flush=True)
        if time.monotonic() - self.start >= self.seconds:
            runner.train_loop.stop_training = True


HEADER = (f'{"epoch":>5} {"iters":>6} {"min":>6} {"main RSS":>9} '
          f'{"workers":>8} {"n":>2} {"total RSS":>10} {"total PSS":>10} '
          f'{"peak RSS":>9} {"growth":>8}')


def format_row(r: Dict[str, float], first: Optional[float] = None) -> str:
    """One table line (MB)."""
    growth = '' if first is None else f'{r["total_rss"] - first:+8.1f}'
    return (f'{int(r["epoch"]):>5} {int(r["iters"]):>6} '
            f'{r["seconds"] / 60:>6.1f} {r["main_rss"]:>9.1f} '
            f'{r["workers_rss"]:>8.1f} {int(r["workers"]):>2} '
            f'{r["total_rss"]:>10.1f} {r["total_pss"]:>10.1f} '
            f'{r["peak_rss"]:>9.1f} {growth:>8}')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--minutes', type=float, default=30.)
    p.add_argument('--config', default='configs/demo_hg2_synth_mpii.py')
    p.add_argument('--work-dir', help='default: a temporary folder')
    p.add_argument('--train-samples', type=int,
                   help='train on the first N samples only')
    p.add_argument('--val-samples', type=int,
                   help='validate on the first N samples only')
    p.add_argument('--sample-every', type=int, default=20,
                   help='iterations between peak-memory samples')
    p.add_argument('--bound-mb', type=float, default=100.)
    p.add_argument('--bound-pct', type=float, default=5.)
    p.add_argument('--metric', choices=['rss', 'pss'], default='rss',
                   help='total memory judged against the bound')
    p.add_argument('--verbose', action='store_true',
                   help='keep the runner\'s INFO log (metric tables)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not os.path.isdir('/proc/self'):
        raise SystemExit('soak_memory.py reads /proc: Linux only')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.train_cfg.max_epochs = 10**6      # the clock decides
    if args.train_samples:
        cfg.train_dataloader.dataset.indices = args.train_samples
    if args.val_samples and cfg.get('val_dataloader'):
        cfg.val_dataloader.dataset.indices = args.val_samples
    cfg.default_hooks.logger.interval = 10**6   # keep the output a table
    if not args.verbose:
        cfg.log_level = 'WARNING'
    tmp = None
    if args.work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix='soak_')
    cfg.work_dir = args.work_dir or tmp.name
    runner = Runner.from_cfg(cfg)
    silence_deprecation_logs(runner.logger)
    probe = MemoryProbe(args.minutes * 60, args.sample_every)
    runner.register_hook(probe)
    print(HEADER, flush=True)
    runner.train()
    rows = probe.rows
    print('\n' + HEADER)
    for r in rows:
        print(format_row(r, rows[0]['total_rss']))
    print()
    ok = len(rows) >= 2
    for metric in ('rss', 'pss'):
        first, last = rows[0][f'total_{metric}'], rows[-1][f'total_{metric}']
        growth, pct = last - first, 100. * (last - first) / first
        judged = metric == args.metric
        if judged:
            ok = ok and (growth < args.bound_mb or pct < args.bound_pct)
        print(f'total {metric.upper()} growth after epoch '
              f'{int(rows[0]["epoch"])}: {growth:+.1f} MB ({pct:+.2f}%) over '
              f'{len(rows) - 1} epochs' + (
                  f'; bound: < {args.bound_mb:g} MB or < '
                  f'{args.bound_pct:g}% -> {"PASS" if ok else "FAIL"}'
                  if judged else ' (not judged)'))
    if len(rows) < 2:
        print('FAIL: need 2 epochs or more; run longer')
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
