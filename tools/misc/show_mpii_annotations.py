"""Draw one MPII-format annotation on its image.

Reads ``annotations/mpii_<split>.json`` (and, when present for the split,
``annotations/mpii_gt_val.mat`` for the head box) and draws the joints,
the MPII skeleton, the head box, the centre and the crop box that MMPose and
``MPIITopdownAffine`` use (``mpii_crop_box`` of
:mod:`mmhg_plugin.datasets.mpii_conventions`). Coordinates in the files are
1-based.

Example::

    python tools/misc/show_mpii_annotations.py --data-root data/synth_mpii \
        --split val --index 0 --out ann.png
"""
import argparse
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from mmhg_plugin.datasets.mpii_conventions import (
    MPII_INDEX_BASE,
    MPII_JOINT_NAMES,
    MPII_LEFT_JOINTS,
    MPII_RIGHT_JOINTS,
    MPII_SKELETON,
    mpii_crop_box,
)
from mmhg_plugin.datasets.mpii_io import read_annotations, read_head_boxes

RIGHT_COLOR = (0, 128, 255)  # orange (BGR)
LEFT_COLOR = (255, 128, 0)  # blue
MIDDLE_COLOR = (0, 220, 0)
HEAD_BOX_COLOR = (0, 255, 255)
CROP_COLOR = (255, 0, 255)
CENTER_COLOR = (0, 0, 255)


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synth_mpii')
    parser.add_argument(
        '--split', default='val', choices=['train', 'val', 'trainval'])
    parser.add_argument(
        '--index',
        type=int,
        default=0,
        help='index of the person entry in the json')
    parser.add_argument(
        '--all-people',
        action='store_true',
        help='also draw the other people of the same image')
    parser.add_argument('--out', default='ann.png')
    return parser.parse_args()


def joint_color(joint: int) -> Tuple[int, int, int]:
    """Colour of a joint: orange right, blue left, green centre line.

    Args:
        joint (int): MPII joint index.

    Returns:
        Tuple[int, int, int]: BGR colour.
    """
    if joint in MPII_RIGHT_JOINTS:
        return RIGHT_COLOR
    if joint in MPII_LEFT_JOINTS:
        return LEFT_COLOR
    return MIDDLE_COLOR


def load_head_boxes(root: Path, split: str) -> Optional[np.ndarray]:
    """Head boxes (N, 2, 2), 1-based, of the val split, else ``None``.

    Args:
        root (Path): Dataset root.
        split (str): Split name.

    Returns:
        np.ndarray | None: Boxes in json order, like MMPose reads them.
    """
    path = root / 'annotations' / 'mpii_gt_val.mat'
    if split != 'val' or not path.exists():
        return None
    return read_head_boxes(path)


def draw_entry(img: np.ndarray, entry: Dict[str, Any],
               head_box: Optional[np.ndarray], thick: int) -> None:
    """Draw one person entry (1-based coordinates) in place.

    Args:
        img (np.ndarray): BGR image.
        entry (Dict[str, Any]): MPII json entry.
        head_box (np.ndarray, optional): (2, 2) 1-based head box.
        thick (int): Line thickness.
    """
    joints = np.array(entry['joints'], dtype=np.float64) - MPII_INDEX_BASE
    vis = np.array(entry['joints_vis'], dtype=bool)
    center = np.array(entry['center'], dtype=np.float64) - MPII_INDEX_BASE
    crop_center, side = mpii_crop_box(entry['center'], float(entry['scale']))
    half = 0.5 * side
    cv2.rectangle(img, tuple(np.round(crop_center - half).astype(int)),
                  tuple(np.round(crop_center + half).astype(int)), CROP_COLOR,
                  thick, cv2.LINE_AA)
    if head_box is not None:
        box = np.round(np.asarray(head_box) - MPII_INDEX_BASE).astype(int)
        cv2.rectangle(img, tuple(box[0]), tuple(box[1]), HEAD_BOX_COLOR, thick,
                      cv2.LINE_AA)
    for a, b in MPII_SKELETON:
        if vis[a] and vis[b]:
            color = joint_color(a)
            color = joint_color(b) if color == MIDDLE_COLOR else color
            cv2.line(img, tuple(np.round(joints[a]).astype(int)),
                     tuple(np.round(joints[b]).astype(int)), color, thick,
                     cv2.LINE_AA)
    radius = max(2, 2 * thick)
    for j in np.flatnonzero(vis):
        p = tuple(np.round(joints[j]).astype(int))
        cv2.circle(img, p, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(img, p, radius, joint_color(int(j)), -1, cv2.LINE_AA)
    c = tuple(np.round(center).astype(int))
    cv2.drawMarker(img, c, CENTER_COLOR, cv2.MARKER_CROSS, 6 * radius, thick)
    cv2.drawMarker(img, tuple(np.round(crop_center).astype(int)), CROP_COLOR,
                   cv2.MARKER_TILTED_CROSS, 4 * radius, thick)


def main() -> None:
    """Load the annotation, draw it and save the picture."""
    args = parse_args()
    root = Path(args.data_root)
    entries = read_annotations(root / 'annotations' /
                               f'mpii_{args.split}.json')
    entry = entries[args.index]
    head_boxes = load_head_boxes(root, args.split)
    img = cv2.imread(str(root / 'images' / entry['image']), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(root / 'images' / entry['image'])
    thick = max(1, int(round(max(img.shape[:2]) / 500)))
    indices = [
        i for i, e in enumerate(entries) if e['image'] == entry['image']
    ] if args.all_people else [args.index]
    for i in indices:
        draw_entry(img, entries[i],
                   None if head_boxes is None else head_boxes[i], thick)
    missing = [
        MPII_JOINT_NAMES[j]
        for j, v in enumerate(entry['joints_vis']) if not v
    ]
    print(f'{entry["image"]}: {img.shape[1]}x{img.shape[0]}, scale '
          f'{entry["scale"]:.3f}, center {entry["center"]}, missing '
          f'{missing or "none"}')
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, img):
        raise SystemExit(f'error: could not write {args.out} (unknown '
                         'image extension or unwritable path)')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
