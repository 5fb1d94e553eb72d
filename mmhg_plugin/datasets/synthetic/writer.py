"""Write a synthetic dataset in the MPII layout read by MMPose 1.x.

Layout of ``out_dir``::

    images/000000001.jpg ...             train images (img_id = index + 1)
    images/100000001.jpg ...             val images (img_id = offset + i + 1)
    annotations/mpii_train.json          one entry per person
    annotations/mpii_val.json
    annotations/mpii_trainval.json       train entries, then val entries
    annotations/mpii_gt_val.mat          the PCKh ground truth: joints, missing
                                         flags and head boxes (what MPIIPCKh
                                         scores against)
    meta.json, README.txt
"""
import json
import multiprocessing as mp
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import cv2

from ..mpii_conventions import MPII_PIXEL_STD
from ..mpii_io import Entry, make_entry, write_annotations, write_gt_mat
from .scene import PersonAnnotation, SceneConfig, render_scene

GENERATOR_VERSION = '1.0.0'
VAL_ID_OFFSET = 100_000_000  # keeps val names stable when num_train changes
IMAGE_NAME_DIGITS = 9
DEFAULT_JPEG_QUALITY = 90
SPLITS = ('train', 'val')

ProgressFn = Callable[[int, int], None]
Job = Tuple[int, str, int, str, int, SceneConfig]


def image_name(split: str, index: int) -> str:
    """File name of an image, e.g. ``'000000017.jpg'``.

    Args:
        split (str): ``'train'`` or ``'val'``.
        index (int): Image index within the split.

    Returns:
        str: The file name; its stem is the MPII/MMPose ``img_id``.
    """
    img_id = index + 1 + (VAL_ID_OFFSET if split == 'val' else 0)
    if index >= VAL_ID_OFFSET - 1:
        raise ValueError(f'too many images in split {split}: {index + 1}')
    return f'{img_id:0{IMAGE_NAME_DIGITS}d}.jpg'


def person_entry(image: str, person: PersonAnnotation) -> Entry:
    """Convert a person to an MPII json entry (1-based coordinates).

    Args:
        image (str): Image file name.
        person (PersonAnnotation): The annotation.

    Returns:
        Dict[str, Any]: ``image``, ``center``, ``scale``, ``joints`` and
        ``joints_vis`` with plain Python numbers.
    """
    return make_entry(image, person.center, person.scale, person.joints,
                      person.visible)


def _render_job(job: Job) -> Tuple[List[Entry], List[List[List[float]]]]:
    """Render, encode and save one image; return its entries and head boxes.
    """
    seed, split, index, images_dir, quality, config = job
    scene = render_scene(seed, split, index, config)
    name = image_name(split, index)
    ok, buf = cv2.imencode('.jpg', scene.image,
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f'JPEG encoding failed for {name}')
    Path(images_dir, name).write_bytes(buf.tobytes())
    entries = [person_entry(name, p) for p in scene.people]
    boxes = [p.head_box.tolist() for p in scene.people]
    return entries, boxes


def _readme(meta: Dict[str, Any]) -> str:
    return (
        'Synthetic MPII-format human pose dataset (mmhg_plugin).\n'
        f'Generator version {meta["version"]}, seed {meta["seed"]}.\n'
        f'train: {meta["num_train_images"]} images, '
        f'{meta["num_train_people"]} people; val: '
        f'{meta["num_val_images"]} images, {meta["num_val_people"]} '
        'people.\nAnnotations follow the MPII json used by MMPose: one '
        'entry per person, 1-based joints, joints [-1, -1] and '
        'joints_vis 0 outside the image, scale = height / '
        f'{MPII_PIXEL_STD:g} px.\n'
        'Regenerate with tools/dataset_converters/make_synthetic_mpii.py.\n')


def generate_synthetic_mpii(
        out_dir: Union[str, Path],
        num_train: int,
        num_val: int,
        seed: int = 0,
        workers: int = 2,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
        config: Optional[SceneConfig] = None,
        progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Generate the synthetic dataset; output only depends on the inputs.

    Every image is seeded from ``(seed, split, index)``, so the files are
    byte-identical for any ``workers``. Files of an earlier run in
    ``out_dir`` are overwritten, other files there are left alone.

    Args:
        out_dir (str | Path): Output root (``data_root`` for MMPose).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        seed (int): Dataset seed.
        workers (int): Worker processes; 1 renders in this process.
        jpeg_quality (int): JPEG quality of the saved images.
        config (SceneConfig, optional): Scene options. Defaults to
            ``SceneConfig()``.
        progress (Callable[[int, int], None], optional): Called with
            (images done, images total) after every image.

    Returns:
        Dict[str, Any]: The metadata written to ``meta.json`` plus
        ``seconds`` and ``images_per_s``.
    """
    if num_train < 0 or num_val < 0 or not 1 <= jpeg_quality <= 100:
        raise ValueError('need num_train, num_val >= 0 and a JPEG quality '
                         f'in [1, 100], got {num_train}, {num_val}, '
                         f'{jpeg_quality}')
    cfg = config or SceneConfig()
    root = Path(out_dir)
    images_dir, ann_dir = root / 'images', root / 'annotations'
    images_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    counts = {'train': num_train, 'val': num_val}
    jobs = [(seed, split, i, str(images_dir), jpeg_quality, cfg)
            for split in SPLITS for i in range(counts[split])]
    start = time.perf_counter()
    if workers <= 1:
        results = map(_render_job, jobs)
        pool = None
    else:
        # 'fork' avoids re-importing the (heavy) parent packages in every
        # worker. Note: cv2.setNumThreads() in a forked child deadlocks.
        methods = mp.get_all_start_methods()
        ctx = mp.get_context('fork' if 'fork' in methods else 'spawn')
        pool = ctx.Pool(workers)
        results = pool.imap(_render_job, jobs, chunksize=4)
    entries: Dict[str, List[Entry]] = {split: [] for split in SPLITS}
    val_boxes: List[List[List[float]]] = []
    try:
        for done, (job, (items, boxes)) in enumerate(zip(jobs, results), 1):
            entries[job[1]].extend(items)
            if job[1] == 'val':
                val_boxes.extend(boxes)
            if progress is not None:
                progress(done, len(jobs))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    for split in SPLITS:
        write_annotations(ann_dir / f'mpii_{split}.json', entries[split])
    write_annotations(ann_dir / 'mpii_trainval.json',
                      entries['train'] + entries['val'])
    write_gt_mat(ann_dir / 'mpii_gt_val.mat', entries['val'], val_boxes)
    meta = {
        'generator': 'mmhg_plugin.datasets.synthetic',
        'version': GENERATOR_VERSION,
        'seed': seed,
        'num_train_images': num_train,
        'num_val_images': num_val,
        'num_train_people': len(entries['train']),
        'num_val_people': len(entries['val']),
        'val_image_id_offset': VAL_ID_OFFSET,
        'jpeg_quality': jpeg_quality,
        'scene_config': asdict(cfg),
    }
    (root / 'meta.json').write_text(json.dumps(meta), encoding='utf-8')
    (root / 'README.txt').write_text(_readme(meta), encoding='utf-8')
    seconds = time.perf_counter() - start
    return dict(
        meta, seconds=seconds, images_per_s=len(jobs) / max(seconds, 1e-9))
