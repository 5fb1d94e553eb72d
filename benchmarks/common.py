"""Shared helpers of the benchmarks: thread pinning, interleaved timing,
result records and the printed table.

Timing rule: every figure is a ratio of two (or more) variants measured in
the same process, *interleaved* (A, B, A, B, ...) after warm-up, so that a
machine shared with other jobs slows both alike; the median of the repeats
is reported.
"""
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
#: GMACs per 256x256 image forward of the Stacked Hourglass (F 256, depth
#: 4), from tools/analysis_tools/get_flops.py: 1.96 + 3.185 per stack
#: (hg2 8.33, hg8 27.44).
GMACS_FIXED, GMACS_PER_STACK = 1.96, 3.185


def pin_threads(num_threads: int) -> None:
    """Pin torch's (and OpenCV's) intra-op threads to ``num_threads``."""
    import cv2
    import torch
    torch.set_num_threads(num_threads)
    cv2.setNumThreads(num_threads)


def interleaved(fns: Dict[str, Callable[[], Any]],
                repeats: int,
                warmup: int = 1,
                min_time: float = 0.0) -> Dict[str, List[float]]:
    """Time several callables round-robin.

    Each round calls every function once (in the given order), after
    ``warmup`` untimed rounds. A round's call is repeated until it lasts
    ``min_time`` seconds (for microsecond-scale functions); the time per
    call is recorded.

    Args:
        fns (dict[str, Callable]): Name -> function of no argument.
        repeats (int): Timed rounds.
        warmup (int): Untimed rounds first.
        min_time (float): Least seconds per timed sample.

    Returns:
        dict[str, list[float]]: Seconds per call, one per round.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n, start = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            times[name].append(elapsed / n)
    return times


def median(xs: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(xs))


@dataclasses.dataclass
class Result:
    """One figure: ours (``value``) against a ``baseline``.

    ``ratio`` is value / baseline; for throughput (higher is better) it is
    the speed-up, for memory and time-cost figures the cost factor. Where a
    ``target`` is given (e.g. ``'>= 1.5'``) ``met`` says whether the ratio
    reaches it.
    """
    name: str
    value: float
    baseline: float
    unit: str
    target: Optional[str] = None
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Which baseline (e.g. 'port' or 'eager'), where there is a choice.
    baseline_name: Optional[str] = None
    #: Why a figure with a target was not measured on this machine (e.g.
    #: no native bfloat16); the table lists it instead of leaving it out.
    not_run: Optional[str] = None
    #: The ratio of each round alone (both sides timed in the same round,
    #: see :func:`round_ratios`), sorted: how far this host's noise moves
    #: the figure. None where the figure has no paired rounds.
    rounds: Optional[List[float]] = None

    @property
    def ratio(self) -> float:
        if self.not_run or not self.baseline:
            return float('nan')
        return self.value / self.baseline

    @property
    def met(self) -> Optional[bool]:
        if not self.target or self.not_run:
            return None
        op, thr = self.target.split()
        return self.ratio >= float(thr) if op == '>=' else \
            self.ratio <= float(thr)

    def to_json(self) -> Dict[str, Any]:
        if self.not_run:  # JSON null, not NaN
            out = dict(value=None, baseline=None, ratio=None, unit=self.unit)
        else:
            out = dict(value=self.value, baseline=self.baseline,
                       ratio=self.ratio, unit=self.unit)
        if self.baseline_name:
            out['baseline_name'] = self.baseline_name
        if self.target:
            out.update(target=self.target, met=self.met)
        if self.not_run:
            out['not_run'] = self.not_run
        if self.rounds:
            out['round_ratios'] = self.rounds
        out.update(self.details)
        return out


def round_ratios(times: Dict[str, List[float]], ours: str,
                 base: str) -> List[float]:
    """The speed-up of ``ours`` over ``base`` in each round of
    :func:`interleaved` times alone (``base``'s time / ``ours``'), sorted.

    The two ran seconds apart in the same round, so a slow spell of a
    shared host moves both; the spread of these ratios shows how much the
    noise that is left moves the figure.
    """
    return sorted(b / o for o, b in zip(times[ours], times[base]) if o > 0)


def throughput_result(name: str, times: Dict[str, List[float]], ours: str,
                      base: str, items: float, unit: str,
                      target: Optional[str] = None,
                      **details: Any) -> Result:
    """A Result of items/s from interleaved ``times`` of ``ours`` and
    ``base`` (``items`` processed per call)."""
    t_ours, t_base = median(times[ours]), median(times[base])
    details.setdefault('seconds_per_call', dict(ours=t_ours, baseline=t_base))
    details.setdefault('repeats', len(times[ours]))
    return Result(name, items / t_ours, items / t_base, unit, target, details,
                  rounds=round_ratios(times, ours, base))


def fmt(x: Any) -> str:
    """Compact number formatting for the table."""
    if isinstance(x, float):
        if x != x:
            return 'nan'
        if abs(x) >= 100:
            return f'{x:,.0f}'
        if abs(x) >= 1:
            return f'{x:.2f}'
        return f'{x:.3g}'
    return str(x)


def table(results: Sequence[Result]) -> str:
    """Plain-text table: name, value, baseline (and which), ratio, the
    lowest and highest ratio of a single round, unit, target (and whether
    it is met, or why the figure was not run)."""
    rows = [('figure', 'value', 'baseline', 'ratio', 'rounds', 'unit',
             'target')]
    for r in results:
        if r.not_run:
            rows.append((r.name, '-', '-', '-', '', r.unit,
                         f'{r.target or ""} not run: {r.not_run}'.strip()))
            continue
        tgt = '' if not r.target else (
            f"{r.target} {'met' if r.met else 'MISSED'}")
        base = fmt(r.baseline) + (f' ({r.baseline_name})'
                                  if r.baseline_name else '')
        spread = f'{r.rounds[0]:.2f}-{r.rounds[-1]:.2f}' if r.rounds else ''
        rows.append((r.name, fmt(r.value), base, f'{r.ratio:.2f}x', spread,
                     r.unit, tgt))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


_MATMUL: Dict[Any, float] = {}


def matmul_gflops(dtype: Any, n: int = 2048, repeats: int = 8) -> float:
    """GFLOP/s of a plain ``n x n`` matmul in ``dtype`` at torch's current
    threads: the best of ``repeats`` (measured once per process)."""
    import torch
    if dtype not in _MATMUL:
        a = torch.rand(n, n, dtype=dtype)
        b = torch.rand(n, n, dtype=dtype)
        a @ b
        best = float('inf')
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        _MATMUL[dtype] = 2 * n**3 / best / 1e9
    return _MATMUL[dtype]


def machine_info(num_threads: int) -> Dict[str, Any]:
    """CPU model, cores, load, library versions."""
    import torch
    cpu = platform.processor()
    ident: Dict[str, Any] = {}
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(':'))
            if key == 'model name':
                cpu = value
            elif key in ('cpu family', 'model'):  # first processor's
                ident.setdefault('cpu_' + key.split()[-1], value)
            elif key == 'flags':
                # the model name alone does not tell EPYC or Xeon
                # generations apart; these flags decide bf16 speed
                ident['bf16_flags'] = sorted(
                    {'avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'}
                    & set(value.split()))
                ident['cpu_flags'] = value
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = dict(cpu=cpu, cores=cores, torch_threads=num_threads,
                torch=torch.__version__, python=platform.python_version(),
                **ident)
    try:
        info['load_average_1m'] = os.getloadavg()[0]
    except OSError:
        pass
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def write_json(path: str, results: Sequence[Result],
               meta: Dict[str, Any]) -> None:
    """Write ``{name: record}`` plus ``_meta`` to ``path``."""
    data: Dict[str, Any] = {r.name: r.to_json() for r in results}
    data['_meta'] = meta
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, default=_jsonable))


def _jsonable(x: Any) -> Any:
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)
