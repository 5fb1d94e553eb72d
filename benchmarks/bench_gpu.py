"""Model speed on a CUDA GPU (run only where one is present).

hg8 at 256x256, inference and training step (RMSprop), batch 32 (quick) or
64, variants interleaved against plain float32 (TF32 off):

- ``tf32``: TF32 matrix maths (``torch.backends.*.allow_tf32``);
- ``bf16``: ``torch.autocast('cuda', torch.bfloat16)``;
- ``bf16_channels_last``: and ``model.channels_last=True``;
- ``shipped``: bf16 + channels_last + ``model.torch_compile=True`` (+ folded
  norms for inference).

Each row reports images/s, the achieved multiply-add rate (27.44 GMACs per
image forward, about 3x that for a training step) and its share of the
GPU's dense peak for the precision used (table below; unknown GPUs get no
share). Outputs are compared with float32 (max abs diff).
"""
import contextlib
from typing import Dict, List, Optional

import numpy as np
import torch

from common import Result, interleaved, median
from model_utils import (build, clone_with, first_call, make_samples,
                         max_abs_diff, model_cfg, randomise)

#: GMACs per image forward at 256x256: 1.96 + 3.185 per stack (hg2 8.33,
#: hg8 27.44)
GMACS_FIXED, GMACS_PER_STACK = 1.96, 3.185
#: The device and network benchmarked (a CPU smoke test may change them).
DEVICE, STACKS = 'cuda', 8
#: Dense peak TFLOP/s (fp32 CUDA cores, tf32 and bf16 tensor cores).
PEAKS = {
    'H100 PCIe': dict(fp32=51.2, tf32=378., bf16=756.),
    'H100': dict(fp32=66.9, tf32=494.7, bf16=989.4),  # SXM (HBM3)
    'H200': dict(fp32=66.9, tf32=494.7, bf16=989.4),
    'A100': dict(fp32=19.5, tf32=156., bf16=312.),
}
VARIANTS = {
    'fp32': dict(switches={}, tf32=False, bf16=False),
    'tf32': dict(switches={}, tf32=True, bf16=False),
    'bf16': dict(switches={}, tf32=True, bf16=True),
    'bf16_channels_last': dict(switches=dict(channels_last=True), tf32=True,
                               bf16=True),
    'shipped': dict(switches=dict(channels_last=True,
                                           torch_compile=True),
                    tf32=True, bf16=True),
}


def peak_tflops(name: str) -> Optional[Dict[str, float]]:
    """Dense peaks of the GPU called ``name``, or None if unknown."""
    for key, peaks in PEAKS.items():  # most specific first
        if all(part in name for part in key.split()):
            return peaks
    return None


def _sync() -> None:
    if DEVICE == 'cuda':
        torch.cuda.synchronize()


@contextlib.contextmanager
def _precision(tf32: bool, bf16: bool):
    old = (torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=bf16):
            yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = old


def _step_fn(model, mode: str, x, samples, tf32: bool, bf16: bool):
    if mode == 'infer':
        model.eval()

        def run():
            with torch.no_grad(), _precision(tf32, bf16):
                out = model.extract_feat(x)[-1]
            _sync()
            return out.float()
        return run
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4, alpha=0.99,
                              eps=1e-8)

    def run():
        opt.zero_grad(set_to_none=True)
        with _precision(tf32, bf16):
            losses = model.loss(x, samples)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        opt.step()
        _sync()
        return losses[f'loss_kpt_s{STACKS - 1}'].detach().float().reshape(1)
    return run


def _bench_mode(mode: str, batch: int, repeats: int, log) -> List[Result]:
    torch.manual_seed(0)
    ref = randomise(build(model_cfg(STACKS)))
    x = torch.rand(batch, 3, 256, 256, device=DEVICE)
    samples = [s.to(DEVICE) for s in make_samples(
        batch, 256, 64, np.random.default_rng(0), targets=True)]
    models = {n: clone_with(ref, model_cfg(STACKS, **dict(
        v['switches'], **({'fuse_norm_for_test': True} if mode == 'infer'
                          and n == 'shipped' else {})))).to(DEVICE)
              for n, v in VARIANTS.items()}
    fns, first, check = {}, {}, {}
    for name, v in VARIANTS.items():
        try:
            fns[name] = _step_fn(models[name], mode, x, samples, v['tf32'],
                                 v['bf16'])
            check[name], first[name] = first_call(fns[name])
        except Exception as e:  # noqa: BLE001  (report, keep going)
            log(f'  gpu {mode} {name} failed: {type(e).__name__}: {e}')
            fns.pop(name, None)
    times = interleaved(fns, repeats=repeats, warmup=2)
    name_gpu = torch.cuda.get_device_name(0) if DEVICE == 'cuda' \
        else DEVICE
    peaks = peak_tflops(name_gpu)
    macs = (GMACS_FIXED + GMACS_PER_STACK * STACKS) * (1 if mode == 'infer'
                                                        else 3)
    base = median(times['fp32'])
    results = []
    for name in fns:
        t = median(times[name])
        rate = batch / t
        tflops = 2 * macs * 1e9 * rate / 1e12
        prec = 'bf16' if VARIANTS[name]['bf16'] else (
            'tf32' if VARIANTS[name]['tf32'] else 'fp32')
        results.append(Result(
            f'gpu_{mode}_hg{STACKS}_{name}_vs_fp32', rate, batch / base,
            'images/s', None, dict(
                gpu=name_gpu, batch=batch, tflops=tflops, precision=prec,
                peak_share=(tflops / peaks[prec]) if peaks else None,
                first_call_s=first[name],
                max_abs_diff=max_abs_diff(check[name], check['fp32']))))
    return results


def run(quick: bool, log=print) -> List[Result]:
    batch = 32 if quick else 64
    results: List[Result] = []
    for mode in ('infer', 'train'):
        rs = _bench_mode(mode, batch, 5 if quick else 10, log)
        for r in rs:
            share = r.details['peak_share']
            log(f'  {r.name}: {r.value:.0f} images/s, {r.ratio:.2f}x'
                + ('' if share is None else f', {100 * share:.1f}% of peak'))
        results.extend(rs)
    return results
