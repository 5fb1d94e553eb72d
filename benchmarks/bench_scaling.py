"""Inference time per image against stacks and input size.

The plain eager build (float32, NCHW, eval, batch 1) of 1, 2, 4 and 8
stacks at 256x256, and of 2 stacks at 128, 256 and 384, all timed
round-robin. Expected from the compute: linear in the number of stacks
(``t = a + b * stacks``: the stem and the heatmap remaps are the fixed
part) and quadratic in the side (fully convolutional: multiply-adds are
proportional to the pixel count). Fits, their residuals, and the growth
the multiply-adds predict (27.44 / 8.33 GMACs for hg8 / hg2 at 256) are in
the details.
"""
from typing import Dict, List

import numpy as np
import torch
from common import Result, interleaved, median
from model_utils import PLAIN, build, infer_fn, model_cfg, randomise

STACKS = (1, 2, 4, 8)
SIDES = (128, 256, 384)
GMACS = {2: 8.33, 8: 27.44}  # at 256x256, reference_facts.md


def _fns() -> Dict[str, callable]:
    fns = {}
    for n in STACKS:
        torch.manual_seed(n)
        model = randomise(build(model_cfg(n, **PLAIN)))
        fns[f'hg{n}@256'] = infer_fn(model, torch.rand(1, 3, 256, 256))
        if n == 2:
            for side in SIDES:
                if side != 256:
                    fns[f'hg2@{side}'] = infer_fn(
                        model, torch.rand(1, 3, side, side))
    return fns


def _linear_fit(x: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """Least squares ``y = a + b x``: a, b, R^2 and the largest relative
    residual."""
    b, a = np.polyfit(x, y, 1)
    pred = a + b * x
    ss = float(((y - y.mean())**2).sum())
    r2 = 1 - float(((y - pred)**2).sum()) / ss if ss else 1.
    return dict(intercept=float(a), slope=float(b), r2=r2,
                max_rel_residual=float(np.max(np.abs(y - pred) / y)))


def run(quick: bool, log=print) -> List[Result]:
    times = interleaved(_fns(), repeats=3 if quick else 7, warmup=1)
    t = {k: median(v) for k, v in times.items()}
    stacks = np.array(STACKS, float)
    per_stack = np.array([t[f'hg{n}@256'] for n in STACKS])
    fit_n = _linear_fit(stacks, per_stack)
    # MACs are a + b * stacks too; from hg2 and hg8:
    b_mac = (GMACS[8] - GMACS[2]) / 6
    a_mac = GMACS[2] - 2 * b_mac
    sides = np.array(SIDES, float)
    per_side = np.array([t[f'hg2@{s}'] for s in SIDES])
    exponent = float(np.polyfit(np.log(sides), np.log(per_side), 1)[0])
    fit_s = _linear_fit(sides**2, per_side)
    stack_result = Result(
        'scaling_stacks_8_vs_1', t['hg8@256'], t['hg1@256'], 's/image',
        None, dict(
            seconds_per_image={f'hg{n}': t[f'hg{n}@256'] for n in STACKS},
            linear_fit=fit_n,
            fixed_share_measured=fit_n['intercept'] / per_stack[-1],
            expected_ratio_from_macs=(a_mac + 8 * b_mac) / (a_mac + b_mac),
            fixed_share_from_macs=a_mac / GMACS[8], input=256, batch=1))
    side_result = Result(
        'scaling_input_384_vs_128', t['hg2@384'], t['hg2@128'], 's/image',
        None, dict(
            seconds_per_image={f'{s}x{s}': t[f'hg2@{s}'] for s in SIDES},
            log_log_exponent=exponent, quadratic_fit=fit_s,
            expected_ratio_from_macs=(384 / 128)**2, network='hg2',
            batch=1))
    log(f'  stacks: {stack_result.ratio:.2f}x for 8 vs 1 (R^2 '
        f'{fit_n["r2"]:.3f}); side: {side_result.ratio:.2f}x for 384 vs '
        f'128 (exponent {exponent:.2f})')
    return [stack_result, side_result]
