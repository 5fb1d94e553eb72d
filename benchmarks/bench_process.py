"""hg8 inference and training as a user runs them: one process each.

The in-process figures of ``bench_model.py`` compare networks under one
process's settings. A user, though, runs the port's script in a process of
its own with glibc's default ``malloc``, and ours through MMEngine's runner,
where the shipped configs' ``HeapReuseHook`` keeps freed tensor memory in
the process (``mmhg_plugin/utils/heap_reuse.py``). This benchmark runs each
build in a fresh process, the processes alternating round by round so a
busy machine slows all alike:

- ``port``: the port-equivalent build (plain network, channels-last input
  as the port feeds it), glibc's defaults;
- ``shipped``: the shipped config's network, glibc's defaults;
- ``shipped_heap``: the same after ``keep_freed_memory()``, what
  ``HeapReuseHook`` does before a run.

Each process builds the network from the same seed, runs ``warmup`` steps,
then times ``steps`` steps and counts their minor page faults. The figure
is the median step over every timed step of the rounds.

    python benchmarks/bench_process.py [--quick]
    python benchmarks/bench_process.py --child infer shipped_heap --steps 6
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from common import Result, median, round_ratios

HERE = Path(__file__).resolve().parent
BUILDS = ('port', 'shipped', 'shipped_heap')
STACKS = 8
MODES = ('infer', 'train')


def child(mode: str, build_name: str, steps: int, warmup: int, batch: int,
          threads: int) -> dict:
    """Time one build in this (fresh) process."""
    from common import pin_threads
    pin_threads(threads)
    import numpy as np
    import torch
    from model_utils import (
        PLAIN,
        build,
        clone_with,
        infer_fn,
        make_samples,
        model_cfg,
        port_layout,
        randomise,
        train_fn,
    )

    from mmhg_plugin.utils.heap_reuse import keep_freed_memory
    torch.manual_seed(0)
    ref = randomise(build(model_cfg(STACKS, **PLAIN)))
    x = torch.rand(batch, 3, 256, 256)
    if build_name == 'port':
        model, x = ref, port_layout(x)
    else:
        model = clone_with(ref, model_cfg(STACKS))
    heap = build_name == 'shipped_heap' and keep_freed_memory()
    if mode == 'infer':
        step = infer_fn(model, x)
    else:
        step = train_fn(model, x, make_samples(
            batch, 256, 64, np.random.default_rng(0), True))
    for _ in range(warmup):
        step()
    times, faults = [], []
    for _ in range(steps):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return dict(times=times, faults=faults, heap_reuse=bool(heap))


def _run_child(mode: str, build_name: str, steps: int, warmup: int,
               batch: int, threads: int) -> dict:
    """Run :func:`child` in a fresh interpreter; its JSON result."""
    cmd = [sys.executable, str(HERE / 'bench_process.py'), '--child', mode,
           build_name, '--steps', str(steps), '--warmup', str(warmup),
           '--batch', str(batch), '--threads', str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          cwd=str(HERE))
    if proc.returncode != 0:
        raise RuntimeError(f'bench_process child {mode} {build_name} exited '
                           f'{proc.returncode}:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(mode: str, rounds: int, steps: int, warmup: int, batch: int,
            threads: int, log=print) -> List[Result]:
    """Alternate fresh processes of every build; return the figures (with
    the in-process headlines' targets, ``bench_model.TARGETS``)."""
    from bench_model import TARGETS
    times: Dict[str, List[float]] = {b: [] for b in BUILDS}
    faults: Dict[str, List[int]] = {b: [] for b in BUILDS}
    # each round's median step per build, paired for the per-round ratios
    per_round: Dict[str, List[float]] = {b: [] for b in BUILDS}
    for r in range(rounds):
        for b in BUILDS:
            res = _run_child(mode, b, steps, warmup, batch, threads)
            times[b] += res['times']
            faults[b] += res['faults']
            per_round[b].append(median(res['times']))
        log(f'  process {mode} round {r + 1}/{rounds} (median step): '
            + ', '.join(f'{b} {per_round[b][-1]:.3f} s' for b in BUILDS))
    per_s = {b: batch / median(times[b]) for b in BUILDS}
    details = dict(batch=batch, rounds=rounds, steps_per_process=steps,
                   seconds_per_step={b: median(times[b]) for b in BUILDS},
                   faults_per_step={b: int(median(faults[b]))
                                    for b in BUILDS})
    unit = 'images/s'
    return [
        Result(f'process_{mode}_hg8_vs_port', per_s['shipped_heap'],
               per_s['port'], unit, TARGETS[(mode, '')], details,
               baseline_name='port, own process',
               rounds=round_ratios(per_round, 'shipped_heap', 'port')),
        Result(f'process_{mode}_hg8_heap_reuse_vs_default',
               per_s['shipped_heap'], per_s['shipped'], unit, None,
               dict(batch=batch), baseline_name='shipped, glibc defaults',
               rounds=round_ratios(per_round, 'shipped_heap', 'shipped')),
    ]


def run(quick: bool, threads: int, log=print) -> List[Result]:
    """Both modes, inference then training (what ``run_all.py`` calls)."""
    out: List[Result] = []
    for mode in MODES:
        start = time.perf_counter()
        out += measure(mode, rounds=2 if quick else 3,
                       steps=(6 if quick else 10) if mode == 'infer' else
                       (3 if quick else 6),
                       warmup=2, batch=2 if quick else 4, threads=threads,
                       log=log)
        for r in out[-2:]:
            log(f'  {r.name}: {r.ratio:.2f}x')
        log(f'  process {mode}: {time.perf_counter() - start:.0f} s')
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--child', nargs=2, metavar=('MODE', 'BUILD'))
    p.add_argument('--steps', type=int, default=6)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    if args.child:
        mode, build_name = args.child
        if mode not in MODES or build_name not in BUILDS:
            raise SystemExit(f'--child takes MODE in {MODES} and '
                             f'BUILD in {BUILDS}')
        print(json.dumps(child(mode, build_name, args.steps, args.warmup,
                               args.batch, args.threads)))
        return 0
    from common import table
    print(table(run(args.quick, args.threads)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
