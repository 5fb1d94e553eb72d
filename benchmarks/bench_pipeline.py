"""Training data pipeline against MMPose's stock MPII pipeline.

Both pipelines read the same MPII-sized JPEGs (1280x720, one person of MPII
scale 1-4 each, drawn by the synthetic generator) through MMPose's own
``MpiiDataset``, in this process (one worker: torch and OpenCV pinned to one
thread, as in a dataloader worker), with the same augmentation settings: scale
x[0.75, 1.25], rotation within +-60 degrees with probability 0.4, flip 0.5.

- ours: ``MPIITopdownAffine`` (one warp with scale, rotation and flip;
  reduced-resolution JPEG decode), ``ChannelScaleJitter``,
  ``GenerateTarget(HourglassHeatmap)``, ``PackPoseInputs``;
- MMPose: ``LoadImage``, ``GetBBoxCenterScale``, ``RandomFlip``,
  ``RandomBBoxTransform``, ``TopdownAffine``, ``GenerateTarget(MSRAHeatmap)``,
  ``PackPoseInputs`` (MMPose's MPII config, augmentation set as above).

Details: ours without reduced decode (what the decode saves). That with
flip and reduced decode off our crop equals ``TopdownAffine``'s for the
same centre, scale and rotation is tested in
``tests/test_mmpose_equivalence.py``.
"""
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import torch
from common import Result, interleaved, throughput_result

from mmhg_plugin.datasets.mpii_conventions import MPII_INDEX_BASE

SIZE = (1280, 720)
INPUT = (256, 256)
OURS = [
    dict(type='MPIITopdownAffine', input_size=INPUT,
         scale_range=(0.75, 1.25), rotate_std=30., rotate_max=60.,
         rotate_prob=0.4, flip_prob=0.5, reduced_decode=True),
    dict(type='ChannelScaleJitter', low=0.6, high=1.4),
    dict(type='GenerateTarget', encoder=dict(
        type='HourglassHeatmap', input_size=INPUT, heatmap_size=(64, 64),
        sigma=1.75)),
    dict(type='PackPoseInputs'),
]
MMPOSE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.75, 1.25),
         rotate_factor=60., rotate_prob=0.4),
    dict(type='TopdownAffine', input_size=INPUT),
    dict(type='GenerateTarget', encoder=dict(
        type='MSRAHeatmap', input_size=INPUT, heatmap_size=(64, 64),
        sigma=2)),
    dict(type='PackPoseInputs'),
]


def write_images(root: Path, num: int, seed: int = 0) -> Path:
    """Write ``num`` 1280x720 JPEGs and an MPII annotation file.

    Each image is a synthetic scene (one person, scale 1-4) pasted onto a
    1280x720 background, the person's centre at a random place.
    """
    from mmhg_plugin.datasets.synthetic import SceneConfig, render_scene
    from mmhg_plugin.datasets.synthetic.background import draw_background
    (root / 'images').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cfg = SceneConfig(two_person_prob=0., scale_range=(1., 4.))
    entries = []
    for i in range(num):
        scene = render_scene(seed, 'train', i, cfg)
        person = scene.people[0]
        canvas = draw_background(rng, SIZE[0], SIZE[1])
        want = rng.uniform([200, 150], [SIZE[0] - 200, SIZE[1] - 150])
        off = np.round(want - (person.center - MPII_INDEX_BASE)).astype(int)
        h, w = scene.image.shape[:2]
        x0, y0 = max(off[0], 0), max(off[1], 0)
        x1, y1 = min(off[0] + w, SIZE[0]), min(off[1] + h, SIZE[1])
        canvas[y0:y1, x0:x1] = scene.image[y0 - off[1]:y1 - off[1],
                                           x0 - off[0]:x1 - off[0]]
        joints = person.joints_px + off + MPII_INDEX_BASE  # as MPII
        vis = ((joints >= MPII_INDEX_BASE) & (joints <= np.array(SIZE))).all(1)
        name = f'{i:06d}.jpg'
        cv2.imwrite(str(root / 'images' / name), canvas,
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        entries.append(dict(image=name,
                            center=(person.center + off).tolist(),
                            scale=float(person.scale),
                            joints=joints.tolist(),
                            joints_vis=vis.astype(int).tolist()))
    ann = root / 'train.json'
    ann.write_text(json.dumps(entries))
    return ann


def build_dataset(ann: Path, pipeline: List[dict]):
    """MMPose's ``MpiiDataset`` over ``ann`` with ``pipeline``."""
    from mmengine.registry import DefaultScope
    from mmpose.datasets import MpiiDataset

    import mmhg_plugin  # noqa: F401  (registers our transforms)
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MpiiDataset(ann_file=str(ann), data_root=str(ann.parent),
                           data_prefix=dict(img='images/'),
                           pipeline=pipeline)


class _Timed:
    """Wraps a transform and adds up its time."""

    def __init__(self, transform) -> None:
        self.transform, self.seconds = transform, 0.

    def __call__(self, results):
        start = time.perf_counter()
        out = self.transform(results)
        self.seconds += time.perf_counter() - start
        return out


def breakdown(ds) -> Dict[str, float]:
    """Milliseconds per sample spent in each transform (one pass)."""
    timed = [_Timed(t) for t in ds.pipeline.transforms]
    saved, ds.pipeline.transforms = ds.pipeline.transforms, timed
    try:
        for i in range(len(ds)):
            ds[i]
    finally:
        ds.pipeline.transforms = saved
    return {type(t.transform).__name__: 1e3 * t.seconds / len(ds)
            for t in timed}


def decode_floor(ds, repeats: int) -> Dict[str, float]:
    """The pipeline's floor: decoding each JPEG at the reduced size our
    crop asks for (one pass records the reductions), nothing else, on one
    core. Returns its samples/s and the reductions' counts."""
    from mmhg_plugin.datasets.transforms import mpii_topdown_affine as mta
    from mmhg_plugin.datasets.transforms.image_io import read_image_sized
    asked = []
    real = mta.read_image_mapped

    def record(path, reduction, **kwargs):
        asked.append((path, reduction))
        return real(path, reduction, **kwargs)
    mta.read_image_mapped = record
    try:
        for i in range(len(ds)):
            ds[i]
    finally:
        mta.read_image_mapped = real

    def decode_all():
        for path, reduction in asked:
            read_image_sized(path, reduction, reuse_buffer=True)
    best = float(np.median(interleaved(dict(d=decode_all), repeats=repeats,
                                       warmup=1)['d']))
    counts = {f'1/{r}': sum(1 for _, x in asked if x == r)
              for r in sorted({x for _, x in asked})}
    return dict(samples_per_s=len(asked) / best, reductions=counts)


def run(quick: bool, log=print) -> List[Result]:
    num = 48 if quick else 64  # fewer images make the ratios noisier
    repeats = 7 if quick else 9
    # one dataloader worker: torch runs one thread there, OpenCV one too
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    # GetBBoxCenterScale warns that it pads MpiiDataset's box (as intended)
    warnings.filterwarnings('ignore', message='Use the existing')
    try:
        with tempfile.TemporaryDirectory(prefix='mmhg_bench_') as tmp:
            ann = write_images(Path(tmp), num)
            log(f'  wrote {num} JPEGs of {SIZE[0]}x{SIZE[1]}')
            full = [dict(OURS[0], reduced_decode=False)] + OURS[1:]
            sets = dict(ours=build_dataset(ann, OURS),
                        mmpose=build_dataset(ann, MMPOSE),
                        ours_full_decode=build_dataset(ann, full))

            def passes(ds):
                def run_all():
                    for i in range(len(ds)):
                        ds[i]
                return run_all
            np.random.seed(0)
            times = interleaved({k: passes(v) for k, v in sets.items()},
                                repeats=repeats, warmup=1)
            per_transform = {k: breakdown(sets[k]) for k in ('ours',
                                                             'mmpose')}
            floor = decode_floor(sets['ours'], repeats)
            sample = sets['ours'][0]
            shapes = dict(inputs=tuple(sample['inputs'].shape),
                          heatmaps=tuple(
                              sample['data_samples'].gt_fields.heatmaps.shape))
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    full_rate = num / float(np.median(times['ours_full_decode']))
    result = throughput_result(
        'pipeline_vs_mmpose', times, 'ours', 'mmpose', num, 'samples/s',
        '>= 2.5', images=f'{num} JPEGs {SIZE[0]}x{SIZE[1]}, MPII scale 1-4',
        ours_without_reduced_decode_samples_per_s=full_rate,
        threads='torch 1, OpenCV 1 (as in a dataloader worker)',
        ms_per_transform=per_transform, output_shapes=shapes,
        floor=dict(floor, what='JPEG decode alone at the reduced sizes, '
                   'one core'))
    result.details['floor']['share_of_floor'] = (
        result.value / floor['samples_per_s'])
    log(f'  {result.name}: {result.ratio:.2f}x')
    return [result]
