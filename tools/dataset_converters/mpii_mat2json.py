"""Convert the official MPII annotation .mat into the files our configs read.

    python tools/dataset_converters/mpii_mat2json.py \\
        mpii_human_pose_v1_u12_1.mat --val-split VAL.json [--out-dir data/mpii]

Reads ``RELEASE`` of ``mpii_human_pose_v1_u12_1.mat`` (from
http://human-pose.mpi-inf.mpg.de): ``annolist(i).image.name``,
``annolist(i).annorect(j)`` with ``objpos.x/y``, ``scale``, the head box
``x1, y1, x2, y2`` and ``annopoints.point(k)`` (``x``, ``y``, ``id`` = MPII
joint 0-15, ``is_visible``), and ``img_train(i)`` (``single_person``,
``act`` and ``video_list`` are not needed). Writes, under
``OUT_DIR/annotations/``:

- ``mpii_train.json`` / ``mpii_val.json``: MMPose's MPII layout, one entry
  per person: ``{"image", "center" (= objpos), "scale", "joints" [16][2],
  "joints_vis" [16]}``. Coordinates are copied unchanged (MATLAB, 1-based);
  ``joints_vis`` is 1 for every *annotated* joint (occluded ones included,
  as the official PCKh counts them) and a joint without annotation is
  ``[-1, -1]`` with ``joints_vis`` 0. ``--with-is-visible`` adds
  ``"joints_is_visible"`` (MPII's occlusion flag: 1 visible, 0 occluded, -1
  not annotated; an empty flag counts as visible, as pose-hg-train's
  ``src/misc/mpii.py`` reads it). MMPose ignores that extra field.
- ``mpii_gt_val.mat``: ``pos_gt_src`` 16x2xN, ``jnt_missing`` 16xN,
  ``headboxes_src`` 2x2xN (``[[x1, y1], [x2, y2]]``), ``dataset_joints``,
  for the val people in split order.

Train = every person with annotated joints, ``scale`` and ``objpos`` in an
image with ``img_train == 1`` that is not in the validation split.

The validation split (``--val-split``) is the standard one of Tompson et
al. (CVPR 2015): 2,958 people from MPII training images, used by
pose-hg-train (``data/mpii/annot/valid.h5``), the PyTorch port
(``data/MPII/annot/valid.h5``), HRNet and MMPose (``mpii_val.json``). Give
it as either

- a JSON list of ``{"image": "015601864.jpg", "person": 0}``, ``person``
  being the 0-based ``annorect`` index (the ``person`` field of
  ``valid.h5``); or
- an MMPose-style ``mpii_val.json``: every entry is matched to the
  ``annorect`` of the same image whose ``objpos`` is nearest to its
  ``center`` (error if none is within ``--match-tol`` px).

``.h5`` files are not read (h5py is not a dependency): dump ``imgname`` and
``person`` of ``valid.h5`` to the JSON list elsewhere. Indices in error
messages are 0-based (``annolist[i]`` is MATLAB's ``annolist(i+1)``).
"""
import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np  # noqa: E402
import scipy.io  # noqa: E402

from mmhg_plugin.datasets.mpii_conventions import MPII_NUM_JOINTS  # noqa: E402
from mmhg_plugin.datasets.mpii_io import make_entry, write_annotations, write_gt_mat  # noqa: E402

DEFAULT_MATCH_TOL = 3.0


class MpiiMatError(ValueError):
    """Malformed annotation or split (names image, person and field)."""


@dataclass
class Person:
    """One annotated person of the .mat (coordinates 1-based as stored)."""

    image_index: int
    person_index: int
    image: str
    center: Tuple[float, float]
    scale: float
    joints: np.ndarray  # (16, 2), [-1, -1] where not annotated
    annotated: np.ndarray  # (16,) 0/1
    is_visible: np.ndarray  # (16,) 1 / 0 / -1 (not annotated)
    head_box: Optional[np.ndarray]  # (2, 2) [[x1, y1], [x2, y2]] or None


def _empty(v: Any) -> bool:
    return (v is None or (isinstance(v, np.ndarray) and v.size == 0)
            or (isinstance(v, str) and not v.strip()))


def _items(v: Any) -> List[Any]:
    """A squeezed MATLAB struct array as a list (a 1x1 one loads as the
    struct itself, an empty one as an empty array)."""
    if _empty(v):
        return []
    if isinstance(v, np.ndarray):
        return list(v.ravel())
    return [v]


def _field(obj: Any, name: str) -> Any:
    """Field ``name`` of a struct, None when absent or empty."""
    v = getattr(obj, name, None)
    return None if _empty(v) else v


def _number(v: Any, where: str) -> float:
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
    try:
        out = float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError):
        raise MpiiMatError(f'{where}: expected a number, got {v!r}') from None
    if not np.isfinite(out):
        raise MpiiMatError(f'{where}: not finite ({v!r})')
    return out


def _visibility(v: Any, where: str) -> int:
    """MPII's ``is_visible``: 0/1 as number or string; empty -> 1."""
    if _empty(v):
        return 1
    n = _number(v, where)
    if n not in (0., 1.):
        raise MpiiMatError(f'{where}: expected 0 or 1, got {v!r}')
    return int(n)


def parse_person(rect: Any, i: int, j: int, image: str) -> Optional[Person]:
    """One ``annorect``; None when it lacks joints, ``scale`` or ``objpos``.
    """
    where = f'annolist[{i}] ({image}) annorect[{j}]'
    annopoints, scale = _field(rect, 'annopoints'), _field(rect, 'scale')
    objpos = _field(rect, 'objpos')
    points = _items(_field(annopoints, 'point')) if annopoints else []
    if not points or scale is None or objpos is None:
        return None
    joints = np.full((MPII_NUM_JOINTS, 2), -1.)
    annotated = np.zeros(MPII_NUM_JOINTS, int)
    visible = np.full(MPII_NUM_JOINTS, -1)
    for k, pt in enumerate(points):
        at = f'{where}: field annopoints.point[{k}]'
        jid = _number(_field(pt, 'id'), f'{at}.id')
        if jid != int(jid) or not 0 <= jid < MPII_NUM_JOINTS:
            raise MpiiMatError(f'{at}.id: expected a joint id '
                               f'0-{MPII_NUM_JOINTS - 1}, got {jid}')
        jid = int(jid)
        if annotated[jid]:
            raise MpiiMatError(f'{at}.id: joint {jid} annotated twice')
        joints[jid] = [_number(_field(pt, c), f'{at}.{c}') for c in 'xy']
        annotated[jid] = 1
        visible[jid] = _visibility(getattr(pt, 'is_visible', None),
                                   f'{at}.is_visible')
    s = _number(scale, f'{where}: field scale')
    if s <= 0:
        raise MpiiMatError(f'{where}: field scale must be > 0, got {s}')
    center = tuple(
        _number(_field(objpos, c), f'{where}: field objpos.{c}') for c in 'xy')
    box = None
    if all(_field(rect, f) is not None for f in ('x1', 'y1', 'x2', 'y2')):
        box = np.array([[_number(rect.x1, f'{where}: field x1'),
                         _number(rect.y1, f'{where}: field y1')],
                        [_number(rect.x2, f'{where}: field x2'),
                         _number(rect.y2, f'{where}: field y2')]])
    return Person(i, j, image, center, s, joints, annotated, visible, box)


def load_release(path: str) -> Tuple[List[str], np.ndarray,
                                     Dict[Tuple[int, int], Person]]:
    """Image names, ``img_train`` and the annotated people of the .mat."""
    mat = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=True)
    if 'RELEASE' not in mat:
        found = sorted(k for k in mat if not k.startswith('_'))
        raise MpiiMatError(f'{path}: no RELEASE struct (variables: {found})')
    release = mat['RELEASE']
    annolist = _items(_field(release, 'annolist'))
    img_train = np.atleast_1d(np.asarray(_field(release, 'img_train'),
                                         dtype=float))
    if not annolist or len(annolist) != img_train.size:
        raise MpiiMatError(f'{path}: RELEASE.annolist has {len(annolist)} '
                           f'images but RELEASE.img_train {img_train.size}')
    names, people = [], {}
    for i, ann in enumerate(annolist):
        name = _field(_field(ann, 'image'), 'name')
        if not isinstance(name, str):
            raise MpiiMatError(f'{path}: annolist[{i}]: field image.name is '
                               f'missing or not a string ({name!r})')
        names.append(name)
        for j, rect in enumerate(_items(_field(ann, 'annorect'))):
            person = parse_person(rect, i, j, name)
            if person is not None:
                people[(i, j)] = person
    return names, img_train, people


def read_val_split(path: str, names: List[str],
                   people: Dict[Tuple[int, int], Person],
                   tol: float) -> List[Person]:
    """The validation people, in the order of the split file."""
    entries = json.loads(Path(path).read_text(encoding='utf-8'))
    if not isinstance(entries, list) or not entries:
        raise MpiiMatError(f'{path}: expected a non-empty JSON list')
    by_name: Dict[str, List[int]] = {}
    for i, name in enumerate(names):
        by_name.setdefault(name, []).append(i)
    chosen: List[Person] = []
    for n, e in enumerate(entries):
        where = f'{path}: entry {n}'
        if not isinstance(e, dict) or 'image' not in e or not (
                'person' in e or 'center' in e):
            raise MpiiMatError(f'{where}: needs "image" and "person" (or '
                               f'"center"), got {e!r}')
        images = by_name.get(e['image'], [])
        if len(images) != 1:
            raise MpiiMatError(f'{where}: image {e["image"]!r} is in the '
                               f'.mat {len(images)} times (need once)')
        i = images[0]
        if 'person' in e:
            key = (i, int(e['person']))
            if key not in people:
                raise MpiiMatError(
                    f'{where}: annolist[{i}] ({e["image"]}) annorect'
                    f'[{key[1]}] is not an annotated person (no joints, '
                    'scale or objpos, or no such annorect)')
        else:
            c = np.asarray(e['center'], float)
            cands = [(float(np.hypot(*(np.asarray(p.center) - c))), k)
                     for k, p in people.items() if k[0] == i]
            if not cands or min(cands)[0] > tol:
                raise MpiiMatError(
                    f'{where}: no annotated person of {e["image"]} has '
                    f'objpos within {tol} px of center {c.tolist()} '
                    f'(nearest: {min(cands)[0] if cands else "none"})')
            key = min(cands)[1]
        person = people[key]
        if any(p is person for p in chosen):
            raise MpiiMatError(f'{where}: annolist[{i}] annorect[{key[1]}] '
                               'is in the split twice')
        if person.head_box is None:
            raise MpiiMatError(f'{where}: annolist[{i}] ({e["image"]}) '
                               f'annorect[{key[1]}]: field x1/y1/x2/y2 (head '
                               'box, needed for PCKh) is missing')
        chosen.append(person)
    return chosen


def to_entry(p: Person, with_is_visible: bool = False) -> Dict[str, Any]:
    """MMPose json entry of one person (plain Python numbers)."""
    entry = make_entry(p.image, p.center, p.scale, p.joints, p.annotated)
    if with_is_visible:
        entry['joints_is_visible'] = [int(v) for v in p.is_visible]
    return entry


def convert(mat_file: str, val_split: str, out_dir: str,
            match_tol: float = DEFAULT_MATCH_TOL,
            with_is_visible: bool = False) -> Dict[str, int]:
    """Write the three annotation files; return counts."""
    names, img_train, people = load_release(mat_file)
    val = read_val_split(val_split, names, people, match_tol)
    val_keys = {(p.image_index, p.person_index) for p in val}
    train = [p for k, p in sorted(people.items())
             if img_train[k[0]] == 1 and k not in val_keys]
    ann = Path(out_dir) / 'annotations'
    ann.mkdir(parents=True, exist_ok=True)
    val_entries = [to_entry(p, with_is_visible) for p in val]
    write_annotations(ann / 'mpii_train.json',
                      [to_entry(p, with_is_visible) for p in train])
    write_annotations(ann / 'mpii_val.json', val_entries)
    write_gt_mat(ann / 'mpii_gt_val.mat', val_entries,
                 [p.head_box.tolist() for p in val])
    val_images = {p.image_index for p in val}
    return dict(images=len(names), annotated_people=len(people),
                train=len(train), val=len(val),
                train_sharing_val_image=sum(p.image_index in val_images
                                            for p in train))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('mat_file', help='mpii_human_pose_v1_u12_1.mat')
    p.add_argument('--val-split', required=True,
                   help='validation people: JSON list of {"image", "person"} '
                   'or an MMPose-style mpii_val.json (see above)')
    p.add_argument('--out-dir', default='data/mpii',
                   help='data root; files go to OUT_DIR/annotations/')
    p.add_argument('--match-tol', type=float, default=DEFAULT_MATCH_TOL,
                   help='max px between a json center and objpos')
    p.add_argument('--with-is-visible', action='store_true',
                   help='add "joints_is_visible" to every entry')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        counts = convert(args.mat_file, args.val_split, args.out_dir,
                         args.match_tol, args.with_is_visible)
    except (MpiiMatError, OSError, json.JSONDecodeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{counts["images"]} images, {counts["annotated_people"]} annotated'
          f' people -> train {counts["train"]}, val {counts["val"]} '
          f'({counts["train_sharing_val_image"]} train people share an image '
          f'with a val person); wrote {Path(args.out_dir) / "annotations"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
