"""Plot the training curves of a work dir and print its PCKh table.

    python tools/analysis_tools/plot_curves.py WORK_DIR [--out curves.png]
        [--all-runs] [--metric-prefix PCKh]

Reads the json logs mmengine's ``LocalVisBackend`` writes, one json object a
line: ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (or the identical
``<timestamp>.json`` next to it). Training lines hold ``lr``, ``loss``,
``loss_kpt_s0`` ... and ``step`` = iteration; validation lines hold the
metrics (``PCKh/Mean``, ``PCKh/Mean@0.1``, ...) and ``step`` = epoch.

Runs: the latest run, plus the earlier runs it resumed from (its text log
says ``resumed epoch: E, iter: I``; the earlier runs' records after that
point were redone and are dropped). ``--all-runs`` joins every run.
WORK_DIR may also be one run's directory or a json file.

The figure (PNG, no display needed) has a panel for each of these the log
holds: loss per stack and total vs iteration, learning rate vs iteration,
PCKh Mean and Mean@0.1 vs epoch, and the training heatmap accuracy
``acc_pose``. Default output: ``WORK_DIR/curves.png``.
"""
import argparse
import json
import re
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

Record = Dict[str, float]
RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
RESUMED = re.compile(r'resumed epoch: (\d+), iter: (\d+)')
#: Keys of a validation line that are not metrics.
NON_METRIC_KEYS = ('step', 'data_time', 'time', 'epoch', 'iter', 'memory')


class Run:
    """One run's records, split into training and validation lines.

    Args:
        name (str): The run's timestamp (or file name).
        json_path (Path): Its scalars json file.
        resumed_at (tuple[int, int] | None): (epoch, iter) it resumed from.
    """

    def __init__(self, name: str, json_path: Path,
                 resumed_at: Optional[Tuple[int, int]]) -> None:
        self.name = name
        self.json_path = json_path
        self.resumed_at = resumed_at
        self.train: List[Record] = []
        self.val: List[Record] = []
        for n, line in enumerate(json_path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                print(f'warning: {json_path}:{n}: not json, skipped',
                      file=sys.stderr)
                continue
            if 'step' not in rec:
                continue
            if 'lr' in rec or 'loss' in rec:
                self.train.append(rec)
            elif any('/' in k for k in rec):
                self.val.append(rec)


def _run_json(run_dir: Path) -> Optional[Path]:
    """The scalars json of one run directory, if any."""
    vis = run_dir / 'vis_data'
    for path in (vis / 'scalars.json', vis / f'{run_dir.name}.json'):
        if path.is_file():
            return path
    return None


def _resumed_at(run_dir: Path) -> Optional[Tuple[int, int]]:
    """(epoch, iter) from the run's text log when it resumed, else None."""
    for log in sorted(run_dir.glob('*.log')):
        match = RESUMED.search(log.read_text(errors='replace'))
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def find_runs(work_dir: Path, all_runs: bool = False) -> List[Run]:
    """The runs to plot, oldest first.

    Args:
        work_dir (Path): A work dir, one run's directory or a json log.
        all_runs (bool): Join every run instead of the latest resumed chain.

    Returns:
        list[Run]: At least one run.

    Raises:
        SystemExit: When no json log is found.
    """
    if work_dir.is_file():
        return [Run(work_dir.stem, work_dir, None)]
    if not work_dir.is_dir():
        raise SystemExit(f'plot_curves: no such directory: {work_dir}')
    if _run_json(work_dir) is not None:  # one run's directory
        return [Run(work_dir.name, _run_json(work_dir),
                    _resumed_at(work_dir))]
    runs = []
    for run_dir in sorted(p for p in work_dir.iterdir()
                          if p.is_dir() and RUN_DIR.match(p.name)):
        path = _run_json(run_dir)
        if path is not None:
            runs.append(Run(run_dir.name, path, _resumed_at(run_dir)))
    runs = [r for r in runs if r.train or r.val]
    if not runs:
        raise SystemExit(
            f'plot_curves: no mmengine json log with scalars under '
            f'{work_dir}: expected {work_dir}/<timestamp>/vis_data/'
            'scalars.json (or <timestamp>.json), as written by '
            "LocalVisBackend (visualizer.vis_backends=[dict(type='"
            "LocalVisBackend')])")
    if all_runs:
        return runs
    chain = [runs[-1]]
    while chain[0].resumed_at is not None and len(chain) < len(runs):
        chain.insert(0, runs[len(runs) - len(chain) - 1])
    return chain


def merge_runs(runs: List[Run]) -> Tuple[List[Record], List[Record]]:
    """Join runs: a resumed run replaces what came after its resume point.

    Returns:
        tuple[list, list]: Training and validation records, sorted by step,
        one per step (the latest written wins).
    """
    train: Dict[int, Record] = {}
    val: Dict[int, Record] = {}
    for run in runs:
        if run.resumed_at is not None:
            epoch, it = run.resumed_at
            train = {s: r for s, r in train.items() if s <= it}
            val = {s: r for s, r in val.items() if s <= epoch}
        train.update((int(r['step']), r) for r in run.train)
        val.update((int(r['step']), r) for r in run.val)
    return ([train[s] for s in sorted(train)], [val[s] for s in sorted(val)])


def metric_columns(val: List[Record], prefix: str) -> List[str]:
    """Metric keys of the validation lines, Mean and Mean@0.1 first."""
    keys: List[str] = []
    for rec in val:
        keys += [k for k in rec if k not in NON_METRIC_KEYS and k not in keys]
    if prefix:
        keys = [k for k in keys if k.startswith(f'{prefix}/')] or keys
    first = [k for k in (f'{prefix}/Mean', f'{prefix}/Mean@0.1') if k in keys]
    return first + [k for k in keys if k not in first]


def pckh_table(val: List[Record], prefix: str) -> str:
    """The per-validation metric table as text."""
    if not val:
        return 'no validation records in the log'
    cols = metric_columns(val, prefix)
    names = [c.split('/', 1)[-1] for c in cols]
    widths = [max(8, len(n)) for n in names]
    lines = ['epoch ' + ' '.join(f'{n:>{w}}' for n, w in zip(names, widths))]
    for rec in val:
        cells = [(f'{rec[c]:>{w}.2f}' if isinstance(rec.get(c), (int, float))
                  else f'{"-":>{w}}') for c, w in zip(cols, widths)]
        lines.append(f'{int(rec["step"]):>5} ' + ' '.join(cells))
    return '\n'.join(lines)


def _loss_keys(train: List[Record]) -> List[str]:
    """``loss_kpt_s0``, ``loss_kpt_s1``, ... then ``loss``, those logged."""
    keys = sorted({k for r in train for k in r
                   if re.fullmatch(r'loss_kpt_s\d+', k)},
                  key=lambda k: int(k[len('loss_kpt_s'):]))
    return keys + (['loss'] if any('loss' in r for r in train) else [])


def _draw_loss(ax, train: List[Record]) -> None:
    keys = _loss_keys(train)
    for key in keys:
        pts = [(r['step'], r[key]) for r in train if key in r]
        label = 'total' if key == 'loss' else f'stack {int(key[10:]) + 1}'
        ax.plot(*zip(*pts), label=label, lw=2. if key == 'loss' else 1.,
                color='k' if key == 'loss' else None)
    if min(r[k] for r in train for k in keys if k in r) > 0:
        ax.set_yscale('log')
    ax.legend(fontsize=8)
    ax.set(title='training loss', xlabel='iteration', ylabel='loss')


def _draw_val(ax, val: List[Record], keys: Sequence[str],
              prefix: str) -> None:
    for key in keys:
        pts = [(r['step'], r[key]) for r in val if key in r]
        if pts:
            ax.plot(*zip(*pts), marker='o', label=key)
    ax.legend(fontsize=8)
    ax.set(title=f'validation {prefix}', xlabel='epoch', ylabel='%')


def _draw_curve(ax, records: List[Record], key: str, title: str,
                xlabel: str, color: str) -> None:
    ax.plot(*zip(*[(r['step'], r[key]) for r in records if key in r]),
            color=color)
    ax.set(title=title, xlabel=xlabel, ylabel=key)
    ax.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))


def panels(train: List[Record], val: List[Record],
           prefix: str) -> List[Tuple[str, Callable]]:
    """(name, draw function of an axis) of every panel the log has data
    for: loss, learning rate, validation ``prefix`` Mean and Mean@0.1,
    heatmap accuracy (in this order)."""
    val_keys = (f'{prefix}/Mean', f'{prefix}/Mean@0.1')
    candidates = [
        ('loss', bool(_loss_keys(train)), lambda ax: _draw_loss(ax, train)),
        ('lr', any('lr' in r for r in train),
         lambda ax: _draw_curve(ax, train, 'lr', 'learning rate',
                                'iteration', 'tab:orange')),
        (val_keys[0], any(k in r for r in val for k in val_keys),
         lambda ax: _draw_val(ax, val, val_keys, prefix)),
        ('acc_pose', any('acc_pose' in r for r in train),
         lambda ax: _draw_curve(ax, train, 'acc_pose',
                                'training heatmap accuracy (last stack)',
                                'iteration', 'tab:green')),
    ]
    return [(name, draw) for name, present, draw in candidates if present]


def plot(train: List[Record], val: List[Record], prefix: str, out: Path,
         title: str) -> List[str]:
    """Draw the curves that have data into ``out`` (PNG).

    One 6 x 4 inch panel each: up to three side by side, four as 2 x 2.

    Args:
        train (list[dict]): Training records (``step`` = iteration).
        val (list[dict]): Validation records (``step`` = epoch).
        prefix (str): Metric prefix, e.g. 'PCKh'.
        out (Path): Output image.
        title (str): Figure title.

    Returns:
        list[str]: The names of the panels drawn (see :func:`panels`).

    Raises:
        SystemExit: When no panel has data.
    """
    drawn = panels(train, val, prefix)
    if not drawn:
        raise SystemExit(f'plot_curves: nothing to plot: the log holds no '
                         f'loss, lr, {prefix}/Mean or acc_pose')
    rows, cols = (2, 2) if len(drawn) == 4 else (1, len(drawn))
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows),
                             squeeze=False)
    for ax, (_, draw) in zip(axes.ravel(), drawn):
        draw(ax)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return [name for name, _ in drawn]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description='Plot training curves')
    p.add_argument('work_dir', help='work dir, run dir or json log')
    p.add_argument('--out', help='output PNG (default WORK_DIR/curves.png)')
    p.add_argument('--all-runs', action='store_true',
                   help='join every run of the work dir')
    p.add_argument('--metric-prefix', default='PCKh',
                   help='validation metric prefix (default PCKh)')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Path:
    """Entry point; returns the written image path."""
    args = parse_args(argv)
    work_dir = Path(args.work_dir)
    runs = find_runs(work_dir, args.all_runs)
    train, val = merge_runs(runs)
    out = Path(args.out) if args.out else (
        work_dir.parent if work_dir.is_file() else work_dir) / 'curves.png'
    names = ', '.join(r.name for r in runs)
    print(f'runs: {names} ({len(train)} training records, {len(val)} '
          'validations)')
    print(pckh_table(val, args.metric_prefix))
    drawn = plot(train, val, args.metric_prefix, out,
                 f'{work_dir.name}: {names}')
    print(f'saved {out} ({", ".join(drawn)})')
    return out


if __name__ == '__main__':
    main()
