"""Validate MPII-format annotations, images and head boxes.

Every check returns a list of :class:`Problem` (never raises for bad data),
so a caller can report all of them at once, as ``file:index field:
severity: message`` lines. Severities: ``error`` (the data is wrong),
``warning`` (it loads, but probably not as meant) and ``note`` (it loads,
after a conversion).

Two levels:

- :func:`check_annotation_file` with ``strict=False`` and
  :func:`check_headbox_file`: what MMPose's ``MpiiDataset`` needs to parse
  the files at all (JSON syntax, a non-empty list, the keys, 16 joints of 2
  numbers, a numeric image name, head boxes of shape 2 x 2 x N with N equal
  to the annotation count), and that the JSON entries are the people of
  the head-box file's rows (:func:`~.mpii_pairing.pairing_problems`, where
  the ``.mat`` holds joints). ``tools/train.py`` and ``tools/test.py`` run
  these before building the datasets (:func:`check_dataset_config`), so
  such files fail fast with every problem named.
- ``strict=True`` plus :func:`check_images`: also the values (finite
  joints, 0/1 visibility, scale > 0, finite centre, a centre far outside
  its image, no visible joint) and every image (exists, non-empty, decodes,
  JPEG not truncated; grayscale, alpha and 16-bit images are noted as
  converted to 8-bit BGR on reading). ``tools/dataset_converters/
  check_mpii.py`` runs all of it.
"""
import json
import math
import os.path as osp
from numbers import Real
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from .mpii_conventions import MPII_NUM_JOINTS, MPII_PIXEL_STD
from .mpii_io import ANNOTATION_KEYS, GT_MAT_FIELDS
from .mpii_pairing import pairing_problems
from .mpii_problem import Problem

__all__ = [
    'Problem', 'check_annotation_file', 'check_dataset_config', 'check_entry',
    'check_headbox_file', 'check_images', 'errors', 'load_annotations',
    'pairing_problems'
]


def _num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return _num(v) and math.isfinite(v)


def load_annotations(path: str) -> Tuple[Optional[list], List[Problem]]:
    """Read an MPII json file: a non-empty list, or the problems."""
    if not osp.isfile(path):
        return None, [Problem(path, None, 'file', 'does not exist')]
    try:
        with open(path, encoding='utf-8') as f:
            anns = json.load(f)
    except json.JSONDecodeError as e:
        return None, [Problem(path, None, 'json', f'malformed JSON at line '
                              f'{e.lineno} column {e.colno}: {e.msg}')]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(path, None, 'file', f'cannot read: {e}')]
    if not isinstance(anns, list):
        return None, [Problem(path, None, 'json', 'top level must be a list '
                              f'of annotations, got {type(anns).__name__}')]
    if not anns:
        return None, [Problem(path, None, 'json', 'the annotation list is '
                              'empty')]
    return anns, []


def check_entry(path: str, i: int, ann: Any, strict: bool) -> List[Problem]:
    """Check one annotation (structure; with ``strict`` its values too)."""
    p: List[Problem] = []

    def add(field: str, msg: str, severity: str = 'error') -> None:
        p.append(Problem(path, i, field, msg, severity))

    if not isinstance(ann, dict):
        add('entry', f'must be an object, got {type(ann).__name__}')
        return p
    missing = [k for k in ANNOTATION_KEYS if k not in ann]
    if missing:
        add('keys', f'missing {", ".join(missing)}')
    img = ann.get('image')
    if 'image' in ann and not (isinstance(img, str) and
                               osp.splitext(img)[0].isdigit()):
        add('image', f'must be a file name with a numeric stem (MpiiDataset '
            f'reads the img_id from it), got {img!r}')
    joints, vis = ann.get('joints'), ann.get('joints_vis')
    if 'joints' in ann:
        pair = [isinstance(j, list) and len(j) == 2 and all(map(_num, j))
                for j in joints] if isinstance(joints, list) else []
        if not isinstance(joints, list):
            add('joints', f'must be a list of {MPII_NUM_JOINTS} [x, y] '
                f'pairs, got {type(joints).__name__}')
        elif len(joints) != MPII_NUM_JOINTS:
            add('joints', f'has {len(joints)} joints, expected '
                f'{MPII_NUM_JOINTS}')
        elif not all(pair):
            bad = [k for k, ok in enumerate(pair) if not ok]
            add('joints', f'joints {bad} are not [x, y] pairs of numbers')
        elif strict:
            bad = [k for k, j in enumerate(joints) if not all(map(_finite, j))]
            if bad:
                add('joints', f'non-finite coordinates at joints {bad} '
                    '(they would train with weight 0)')
    if 'joints_vis' in ann:
        if not (isinstance(vis, list) and len(vis) == MPII_NUM_JOINTS
                and all(map(_num, vis))):
            n = (f'{len(vis)} entries' if isinstance(vis, list) else
                 type(vis).__name__)
            add('joints_vis', f'must be {MPII_NUM_JOINTS} numbers, got {n}')
        elif strict:
            if any(v not in (0, 1) for v in vis):
                add('joints_vis', f'values must be 0 or 1, got '
                    f'{sorted(set(vis) - {0, 1})}')
            elif not any(vis):
                add('joints_vis', 'every joint is invisible: the sample '
                    'trains with weight 0', 'warning')
    center = ann.get('center')
    if 'center' in ann:
        if not (isinstance(center, list) and len(center) == 2
                and all(map(_num, center))):
            add('center', f'must be [x, y] numbers, got {center!r}')
        elif strict and not all(map(_finite, center)):
            add('center', f'must be finite, got {center}')
    scale = ann.get('scale')
    if 'scale' in ann:
        if not _num(scale):
            add('scale', f'must be a number, got {scale!r}')
        elif strict and not (math.isfinite(scale) and scale > 0):
            add('scale', f'must be > 0 and finite, got {scale}')
    return p


def check_annotation_file(path: str, strict: bool = True
                          ) -> Tuple[Optional[list], List[Problem]]:
    """Load and check every entry of an MPII json file.

    Returns:
        tuple: the annotations (None when unreadable) and the problems.
    """
    anns, problems = load_annotations(path)
    for i, ann in enumerate(anns or ()):
        problems += check_entry(path, i, ann, strict)
    return anns, problems


def check_headbox_file(path: str, num_annotations: Optional[int]
                       ) -> List[Problem]:
    """Check ``mpii_gt_val.mat``: fields, shapes and the count."""
    from scipy.io import loadmat
    if not osp.isfile(path):
        return [Problem(path, None, 'file', 'head-box file does not exist')]
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for bad files
        return [Problem(path, None, 'file', f'cannot read as a .mat file: '
                        f'{type(e).__name__}: {e}')]
    p: List[Problem] = []
    for key, lead in GT_MAT_FIELDS.items():
        if key not in mat:
            needed = ('MpiiDataset needs it' if key == 'headboxes_src' else
                      'MPIIPCKh scores against the annotation JSON instead '
                      'and the pairing of its entries with the head boxes '
                      'cannot be proven')
            p.append(Problem(path, None, key, f'field missing ({needed})',
                             'error' if key == 'headboxes_src' else
                             'warning'))
            continue
        shape = np.shape(mat[key])
        if len(shape) != len(lead) + 1 or shape[:len(lead)] != lead:
            want = ' x '.join(map(str, lead + ('N', )))
            p.append(Problem(path, None, key, f'shape {shape}, expected '
                             f'{want}'))
            continue
        if num_annotations is not None and shape[-1] != num_annotations:
            p.append(Problem(path, None, key, f'holds {shape[-1]} people but '
                             f'the annotation file has {num_annotations}'))
    return p


def _image_info(path: str) -> Tuple[Optional[Tuple[int, int]],
                                    List[Tuple[str, str]]]:
    """(width, height) or None, and (severity, message) findings."""
    if not osp.isfile(path):
        return None, [('error', f'image file {path} does not exist')]
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        return None, [('error', f'image file {path} is empty (0 bytes)')]
    out: List[Tuple[str, str]] = []
    jpeg = data.size >= 2 and data[0] == 0xFF and data[1] == 0xD8
    if jpeg:
        tail = data[-64:]
        if not ((tail[:-1] == 0xFF) & (tail[1:] == 0xD9)).any():
            return None, [('error', f'image file {path} is a truncated JPEG '
                           f'(no end-of-image marker, {data.size} bytes)')]
        flag = cv2.IMREAD_REDUCED_COLOR_8  # enough to prove it decodes
    else:
        flag = cv2.IMREAD_UNCHANGED
    img = cv2.imdecode(data, flag)
    if img is None:
        return None, [('error', f'cannot decode image {path} ({data.size} '
                       'bytes, corrupt or unsupported)')]
    try:
        with Image.open(path) as im:
            size, mode = im.size, im.mode
    except OSError:
        size, mode = (img.shape[1], img.shape[0]), ''
    kind = []
    if img.dtype != np.uint8:
        kind.append(f'{8 * img.dtype.itemsize}-bit')
    if mode in ('L', 'LA', '1') or (not jpeg and img.ndim == 2):
        kind.append('grayscale')
    if not jpeg and img.ndim == 3 and img.shape[2] in (2, 4):
        kind.append('with alpha')
    if mode == 'CMYK':
        kind.append('CMYK')
    if kind:
        out.append(('note', f'{path} is {" ".join(kind)}: read as 8-bit BGR'))
    return size, out


def check_images(path: str, anns: Sequence[Any], img_dir: str
                 ) -> List[Problem]:
    """Check the image of every annotation, and its centre against it.

    Errors are repeated for every annotation of a broken image; notes are
    given once per image.
    """
    cache: Dict[str, Tuple[Optional[Tuple[int, int]],
                           List[Tuple[str, str]]]] = {}
    p: List[Problem] = []
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict) or not isinstance(ann.get('image'), str):
            continue
        name = ann['image']
        first = name not in cache
        if first:
            cache[name] = _image_info(osp.join(img_dir, name))
        size, found = cache[name]
        for severity, msg in found:
            if severity != 'note' or first:
                p.append(Problem(path, i, 'image', msg, severity))
        center, scale = ann.get('center'), ann.get('scale')
        if size is None or not (isinstance(center, list) and len(center) == 2
                                and all(map(_finite, center))
                                and _finite(scale) and scale > 0):
            continue
        half = MPII_PIXEL_STD * scale / 2
        (w, h), (x, y) = size, center
        if x < -half or y < -half or x > w + half or y > h + half:
            p.append(Problem(path, i, 'center', f'{center} lies outside the '
                             f'{w}x{h} image by more than half the person '
                             f'box ({half:g} px): the crop shows no image '
                             'and every joint gets weight 0', 'warning'))
    return p


def check_dataset_config(ds: Any) -> List[Problem]:
    """Parse-level checks of every ``MpiiDataset`` in a dataset config, and
    the pairing of its entries with the head-box file.

    Follows ``dataset``/``datasets`` of wrappers; paths are resolved as
    MMPose does (``ann_file`` under ``data_root``, ``headbox_file`` as is).
    """
    if isinstance(ds, (list, tuple)):
        return [q for d in ds for q in check_dataset_config(d)]
    if not hasattr(ds, 'get'):
        return []
    if str(ds.get('type', '')).split('.')[-1] != 'MpiiDataset':
        return check_dataset_config(ds.get('dataset') or ds.get('datasets'))
    ann_file, root = ds.get('ann_file', ''), ds.get('data_root')
    if ann_file and root and not osp.isabs(ann_file):
        ann_file = osp.join(root, ann_file)
    anns, p = check_annotation_file(ann_file, strict=False)
    if ds.get('headbox_file'):
        p += check_headbox_file(ds['headbox_file'],
                                None if anns is None else len(anns))
        if anns is not None:
            p += pairing_problems(ann_file, anns, ds['headbox_file'])
    return p


def errors(problems: Sequence[Problem]) -> List[Problem]:
    """The problems of severity ``error``."""
    return [q for q in problems if q.severity == 'error']
