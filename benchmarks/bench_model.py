"""Model speed on the CPU: inference and training step of hg2 and hg8 at
256x256 against a plain eager build of the same network.

Variants (each a config switch of ``StackedHourglassEstimator``):

- ``eager``: every switch off, float32, NCHW: the baseline.
- ``channels_last``: ``model.channels_last=True``.
- ``fuse_norm`` (inference only): ``model.fuse_norm_for_test=True``.
- ``compile``: ``model.torch_compile=True`` (regional ``torch.compile`` of the
  stem and each stack; compile time reported apart and excluded).
- ``cl_foreach`` (training): channels-last plus RMSprop's multi-tensor
  update (``optim_wrapper.optimizer.foreach=True``).
- ``bf16``: ``model.autocast='bf16'`` (the backbone under bfloat16
  autocast); changes the numbers, and is slow on CPUs without native
  bfloat16, where ``model.autocast='auto'`` stays in float32.
- ``cl_fuse``, ``cl_fuse_compile``, ``cl_compile``, ``cl_bf16``,
  ``cl_fuse_bf16``, ``cl_fuse_compile_bf16``, ``cl_foreach_bf16``:
  combinations.

Two headline figures per mode for hg8: ``{mode}_hg8_vs_eager`` is the
fastest float32 combination (the same numbers as the baseline up to float
rounding) and ``{mode}_hg8_bf16_vs_eager`` the fastest with bfloat16
autocast (reduced precision: its details give how far the outputs move).
Their details name the switches.

Every variant's outputs are compared with the eager build's: in eval mode
the last stack's heatmaps; in training mode the step's loss, the last
stack's output and the stem convolution's gradient (training-mode batch
norm amplifies rounding, see the README).
"""
import time
from typing import Dict, List, Sequence

import numpy as np
import torch

from common import Result, interleaved, median, throughput_result
from mmhg_plugin.models.utils.autocast import has_native_bf16
from model_utils import (build, clone_with, first_call, infer_fn,
                         make_samples, max_abs_diff, model_cfg, randomise,
                         rel_diff, train_fn)

BF16 = dict(autocast='bf16')
CL_FUSE = dict(channels_last=True, fuse_norm_for_test=True)
INFER_VARIANTS = {
    'eager': dict(),
    'channels_last': dict(channels_last=True),
    'fuse_norm': dict(fuse_norm_for_test=True),
    'cl_fuse': CL_FUSE,
    'compile': dict(torch_compile=True),
    'cl_fuse_compile': dict(CL_FUSE, torch_compile=True),
    'bf16': BF16,
    'cl_bf16': dict(BF16, channels_last=True),
    'cl_fuse_bf16': dict(CL_FUSE, **BF16),
    'cl_fuse_compile_bf16': dict(CL_FUSE, torch_compile=True, **BF16),
}
TRAIN_VARIANTS = {
    'eager': dict(),
    'channels_last': dict(channels_last=True),
    'compile': dict(torch_compile=True),
    'cl_compile': dict(channels_last=True, torch_compile=True),
    # optimizer switch (optim_wrapper.optimizer.foreach=True): RMSprop's
    # multi-tensor update instead of its loop over ~1,000 parameters
    'cl_foreach': dict(channels_last=True, optimizer=dict(foreach=True)),
    'bf16': BF16,
    'cl_bf16': dict(BF16, channels_last=True),
    'cl_foreach_bf16': dict(BF16, channels_last=True,
                            optimizer=dict(foreach=True)),
}
#: The variants each quick run keeps for hg8 (all of hg2's but compile
#: and bf16 alone); full runs time every variant.
QUICK_HG8 = ('eager', 'channels_last', 'cl_fuse_compile', 'cl_compile',
             'cl_foreach', 'cl_fuse_bf16', 'cl_fuse_compile_bf16', 'cl_bf16',
             'cl_foreach_bf16')
TARGETS = {'infer': '>= 1.5', 'train': '>= 1.2'}
#: A variant whose first call is this much slower than eager's second call
#: is timed once, alone (bf16 on CPUs without native bf16).
SLOW_FACTOR = 10.


def compile_works() -> str:
    """'' if inductor can compile here, else the reason."""
    try:
        fn = torch.compile(lambda t: torch.relu(t) * 2)
        fn(torch.rand(8))
        return ''
    except Exception as e:  # noqa: BLE001  (any backend failure)
        return f'{type(e).__name__}: {e}'.splitlines()[0][:200]


def _agreement(mode: str, got: dict, ref: dict) -> dict:
    """Max abs diffs of one variant's check outputs against eager's."""
    out = dict(max_abs_diff=max_abs_diff(got['out'], ref['out']))
    if mode == 'train':
        out['loss_rel_diff'] = rel_diff(got['loss'], ref['loss'])
        out['grad_rel_diff'] = rel_diff(got['grad'], ref['grad'])
    return out


def time_variants(mode: str, num_stacks: int, batch: int, repeats: int,
                  variants: Sequence[str], table: Dict[str, dict],
                  size: int = 256) -> List[Result]:
    """Time ``variants`` of one network in one mode, interleaved; the
    first call of each (compiling, checked) is timed apart."""
    torch.manual_seed(0)
    ref = randomise(build(model_cfg(num_stacks)))
    torch.manual_seed(1)
    x = torch.rand(batch, 3, size, size)
    samples = make_samples(batch, size, size // 4,
                           np.random.default_rng(0), targets=True)
    # every variant starts from the same weights (built before any step)
    def switches(name: str) -> dict:
        return {k: v for k, v in table[name].items() if k != 'optimizer'}

    models = {name: ref if name == 'eager' else clone_with(
        ref, model_cfg(num_stacks, **switches(name))) for name in variants}
    fns, checks, first_s = {}, {}, {}
    for name, model in models.items():
        if mode == 'infer':
            fns[name] = infer_fn(model, x)
            out, first_s[name] = first_call(fns[name])
            checks[name] = dict(out=out[-1].float())
        else:
            fns[name] = train_fn(model, x, samples,
                                 **table[name].get('optimizer', {}))
            checks[name], first_s[name] = first_call(
                lambda: fns[name](capture=True))
    eager_t = first_call(fns['eager'])[1]
    slow = [n for n in variants if n != 'eager' and 'torch_compile' not in
            table[n] and first_s[n] > SLOW_FACTOR * eager_t]
    times = interleaved({n: f for n, f in fns.items() if n not in slow},
                        repeats=repeats, warmup=1)
    for n in slow:
        times[n] = [first_call(fns[n])[1]]
    results = []
    for name in variants:
        if name == 'eager':
            continue
        t = median(times[name])
        details = dict(
            switches=table[name], batch=batch, input=size, first_call_s=first_s[name],
            **_agreement(mode, checks[name], checks['eager']))
        if 'torch_compile' in table[name]:
            details['compile_s'] = max(first_s[name] - t, 0.)
        if name in slow:
            details['note'] = 'slow: timed once'
        results.append(throughput_result(
            f'{mode}_hg{num_stacks}_{name}_vs_eager', times, name, 'eager',
            batch, 'images/s', **details))
    if num_stacks == 8:  # the headlines: the fastest float32 / bf16 ones
        for suffix, want_bf16 in (('', False), ('_bf16', True)):
            pool = [r for r in results
                    if bool(r.details['switches'].get('autocast')) ==
                    want_bf16]
            if not pool:
                continue
            best = max(pool, key=lambda r: r.ratio)
            results.append(Result(
                f'{mode}_hg8{suffix}_vs_eager', best.value, best.baseline,
                best.unit, TARGETS[mode],
                dict(best.details, variant=best.name)))
    return results


def plan(quick: bool, reason: str) -> List[tuple]:
    """(mode, stacks, variants, table) to run.

    Full: every variant for hg2 and hg8. Quick: hg2 with every variant but
    compile and bf16 alone, hg8 with :data:`QUICK_HG8`; on a CPU without
    native bfloat16 (where bf16 is 25-100x slower and each such variant is
    timed once) quick keeps only hg2's ``cl_bf16``, to stay within minutes.
    """
    native = has_native_bf16(torch.device('cpu'))
    out = []
    for mode, base in (('infer', INFER_VARIANTS), ('train', TRAIN_VARIANTS)):
        table = {k: dict(v) for k, v in base.items()}
        if reason:  # compile fails here: time the rest
            table = {k: v for k, v in table.items()
                     if 'torch_compile' not in v}
        for n in (2, 8):
            if not quick:
                variants = list(table)
            elif n == 2:
                variants = [v for v in table if v not in ('compile', 'bf16')]
            else:
                variants = [v for v in table if v in QUICK_HG8]
            if quick and not native:
                variants = [v for v in variants if 'autocast' not in
                            table[v] or (n == 2 and v == 'cl_bf16')]
            out.append((mode, n, variants, table))
    return out


def run(quick: bool, log=print) -> List[Result]:
    """All model figures on the CPU (batch 2 quick, 4 full; same batch for
    hg2 and hg8 so that the compiled stack is shared)."""
    reason = compile_works()
    if reason:
        log(f'  torch.compile does not work here ({reason}): skipped')
    batch = 2 if quick else 4
    repeats = 3 if quick else 5
    results: List[Result] = []
    for mode, n, variants, table in plan(quick, reason):
        start = time.perf_counter()
        rs = time_variants(mode, n, batch, repeats, variants, table)
        for r in rs:
            if reason:
                r.details['compile_skipped'] = reason
            log(f'  {r.name}: {r.ratio:.2f}x')
        log(f'  model {mode} hg{n}: {time.perf_counter() - start:.0f} s')
        results.extend(rs)
    return results
