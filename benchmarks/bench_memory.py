"""Peak training memory of hg8 with and without ``with_cp``, and its time.

Memory, main method (CPU): torch's allocator profiling. After warm-up
steps (gradients and optimiser state exist), one training step (forward,
loss, backward, RMSprop step) of each setting runs under
``torch.profiler.profile(profile_memory=True)``; the allocation and free
events of torch's CPU allocator, in time order, give the live tensor bytes
through the step, and the figure is their peak above the step's start:
activations, gradients being rebuilt and temporaries, without allocator
slack or non-tensor memory.

Cross-check (full runs only): peak RSS growth in a fresh process per
setting: one step, ``malloc_trim``, reset of the kernel's peak-RSS counter
(``/proc/self/clear_refs``), a second step, ``VmHWM`` minus the RSS before
it. It includes glibc's heap slack, so it shows less saving than the
allocator view.

Time: both settings in this process, interleaved, same batch.

    python benchmarks/bench_memory.py --child --with-cp 1 --batch 2
"""
import argparse
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent


def _status_kb(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise KeyError(field)


def child(with_cp: bool, batch: int, threads: int, stacks: int) -> dict:
    """Measure one setting in this (fresh) process."""
    from common import pin_threads
    pin_threads(threads)
    import numpy as np
    import torch
    from model_utils import build, make_samples, model_cfg, randomise, train_fn
    torch.manual_seed(0)
    cfg = model_cfg(stacks)
    cfg['backbone']['with_cp'] = with_cp
    model = randomise(build(cfg))
    x = torch.rand(batch, 3, 256, 256)
    samples = make_samples(batch, 256, 64, np.random.default_rng(0), True)
    step = train_fn(model, x, samples)
    gc.collect()
    before_first = _status_kb('VmRSS')
    step()  # grads and optimiser state now exist
    first_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        before = _status_kb('VmRSS')
        Path('/proc/self/clear_refs').write_text('5')
        method = 'second step: VmHWM after malloc_trim and clear_refs'
    except OSError:
        method = 'ru_maxrss of the first step (clear_refs not writable)'
        return dict(peak_growth_mb=(first_peak - before_first) / 1024,
                    rss_before_mb=before_first / 1024, method=method)
    step()
    peak = _status_kb('VmHWM')
    return dict(peak_growth_mb=(peak - before) / 1024,
                rss_before_mb=before / 1024, method=method)


def measure(with_cp: bool, batch: int, threads: int, stacks: int) -> dict:
    """Run :func:`child` in a fresh process."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    cmd = [sys.executable, str(Path(__file__)), '--child', '--with-cp',
           str(int(with_cp)), '--batch', str(batch), '--threads',
           str(threads), '--stacks', str(stacks)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise RuntimeError(f'memory child failed:\n{out.stderr[-2000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_tensor_bytes(step) -> int:
    """Peak of live tensor bytes above the start during ``step()``, from
    the CPU allocator's events recorded by the profiler."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        step()
    events = [e for e in p.profiler.kineto_results.events()
              if e.name() == '[memory]']
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak


def run(quick: bool, threads: int, log=print) -> List:
    import numpy as np
    import torch
    from common import Result, interleaved, median
    from model_utils import build, clone_with, make_samples, model_cfg, randomise, train_fn
    batch, stacks = (2, 8) if quick else (4, 8)
    torch.manual_seed(0)
    ref = randomise(build(model_cfg(stacks)))
    cfg = model_cfg(stacks)
    cfg['backbone']['with_cp'] = True
    cp_model = clone_with(ref, cfg)
    x = torch.rand(batch, 3, 256, 256)
    samples = make_samples(batch, 256, 64, np.random.default_rng(0), True)
    steps = dict(without=train_fn(ref, x, samples),
                 with_cp=train_fn(cp_model, x, samples))
    times = interleaved(steps, repeats=2 if quick else 4, warmup=1)
    peak = {k: peak_tensor_bytes(f) / 2**20 for k, f in steps.items()}
    common = dict(network=f'hg{stacks}', batch=batch, input=256)
    details = dict(common, method='torch CPU allocator events '
                   '(torch.profiler profile_memory), peak live tensor '
                   'bytes above the step start, after warm-up')
    if not quick:
        rss = {cp: measure(cp, batch, threads, stacks) for cp in (False,
                                                                  True)}
        details['rss_cross_check'] = dict(
            method=rss[True]['method'] + ', a fresh process per setting',
            with_cp_mb=rss[True]['peak_growth_mb'],
            without_mb=rss[False]['peak_growth_mb'],
            ratio=rss[True]['peak_growth_mb'] / rss[False]['peak_growth_mb'])
    memory = Result('with_cp_peak_memory', peak['with_cp'], peak['without'],
                    'MB', '<= 0.5', details)
    t_cp, t_no = median(times['with_cp']), median(times['without'])
    time_cost = Result('with_cp_time', t_cp, t_no, 's/step', '<= 1.4',
                       dict(common, repeats=len(times['with_cp'])))
    log(f'  with_cp: memory x{memory.ratio:.2f}, time x{time_cost.ratio:.2f}')
    return [memory, time_cost]


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description='memory child process')
    parser.add_argument('--child', action='store_true')
    parser.add_argument('--with-cp', type=int, default=0)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--stacks', type=int, default=8)
    args = parser.parse_args()
    if not args.child:
        raise SystemExit('run through benchmarks/run_all.py --only memory')
    print(json.dumps(child(bool(args.with_cp), args.batch, args.threads,
                           args.stacks)))
