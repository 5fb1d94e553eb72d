"""Model speed on the CPU: inference and training step of hg2 and hg8 at
256x256, the shipped configs' defaults against the builds a user would
compare them with.

Baselines (both the plain build: float32, eager, every switch off):

- ``eager``: fed NCHW images;
- ``port``: fed as the official PyTorch port feeds its network, an NHWC
  tensor permuted to NCHW (channels-last strides, so every convolution
  after it runs channels-last); weights NCHW.

Every speed-up is taken against the faster of the two (named in the row's
``baseline``). Variants (config switches of ``StackedHourglassEstimator``):

- ``shipped``: the config as shipped (``channels_last`` and
  ``fuse_norm_for_test``, which keep the numbers);
- ``shipped_foreach`` (training): and RMSprop's multi-tensor update
  (``optim_wrapper.optimizer.foreach=True``);
- ``shipped_bf16``: and ``model.autocast='bf16'`` (changes the numbers;
  timed only where bfloat16 is native: AMX / AVX512-BF16);
- ``shipped_compile`` (full runs): and ``model.torch_compile=True``
  (compile time reported apart and excluded).

Headlines for hg8: ``{mode}_hg8_vs_baseline`` (shipped, float32) and
``infer_hg8_bf16_vs_baseline`` (shipped with bfloat16 autocast). Every
variant's outputs are compared with the eager build's: in eval mode the
last stack's heatmaps; in training mode the step's loss, the last stack's
output and the stem convolution's gradient (training-mode batch norm
amplifies rounding, see the README).
"""
import time
from typing import List, Sequence

import numpy as np
import torch
from common import (
    GMACS_FIXED,
    GMACS_PER_STACK,
    Result,
    interleaved,
    matmul_gflops,
    median,
    round_ratios,
)
from model_utils import (
    PLAIN,
    build,
    clone_with,
    first_call,
    infer_fn,
    make_samples,
    max_abs_diff,
    model_cfg,
    port_layout,
    randomise,
    rel_diff,
    train_fn,
)

from mmhg_plugin.models.utils.autocast import NATIVE_BF16_CPU_FLAGS, has_native_bf16

BASELINES = ('eager', 'port')
#: variant -> (switches over the shipped config, optimizer kwargs)
VARIANTS = {
    'shipped': ({}, {}),
    'shipped_foreach': ({}, dict(foreach=True)),
    'shipped_bf16': (dict(autocast='bf16'), {}),
    'shipped_compile': (dict(torch_compile=True), {}),
}
MODES = {'infer': ('shipped', 'shipped_bf16', 'shipped_compile'),
         'train': ('shipped', 'shipped_foreach', 'shipped_bf16',
                   'shipped_compile')}
TARGETS = {('infer', ''): '>= 1.3', ('train', ''): '>= 1.2',
           ('infer', '_bf16'): '>= 3'}


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
                  variants: Sequence[str], size: int = 256) -> List[Result]:
    """Time the baselines and ``variants`` of one network in one mode,
    interleaved; the first call of each (compiling, checked) is timed
    apart."""
    torch.manual_seed(0)
    ref = randomise(build(model_cfg(num_stacks, **PLAIN)))
    torch.manual_seed(1)
    x = torch.rand(batch, 3, size, size)
    inputs = dict(eager=x, port=port_layout(x))
    samples = make_samples(batch, size, size // 4,
                           np.random.default_rng(0), targets=True)
    # every model starts from the same weights (built before any step)
    models = dict(eager=ref, port=clone_with(ref, model_cfg(num_stacks,
                                                            **PLAIN)))
    for name in variants:
        models[name] = clone_with(ref, model_cfg(num_stacks,
                                                 **VARIANTS[name][0]))
    fns, checks, first_s = {}, {}, {}
    for name, model in models.items():
        inp = inputs.get(name, x)
        if mode == 'infer':
            fns[name] = infer_fn(model, inp)
            out, first_s[name] = first_call(fns[name])
            checks[name] = dict(out=out[-1].float())
        else:
            optim = VARIANTS[name][1] if name in VARIANTS else {}
            fns[name] = train_fn(model, inp, samples, **optim)
            checks[name], first_s[name] = first_call(
                lambda fn=fns[name]: fn(capture=True))
    times = interleaved(fns, repeats=repeats, warmup=1)
    rate = {n: batch / median(t) for n, t in times.items()}
    base = max(BASELINES, key=lambda n: rate[n])
    results = [Result(f'{mode}_hg{num_stacks}_port_vs_eager', rate['port'],
                      rate['eager'], 'images/s', None, dict(
                          batch=batch, input=size, **_agreement(
                              mode, checks['port'], checks['eager'])),
                      rounds=round_ratios(times, 'port', 'eager'))]
    for name in variants:
        switches, optim = VARIANTS[name]
        details = dict(switches=dict(model_cfg_defaults(), **switches),
                       optimizer=optim, batch=batch, input=size,
                       first_call_s=first_s[name],
                       rates_images_per_s=dict(eager=rate['eager'],
                                               port=rate['port']),
                       **_agreement(mode, checks[name], checks['eager']))
        if 'torch_compile' in switches:
            details['compile_s'] = max(first_s[name] - median(times[name]),
                                       0.)
        results.append(Result(f'{mode}_hg{num_stacks}_{name}_vs_baseline',
                              rate[name], rate[base], 'images/s', None,
                              details, baseline_name=base,
                              rounds=round_ratios(times, name, base)))
    if num_stacks == 8:  # the headlines
        for suffix, name in (('', 'shipped'), ('_bf16', 'shipped_bf16')):
            row = next((r for r in results if r.name ==
                        f'{mode}_hg8_{name}_vs_baseline'), None)
            if row is not None:
                results.append(Result(
                    f'{mode}_hg8{suffix}_vs_baseline', row.value,
                    row.baseline, row.unit, TARGETS.get((mode, suffix)),
                    dict(row.details, variant=name,
                         floor=floor(mode, num_stacks, suffix, row.value)),
                    baseline_name=row.baseline_name, rounds=row.rounds))
    return results


def floor(mode: str, num_stacks: int, suffix: str, rate: float) -> dict:
    """The network's physical floor here: its convolutions' multiply-adds
    (x3 for a training step: forward, input and weight gradients) at a
    plain large matmul's measured rate in the same precision; and how far
    ``rate`` (images/s) is from it."""
    dtype = torch.bfloat16 if suffix == '_bf16' else torch.float32
    gflops = matmul_gflops(dtype)
    gmacs = (GMACS_FIXED + GMACS_PER_STACK * num_stacks) * (
        1 if mode == 'infer' else 3)
    best = gflops / (2 * gmacs)
    return dict(matmul_gflops=gflops, gmacs_per_image=gmacs,
                floor_images_per_s=best, share_of_floor=rate / best)


def model_cfg_defaults() -> dict:
    """The speed switches as the shipped configs set them."""
    cfg = model_cfg(2)
    return {k: cfg.get(k) for k in PLAIN}


def plan(quick: bool, reason: str) -> List[tuple]:
    """(mode, stacks, variants) to run: hg2 and hg8, every variant of
    :data:`MODES`; compile only in full runs (and where it works), bf16
    only where it is native (elsewhere it is 25-100x slower)."""
    native = has_native_bf16(torch.device('cpu'))
    out = []
    for mode, names in MODES.items():
        keep = [n for n in names
                if (n != 'shipped_compile' or (not quick and not reason))
                and (n != 'shipped_bf16' or native)]
        for n in (2, 8):
            out.append((mode, n, keep))
    return out


def run(quick: bool, log=print) -> List[Result]:
    """All model figures on the CPU (batch 2 quick, 4 full; same batch for
    hg2 and hg8 so that the compiled stack is shared)."""
    reason = '' if quick else compile_works()
    if reason:
        log(f'  torch.compile does not work here ({reason}): skipped')
    batch = 2 if quick else 4
    repeats = 3 if quick else 5
    results: List[Result] = []
    for mode, n, variants in plan(quick, reason):
        start = time.perf_counter()
        rs = time_variants(mode, n, batch, repeats, variants)
        for r in rs:
            log(f'  {r.name}: {r.ratio:.2f}x'
                + (f' (vs {r.baseline_name})' if r.baseline_name else ''))
        log(f'  model {mode} hg{n}: {time.perf_counter() - start:.0f} s')
        results.extend(rs)
    not_run = bf16_not_run()
    if not any(r.name == not_run.name for r in results):
        results.append(not_run)
    return results


def bf16_not_run() -> Result:
    """The bfloat16 headline's row where this CPU has no native bfloat16
    (its target applies only where it is native; emulated, it would be
    25-100x slower than float32, so it is not timed)."""
    return Result('infer_hg8_bf16_vs_baseline', float('nan'), float('nan'),
                  'images/s', TARGETS[('infer', '_bf16')],
                  dict(native_bf16_flags=list(NATIVE_BF16_CPU_FLAGS)),
                  not_run='no native bfloat16 on this CPU (none of '
                          + ', '.join(NATIVE_BF16_CPU_FLAGS) + ')')

