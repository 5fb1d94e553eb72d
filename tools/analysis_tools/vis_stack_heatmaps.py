"""Show every stack's heatmaps for one person: watch the stacks refine.

    python tools/analysis_tools/vis_stack_heatmaps.py CONFIG CHECKPOINT IMAGE
        [--bbox x1 y1 x2 y2] [--out stacks.png] [--joints all|per-joint]
        [--cfg-options k=v ...]

The person box (default: the whole image) is cropped with the config's test
pipeline (``MPIITopdownAffine`` + ``PackPoseInputs``, as
``mmpose.apis.inference_topdown``: the crop is the box enlarged by the
pipeline's ``scale_padding``), normalised by the model's data preprocessor,
and run once; ``model.head.forward(model.extract_feat(inputs))`` gives one
heatmap tensor per stack.

Figure (PNG, no display needed), a grid of square cells:

- row 1: the crop, then stack 1 ... N: all joints max-overlaid (negative
  values clipped), one colour scale for all stacks, blended over the crop,
  with each stack's decoded joints as dots;
- with ``--joints per-joint``, one more row per joint (named from the
  model's ``dataset_meta``): the crop with the last stack's prediction for
  that joint, then that joint's heatmap at every stack (one colour scale per
  row).

CHECKPOINT ``none`` runs randomly initialised weights (for smoke tests).
"""
import argparse
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)

#: Side of one grid cell and height of the title band (inches); resolution.
CELL_INCH = 2.4
TITLE_INCH = 0.6
DPI = 100
CMAP = 'jet'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description='Per-stack heatmaps of a person')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' for random "
                   'weights')
    p.add_argument('image', help='image file')
    p.add_argument('--bbox', type=float, nargs=4,
                   metavar=('X1', 'Y1', 'X2', 'Y2'),
                   help='person box in image pixels (default: whole image)')
    p.add_argument('--out', default='stacks.png', help='output PNG')
    p.add_argument('--joints', choices=['all', 'per-joint'], default='all',
                   help='all joints overlaid, or also a joint x stack grid')
    p.add_argument('--alpha', type=float, default=0.7,
                   help='opacity of the heatmap maxima over the crop')
    p.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    return p.parse_args(argv)


def load_model(config: str, checkpoint: str, device: str,
               cfg_options: Optional[dict]) -> nn.Module:
    """``mmpose.apis.init_model``, with ``checkpoint='none'`` for random."""
    from mmpose.apis import init_model
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if not (what == 'checkpoint' and path.lower() == 'none') and \
                not Path(path).is_file():
            raise SystemExit(f'vis_stack_heatmaps: no such {what}: {path}')
    ckpt = None if checkpoint.lower() == 'none' else checkpoint
    if ckpt is None:
        print('warning: no checkpoint, random weights')
    return init_model(config, ckpt, device=device, cfg_options=cfg_options)


def stack_heatmaps(model: nn.Module, image: str,
                   bbox: Optional[Sequence[float]]
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Crop the person and run the network once.

    Args:
        model (nn.Module): Estimator from ``init_model`` (has ``cfg`` and
            ``dataset_meta``).
        image (str): Image file.
        bbox (Sequence[float] | None): x1, y1, x2, y2; None: whole image.

    Returns:
        tuple: the crop as RGB uint8 (H, W, 3) and one heatmap array
        (K, h, w) per stack, stack 0 first.
    """
    init_default_scope(model.cfg.get('default_scope', 'mmpose'))
    if bbox is None:
        with Image.open(image) as im:
            w, h = im.size
        bbox = (0., 0., float(w), float(h))
    x1, y1, x2, y2 = bbox
    if x2 <= x1 or y2 <= y1:
        raise SystemExit(f'--bbox needs x1 < x2 and y1 < y2, got {bbox}')
    info = dict(img_path=image,
                bbox=np.array([bbox], np.float32),
                bbox_score=np.ones(1, np.float32))
    info.update(model.dataset_meta)
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    batch = pseudo_collate([pipeline(info)])
    crop_bgr = batch['inputs'][0].permute(1, 2, 0).cpu().numpy()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        outs = model.head.forward(model.extract_feat(data['inputs']))
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    heatmaps = [o[0].float().cpu().numpy() for o in outs]
    return np.ascontiguousarray(crop_bgr[..., ::-1]), heatmaps


def decode_stacks(model: nn.Module,
                  heatmaps: List[np.ndarray]) -> Optional[List[np.ndarray]]:
    """Each stack's keypoints (K, 2) in crop pixels, or None (no decoder)."""
    decoder = getattr(model.head, 'decoder', None)
    if decoder is None:
        return None
    return [decoder.decode(hm)[0][0] for hm in heatmaps]


def joint_names(model: nn.Module, num: int) -> List[str]:
    """Joint names from ``dataset_meta`` (fallback: indices)."""
    names: Dict[int, str] = model.dataset_meta.get('keypoint_id2name') or {}
    return [names.get(i, f'joint {i}') for i in range(num)]


def _show(ax, crop: np.ndarray, heat: Optional[np.ndarray], vmax: float,
          alpha: float, gray: bool = False) -> None:
    """Draw the crop and (optionally) a heatmap over it, pixel-aligned.

    The heatmap's colour and opacity both grow with its value (0 ..
    ``vmax``), so the crop stays visible where the network sees nothing.
    """
    h, w = crop.shape[:2]
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # heatmap cells span 4x4 pixels
    img = crop.mean(-1) if gray else crop
    ax.imshow(img, cmap='gray' if gray else None, extent=extent,
              vmin=0, vmax=255)
    if heat is not None:
        level = np.clip(heat / max(vmax, 1e-6), 0., 1.)
        rgba = plt.get_cmap(CMAP)(level)
        rgba[..., 3] = alpha * level**0.75
        ax.imshow(rgba, extent=extent, interpolation='bilinear')
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def render(crop: np.ndarray, heatmaps: List[np.ndarray],
           keypoints: Optional[List[np.ndarray]], names: List[str],
           per_joint: bool, alpha: float, out: Path) -> Tuple[int, int]:
    """Draw the figure into ``out``; return (rows, columns) of the grid.

    Args:
        crop (np.ndarray): RGB crop (H, W, 3).
        heatmaps (list[np.ndarray]): Per-stack heatmaps (K, h, w).
        keypoints (list[np.ndarray] | None): Per-stack decoded (K, 2).
        names (list[str]): Joint names (K).
        per_joint (bool): Add the joint x stack grid.
        alpha (float): Heatmap opacity.
        out (Path): Output PNG.
    """
    n, k = len(heatmaps), heatmaps[0].shape[0]
    rows, cols = (1 + k if per_joint else 1), 1 + n
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(cols * CELL_INCH,
                                      rows * CELL_INCH + TITLE_INCH))
    overlays = [hm.max(0) for hm in heatmaps]
    vmax = max(float(o.max()) for o in overlays)
    _show(axes[0, 0], crop, None, vmax, alpha)
    axes[0, 0].set_title('input crop', fontsize=9)
    for s in range(n):
        ax = axes[0, s + 1]
        _show(ax, crop, overlays[s], vmax, alpha)
        if keypoints is not None:
            ax.scatter(*keypoints[s].T, s=8, c='w', edgecolors='k',
                       linewidths=0.5)
        ax.set_title(f'stack {s + 1}/{n}: max {overlays[s].max():.2f}',
                     fontsize=9)
    for j in range(k if per_joint else 0):
        row = axes[j + 1]
        joint_max = max(float(hm[j].max()) for hm in heatmaps)
        _show(row[0], crop, None, joint_max, alpha, gray=True)
        if keypoints is not None:
            row[0].scatter(*keypoints[-1][j], s=30, c='r', marker='x')
        row[0].set_ylabel(names[j], fontsize=9)
        row[0].set_title(names[j], fontsize=8)
        for s in range(n):
            _show(row[s + 1], crop, heatmaps[s][j], joint_max, alpha,
                  gray=True)
            row[s + 1].set_title(
                f'{names[j]} s{s + 1}: {heatmaps[s][j].max():.2f}',
                fontsize=7)
    fig.suptitle(f'{n} stacks, {k} joints\ncolour scale: 0 .. max over '
                 'the stacks of a row', fontsize=9)
    fig.tight_layout(rect=(0, 0, 1,
                           1 - TITLE_INCH / (rows * CELL_INCH + TITLE_INCH)))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return rows, cols


def main(argv: Optional[List[str]] = None) -> Path:
    """Entry point; returns the written PNG path."""
    args = parse_args(argv)
    if not Path(args.image).is_file():
        raise SystemExit(f'vis_stack_heatmaps: no such image: {args.image}')
    model = load_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    crop, heatmaps = stack_heatmaps(model, args.image, args.bbox)
    keypoints = decode_stacks(model, heatmaps)
    names = joint_names(model, heatmaps[0].shape[0])
    out = Path(args.out)
    rows, cols = render(crop, heatmaps, keypoints, names,
                        args.joints == 'per-joint', args.alpha, out)
    peaks = ', '.join(f's{i + 1} {hm.max():.3f}'
                      for i, hm in enumerate(heatmaps))
    print(f'{len(heatmaps)} stacks, heatmaps {heatmaps[0].shape} each, crop '
          f'{crop.shape[1]}x{crop.shape[0]}; peak per stack: {peaks}')
    if args.joints == 'per-joint':
        print(f'joint rows: {", ".join(names)}')
    print(f'layout: {rows} rows x {cols} columns')
    print(f'saved {out}')
    return out


if __name__ == '__main__':
    main()
