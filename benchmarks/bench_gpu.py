"""Model speed on a CUDA GPU, ours beside MMPose's HG-52, in one command:

    python benchmarks/bench_gpu.py [--quick] [--json out.json]
    python benchmarks/bench_gpu.py --tiny-cpu   # CI: tiny nets on the CPU

(``run_all.py`` runs it too where CUDA is present.) hg8 at 256x256,
inference and training step (RMSprop), batch 32 (quick) or 64, every
variant interleaved with the others:

- ``fp32``: the plain build, float32 with TF32 off (each network's baseline);
- ``tf32``: TF32 matrix maths (``torch.backends.*.allow_tf32``);
- ``channels_last``: TF32 and NHWC (``model.channels_last=True``);
- ``amp``: TF32 and ``torch.autocast(bfloat16)``;
- ``amp_channels_last``: both;
- ``shipped`` (ours): the shipped config's switches (channels-last, folded
  norms for inference) with ``model.autocast='bf16'`` and (not in the
  tiny mode) ``model.torch_compile=True``.

MMPose's HG-52 (``HourglassNet``, one stack, with ``CPMHead``: MMPose's
``td-hm_hourglass52`` MPII model) runs ``fp32``, ``tf32``, ``amp``,
``channels_last`` and ``amp_channels_last`` beside it. Each row: images/s,
ratio to the same network's ``fp32``, the convolutions' multiply-adds
(counted by hooks; x3 for a training step), the achieved TFLOP/s and its
share of the GPU's dense peak for the precision used (table below; unknown
GPUs get no share), and how far the outputs are from ``fp32``.

``--tiny-cpu`` runs every row with tiny networks on the CPU in seconds, so
that CI keeps this script working without a GPU.
"""
import argparse
import contextlib
import sys
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from common import Result, interleaved, median, table, write_json
from model_utils import (
    PLAIN,
    build,
    clone_with,
    first_call,
    make_samples,
    max_abs_diff,
    model_cfg,
    randomise,
)
from torch import nn

#: Dense peak TFLOP/s (fp32 CUDA cores, tf32 and bf16 tensor cores).
PEAKS = {
    'H100 PCIe': dict(fp32=51.2, tf32=378., bf16=756.),
    'H100': dict(fp32=66.9, tf32=494.7, bf16=989.4),  # SXM (HBM3)
    'H200': dict(fp32=66.9, tf32=494.7, bf16=989.4),
    'A100': dict(fp32=19.5, tf32=156., bf16=312.),
}
#: variant -> (our switches over PLAIN, tf32, bf16 autocast context)
OURS = {
    'fp32': ({}, False, False),
    'tf32': ({}, True, False),
    'channels_last': (dict(channels_last=True), True, False),
    'amp': ({}, True, True),
    'amp_channels_last': (dict(channels_last=True), True, True),
    'shipped': (None, True, False),  # set in _our_models
}
HG52 = ('fp32', 'tf32', 'channels_last', 'amp', 'amp_channels_last')
#: The sizes: (stacks, input side, batch) and the tiny networks' widths.
FULL = dict(stacks=8, size=256)
TINY = dict(stacks=2, size=64, batch=1,
            ours=dict(feat_channels=16, stem_channels=(8, 16), depth=2),
            # HourglassNet's stem is 256 wide whatever the stages
            hg52=dict(downsample_times=2, stage_channels=(256, 16, 16),
                      stage_blocks=(1, 1, 1), feat_channel=16))


def peak_tflops(name: str) -> Optional[Dict[str, float]]:
    """Dense peaks of the GPU called ``name``, or None if unknown."""
    for key, peaks in PEAKS.items():  # most specific first
        if all(part in name for part in key.split()):
            return peaks
    return None


def conv_gmacs(model: nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds (G) of the convolutions of one forward per image."""
    total = [0]

    def hook(mod, args, out):
        k = mod.weight.shape[1] * mod.weight[0, 0].numel()
        total[0] += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model.extract_feat(x)
    finally:
        for h in handles:
            h.remove()
    return total[0] / x.shape[0] / 1e9


@contextlib.contextmanager
def _precision(device: str, tf32: bool, bf16: bool):
    old = (torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = old


def _step_fn(model, mode: str, x, samples, tf32: bool, bf16: bool,
             sync: Callable[[], None]):
    device = x.device.type
    if mode == 'infer':
        model.eval()

        def run():
            with torch.no_grad(), _precision(device, tf32, bf16):
                out = model.extract_feat(x)[-1]
            sync()
            return out.float()
        return run
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4, alpha=0.99,
                              eps=1e-8)

    def run():
        opt.zero_grad(set_to_none=True)
        with _precision(device, tf32, bf16):  # the backbone, as ours does
            feats = model.extract_feat(x)
        losses = model.head.loss(tuple(f.float() for f in feats), samples,
                                 train_cfg=model.train_cfg)
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        total.backward()
        opt.step()
        sync()
        return total.detach().float().reshape(1)
    return run


def _our_models(sizes: dict, device: str, tiny: bool) -> Dict[str, nn.Module]:
    extra = dict(backbone=TINY['ours']) if tiny else {}

    def cfg(**switches):
        c = model_cfg(sizes['stacks'], **switches)
        for k, v in extra.items():
            c[k] = dict(c[k], **v)
        return c
    torch.manual_seed(0)
    ref = randomise(build(cfg(**PLAIN)))
    models = {}
    for name, (switches, _, _) in OURS.items():
        if switches is None:  # the shipped config, bf16, compiled
            switches = dict(autocast='bf16', torch_compile=not tiny)
            models[name] = clone_with(ref, cfg(**switches))
        else:
            models[name] = clone_with(ref, cfg(**dict(PLAIN, **switches)))
    return {k: m.to(device) for k, m in models.items()}


def _hg52_models(sizes: dict, device: str, tiny: bool) -> Dict[str, nn.Module]:
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS

    import mmhg_plugin  # noqa: F401  (mmpose's registries ready)
    hm = sizes['size'] // 4
    cfg = dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='HourglassNet', num_stacks=1,
                      **(TINY['hg52'] if tiny else {})),
        head=dict(type='CPMHead', in_channels=16 if tiny else 256,
                  out_channels=16, num_stages=1, deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=dict(type='MSRAHeatmap',
                               input_size=(sizes['size'],) * 2,
                               heatmap_size=(hm, hm), sigma=2)))
    models = {}
    with DefaultScope.overwrite_default_scope('mmpose'):
        torch.manual_seed(0)
        ref = randomise(MODELS.build(cfg))
        for name in HG52:
            m = MODELS.build(cfg)
            m.load_state_dict(ref.state_dict())
            if 'channels_last' in name:
                m.to(memory_format=torch.channels_last)
            models[name] = m.to(device)
    return models


def _bench_net(net: str, models: Dict[str, nn.Module], mode: str,
               sizes: dict, repeats: int, device: str, log) -> List[Result]:
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    batch, size = sizes['batch'], sizes['size']
    torch.manual_seed(1)
    x = torch.rand(batch, 3, size, size, device=device)
    samples = [s.to(device) for s in make_samples(
        batch, size, size // 4, np.random.default_rng(0), targets=True)]
    fns, first, check, prec = {}, {}, {}, {}
    for name, model in models.items():
        _, tf32, bf16 = OURS[name]
        inp = (x.contiguous(memory_format=torch.channels_last)
               if net == 'hg52' and 'channels_last' in name else x)
        try:
            fns[name] = _step_fn(model, mode, inp, samples, tf32, bf16,
                                 sync)
            check[name], first[name] = first_call(fns[name])
        except Exception as e:  # noqa: BLE001  (report, keep going)
            log(f'  gpu {mode} {net} {name} failed: {type(e).__name__}: '
                f'{e}')
            fns.pop(name, None)
            continue
        prec[name] = 'bf16' if bf16 or name == 'shipped' else (
            'tf32' if tf32 else 'fp32')
    times = interleaved(fns, repeats=repeats, warmup=2)
    gpu = torch.cuda.get_device_name(0) if device == 'cuda' else device
    peaks = peak_tflops(gpu)
    macs = conv_gmacs(models['fp32'], x) * (1 if mode == 'infer' else 3)
    base = batch / median(times['fp32'])
    out = []
    for name in fns:
        rate = batch / median(times[name])
        tflops = 2 * macs * 1e9 * rate / 1e12
        out.append(Result(
            f'gpu_{mode}_{net}_{name}_vs_fp32', rate, base, 'images/s',
            None, dict(gpu=gpu, batch=batch, input=size, gmacs=macs,
                       tflops=tflops, precision=prec[name],
                       peak_share=(tflops / peaks[prec[name]]
                                   if peaks else None),
                       first_call_s=first[name],
                       max_abs_diff=max_abs_diff(check[name],
                                                 check['fp32']))))
    return out


def run(quick: bool, log=print, tiny_cpu: bool = False) -> List[Result]:
    """Every row (module doc); ``tiny_cpu``: tiny networks on the CPU."""
    device = 'cpu' if tiny_cpu else 'cuda'
    sizes = dict(TINY) if tiny_cpu else dict(FULL,
                                             batch=32 if quick else 64)
    repeats = 1 if tiny_cpu else (5 if quick else 10)
    results: List[Result] = []
    nets = dict(hg8=_our_models(sizes, device, tiny_cpu),
                hg52=_hg52_models(sizes, device, tiny_cpu))
    for mode in ('infer', 'train'):
        for net, models in nets.items():
            rs = _bench_net(net, models, mode, sizes, repeats, device, log)
            for r in rs:
                share = r.details['peak_share']
                log(f'  {r.name}: {r.value:.1f} images/s, {r.ratio:.2f}x'
                    + ('' if share is None else
                       f', {100 * share:.1f}% of peak'))
            results.extend(rs)
    return results


def expected_rows() -> List[str]:
    """The names of every row a run gives."""
    return [f'gpu_{mode}_{net}_{name}_vs_fp32'
            for mode in ('infer', 'train')
            for net, names in (('hg8', OURS), ('hg52', HG52))
            for name in names]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--tiny-cpu', action='store_true',
                        help='tiny networks on the CPU (CI)')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    if not args.tiny_cpu and not torch.cuda.is_available():
        print('bench_gpu: no CUDA device (use --tiny-cpu for the CPU check)')
        return 1
    from common import machine_info
    results = run(args.quick, tiny_cpu=args.tiny_cpu)
    print(table(results))
    if args.json:
        write_json(args.json, results, machine_info(torch.get_num_threads()))
    missing = set(expected_rows()) - {r.name for r in results}
    if missing:
        print(f'bench_gpu: rows missing: {sorted(missing)}')
        return 1
    return 0


if __name__ == '__main__':
    from mmhg_plugin.utils.quiet import silence_third_party_deprecations
    silence_third_party_deprecations()
    sys.exit(main())
