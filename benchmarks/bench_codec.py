"""Targets, decoding and flip test against MMPose (timing only).

- ``encode_vs_mmpose``: ``HourglassHeatmap.encode`` (sigma 1.75, the
  original's) against ``MSRAHeatmap.encode`` (sigma 2, MMPose's MPII
  setting) on the same keypoints, per sample; details also time both inside
  MMPose's ``GenerateTarget``.
- ``decode_vs_mmpose``: a (B, 16, 64, 64) batch: our vectorised
  ``batch_decode`` against ``MSRAHeatmap.decode`` per sample, as MMPose's
  ``HeatmapHead.decode`` calls it (``to_numpy(..., unzip=True)`` then one
  call per sample).
- ``flip_test_vs_mmpose``: hg8 prediction with flip test: our estimator
  as shipped (``test_cfg.flip_batch='auto'``: two passes on a CPU, one
  batch of 2B on a GPU; channels-last, folded norms) against MMPose's
  ``TopdownPoseEstimator.predict`` (two passes) on the plain build with the
  same weights, fed NCHW or as the official port feeds it (the faster of
  the two is the baseline, named in the row); details give our one-batch
  rate too.

That each pair computes the same thing is tested, not timed here: encode
on lattice points and decode (+1.5 px) in
``tests/test_mmpose_equivalence.py``, flip test in
``tests/test_flip_test.py``.
"""
from typing import Callable, List

import numpy as np
import torch
from common import Result, interleaved, throughput_result
from mmpose.codecs import MSRAHeatmap
from mmpose.datasets.transforms import GenerateTarget
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.utils.tensor_utils import to_numpy
from model_utils import PLAIN, build, clone_with, make_samples, model_cfg, port_layout, randomise

INPUT, HEATMAP = (256, 256), (64, 64)


def _keypoint_sets(n: int, rng: np.random.Generator) -> List[tuple]:
    """``n`` random (keypoints (1, 16, 2), visibility (1, 16)) of joints in
    and around the crop (about 8% outside, 10% invisible), as after the
    crop of a training sample."""
    out = []
    for _ in range(n):
        kp = rng.uniform(-10, 266, (1, 16, 2)).astype(np.float32)
        vis = (rng.random((1, 16)) > 0.1).astype(np.float32)
        out.append((kp, vis))
    return out


def _per_sample(fn: Callable, sets: List[tuple]) -> Callable[[], None]:
    def run():
        for kp, vis in sets:
            fn(kp, vis)
    return run


def bench_encode(quick: bool) -> Result:
    from mmhg_plugin.codecs import HourglassHeatmap
    ours = HourglassHeatmap(INPUT, HEATMAP, sigma=1.75)
    theirs = MSRAHeatmap(INPUT, HEATMAP, sigma=2.)
    sets = _keypoint_sets(64, np.random.default_rng(0))
    repeats = 15 if quick else 40
    times = interleaved(
        dict(ours=_per_sample(ours.encode, sets),
             mmpose=_per_sample(theirs.encode, sets)),
        repeats=repeats, warmup=2)
    # the same inside MMPose's GenerateTarget transform
    gen = dict(ours=GenerateTarget(encoder=dict(
        type='HourglassHeatmap', input_size=INPUT, heatmap_size=HEATMAP,
        sigma=1.75)), mmpose=GenerateTarget(encoder=dict(
            type='MSRAHeatmap', input_size=INPUT, heatmap_size=HEATMAP,
            sigma=2.)))

    def transform(t):
        def run():
            for kp, vis in sets:
                t.transform(dict(transformed_keypoints=kp,
                                 keypoints_visible=vis.copy()))
        return run
    gtimes = interleaved({k: transform(t) for k, t in gen.items()},
                         repeats=repeats, warmup=2)
    # floor: writing the output, a zeroed (K, H, W) float32 array a sample
    zeros = interleaved(dict(z=_per_sample(
        lambda kp, vis: np.zeros((16, HEATMAP[1], HEATMAP[0]), np.float32),
        sets)), repeats=repeats, warmup=2)['z']
    floor = len(sets) / float(np.median(zeros))
    g = throughput_result('g', gtimes, 'ours', 'mmpose', len(sets), '')
    return throughput_result(
        'encode_vs_mmpose', times, 'ours', 'mmpose', len(sets),
        'samples/s', '>= 5', generate_target_ratio=g.ratio,
        generate_target_samples_per_s=dict(ours=g.value, mmpose=g.baseline),
        sigma=dict(ours=1.75, mmpose=2.),
        floor=dict(what='np.zeros of the (16, 64, 64) output alone',
                   samples_per_s=floor))


def _peaky_heatmaps(batch: int, rng: np.random.Generator) -> torch.Tensor:
    """Random heatmaps: noise in [0, 0.5) plus one Gaussian peak per map
    away from the border (so both decoders refine every joint)."""
    hm = rng.random((batch, 16, 64, 64), np.float32) * 0.5
    ys, xs = np.mgrid[0:64, 0:64]
    peaks = rng.uniform(3, 60, (batch, 16, 2))
    d2 = (xs - peaks[..., :1, None])**2 + (ys - peaks[..., 1:, None])**2
    return torch.from_numpy(hm + np.exp(-d2 / 8.).astype(np.float32))


def bench_decode(quick: bool) -> Result:
    from mmhg_plugin.codecs import HourglassHeatmap
    batch = 32
    ours = HourglassHeatmap(INPUT, HEATMAP, sigma=1.75)
    theirs = MSRAHeatmap(INPUT, HEATMAP, sigma=2.)
    hm = _peaky_heatmaps(batch, np.random.default_rng(2))

    def mmpose():
        return [theirs.decode(h) for h in to_numpy(hm, unzip=True)]

    def one_read():  # floor: reading the batch once, on torch's threads
        return hm.amax(dim=(2, 3))

    times = interleaved(dict(ours=lambda: ours.batch_decode(hm),
                             mmpose=mmpose, read=one_read),
                        repeats=15 if quick else 40, warmup=2,
                        min_time=0.02)
    floor = batch / float(np.median(times['read']))
    return throughput_result(
        'decode_vs_mmpose', times, 'ours', 'mmpose', batch, 'samples/s',
        '>= 10', batch=batch, floor=dict(
            what='one read of the batch (torch amax, torch threads)',
            samples_per_s=floor, bytes=hm.numel() * 4))


def bench_flip_test(quick: bool) -> Result:
    batch = 2 if quick else 4
    stacks = 8
    torch.manual_seed(0)
    plain = randomise(build(model_cfg(stacks, **PLAIN))).eval()
    model = clone_with(plain, model_cfg(stacks)).eval()
    torch.manual_seed(1)
    x = torch.rand(batch, 3, 256, 256)
    samples = make_samples(batch, 256, 64, np.random.default_rng(0), False)

    def ours():
        with torch.no_grad():
            return model.predict(x, samples)

    def mmpose(inp):
        def run():
            with torch.no_grad():
                return TopdownPoseEstimator.predict(plain, inp, samples)
        return run

    def ours_one_batch():
        model.test_cfg['flip_batch'] = True
        try:
            return ours()
        finally:
            model.test_cfg['flip_batch'] = 'auto'

    times = interleaved(dict(ours=ours, mmpose_eager=mmpose(x),
                             mmpose_port=mmpose(port_layout(x)),
                             one_batch=ours_one_batch),
                        repeats=3 if quick else 6, warmup=1)
    base = min(('mmpose_eager', 'mmpose_port'),
               key=lambda k: np.median(times[k]))
    r = throughput_result(
        'flip_test_vs_mmpose', times, 'ours', base, batch, 'images/s',
        '>= 1.2', network=f'hg{stacks}; ours as shipped, MMPose on the '
        'plain build', batch=batch, mmpose_images_per_s={
            k: batch / float(np.median(times[k]))
            for k in ('mmpose_eager', 'mmpose_port')},
        one_batch_images_per_s=batch / float(np.median(times['one_batch'])))
    r.baseline_name = base.replace('mmpose_', 'MMPose two passes, ')
    return r


def run(quick: bool, log=print) -> List[Result]:
    results: List[Result] = []
    for fn in (bench_encode, bench_decode, bench_flip_test):
        r = fn(quick)
        log(f'  {r.name}: {r.ratio:.2f}x')
        results.append(r)
    return results
