"""Draw the predicted skeleton of one person (or a whole image) with MMPose.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT [--bbox x1 y1 x2 y2]
        --out-file out.png [--device cpu] [--kpt-thr 0.1] [--radius 4]
        [--thickness 2] [--partial-load]

Uses MMPose's own ``init_model`` and ``inference_topdown``; the skeleton
(joint names, links, colours) comes from the dataset metadata saved in the
checkpoint. A checkpoint without it is refused (MMPose would silently fall back
to COCO's 17 points). Without ``--bbox`` the whole image is the person box.
A checkpoint that cannot be read, or whose keys or shapes differ from the
model, is refused with one line and exit status 1 (``--partial-load`` loads
only the matching tensors).
"""
import argparse
from typing import Optional, Sequence

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import mmcv  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmpose.apis import inference_topdown, init_model  # noqa: E402
from mmpose.registry import VISUALIZERS  # noqa: E402
from mmpose.structures import merge_data_samples  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)
from mmhg_plugin.engine.runner_setup import error_line  # noqa: E402
from mmhg_plugin.utils.errors import MMHGError  # noqa: E402
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Top-down pose on one image')
    p.add_argument('image', help='image file')
    p.add_argument('config', help='model config')
    p.add_argument('checkpoint', help='checkpoint with dataset_meta')
    p.add_argument('--bbox', type=float, nargs=4,
                   metavar=('X1', 'Y1', 'X2', 'Y2'),
                   help='person box in pixels (default: whole image)')
    p.add_argument('--out-file', required=True, help='output picture')
    p.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    p.add_argument('--kpt-thr', type=float, default=0.05,
                   help='draw joints scoring at least this')
    p.add_argument('--radius', type=int, default=4)
    p.add_argument('--thickness', type=int, default=2)
    p.add_argument('--partial-load', action='store_true',
                   help='load a checkpoint that matches the model only in '
                   'part (sets model.partial_load=True)')
    return p.parse_args(argv)


def checkpoint_dataset_meta(path: str) -> dict:
    """The dataset metadata saved in a checkpoint, or a clear error."""
    meta = load_checkpoint_safely(path).get('meta', {})
    if 'dataset_meta' not in meta:
        raise SystemExit(
            f'{path} has no meta.dataset_meta: refusing to guess the skeleton '
            '(MMPose would fall back to COCO). Checkpoints from tools/train.py '
            'and the model converters carry it.')
    return meta['dataset_meta']


def run(args: argparse.Namespace):
    """Predict and draw; returns the PoseDataSample and the joint names."""
    dataset_meta = checkpoint_dataset_meta(args.checkpoint)
    config = Config.fromfile(args.config)
    if args.partial_load:
        config.model.partial_load = True
    model = init_model(config, args.checkpoint, device=args.device)
    num_kpts = model.head.out_channels
    if len(dataset_meta['keypoint_id2name']) != num_kpts:
        raise SystemExit(
            f"checkpoint metadata has {len(dataset_meta['keypoint_id2name'])} "
            f'joints but the model predicts {num_kpts}')
    img = mmcv.imread(args.image, channel_order='rgb')
    if img is None:
        raise SystemExit(f'cannot read image {args.image}')
    bboxes = None if args.bbox is None else np.array([args.bbox], np.float32)
    results = inference_topdown(model, args.image, bboxes=bboxes)
    sample = merge_data_samples(results)
    visualizer = VISUALIZERS.build(dict(
        type='PoseLocalVisualizer', radius=args.radius,
        line_width=args.thickness, name=f'image_demo_{id(args)}'))
    visualizer.set_dataset_meta(model.dataset_meta)
    visualizer.add_datasample(
        'result', img, data_sample=sample, draw_gt=False, draw_bbox=True,
        draw_heatmap=False, show=False, kpt_thr=args.kpt_thr,
        out_file=args.out_file)
    return sample, model.dataset_meta['keypoint_id2name']


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        sample, names = run(args)
    except MMHGError as e:
        raise SystemExit(error_line(e, args.checkpoint)) from None
    kpts = sample.pred_instances.keypoints[0]
    scores = sample.pred_instances.keypoint_scores[0]
    for k, ((x, y), s) in enumerate(zip(kpts, scores)):
        print(f'{names[k]:>16}: x={x:8.1f} y={y:8.1f} score={s:.3f}')
    print(f'saved {args.out_file}')


if __name__ == '__main__':
    main()
