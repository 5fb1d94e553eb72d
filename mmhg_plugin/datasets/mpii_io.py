"""Reading and writing MPII files: the annotation JSON and ``mpii_gt_val.mat``.

The annotation JSON (``mpii_train.json``, ``mpii_val.json``) is MMPose's MPII
layout: a list with one entry per person, ``{"image": "015601864.jpg",
"center": [x, y], "scale": s, "joints": [[x, y] x 16], "joints_vis": [16]}``,
coordinates 1-based (:mod:`.mpii_conventions`), a joint without annotation
``[-1, -1]`` with ``joints_vis`` 0.

The ground-truth file (``mpii_gt_val.mat``, the official evaluation's) holds
``dataset_joints`` (1 x 16 cell of names) and the numeric
:data:`GT_MAT_FIELDS`: ``headboxes_src`` (2 x 2 x N, ``[[x1, y1], [x2,
y2]]``, 1-based), ``pos_gt_src`` (16 x 2 x N, 1-based) and ``jnt_missing``
(16 x N, 1 = not annotated), N people in the order of ``mpii_val.json``.

Used by the dataset converter, the synthetic generator, the tools and the
PCKh metric (:func:`read_gt_mat` is the one reader of the ground truth); it
depends on nothing but :mod:`.mpii_conventions`.
"""
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.io

from .mpii_conventions import MPII_MAT_JOINT_NAMES, MPII_NUM_JOINTS, PCKH_HEAD_FACTOR

PathLike = Union[str, Path]
Entry = Dict[str, Any]

#: Keys of one person entry of the annotation JSON, in the written order.
ANNOTATION_KEYS: Tuple[str, ...] = ('image', 'center', 'scale', 'joints',
                                    'joints_vis')

#: Numeric fields of ``mpii_gt_val.mat`` and their shape without the last
#: axis (N, the people); MMPose's ``MpiiDataset`` reads the first only.
GT_MAT_FIELDS: Dict[str, Tuple[int, ...]] = {
    'headboxes_src': (2, 2),
    'pos_gt_src': (MPII_NUM_JOINTS, 2),
    'jnt_missing': (MPII_NUM_JOINTS, ),
}

MAT_HEADER_BYTES = 116  # descriptive text at the start of a MAT-5 file
# (the text of the first writer, the synthetic generator: kept so that its
# files stay byte-identical)
MAT_HEADER = b'MATLAB 5.0 MAT-file, mmhg synthetic MPII generator'


class MpiiFileError(ValueError):
    """An MPII file that cannot be read; the message names file and field."""


class MpiiFieldMissingError(MpiiFileError):
    """A field of ``mpii_gt_val.mat`` is absent.

    Args:
        path (str | Path): The file.
        field (str): The absent field.
        found (Sequence[str]): The fields the file holds.
    """

    def __init__(self, path: PathLike, field: str,
                 found: Sequence[str]) -> None:
        super().__init__(f'{path}: field {field!r} is missing (fields: '
                         f'{sorted(found)})')
        self.path = str(path)
        self.field = field


def make_entry(image: str, center: Sequence[float], scale: float,
               joints: Sequence[Sequence[float]],
               joints_vis: Sequence[int]) -> Entry:
    """One person entry of the annotation JSON, with plain Python numbers.

    Args:
        image (str): Image file name; its numeric stem is MMPose's
            ``img_id``.
        center (Sequence[float]): (2,) ``objpos``, 1-based.
        scale (float): Person box side / :data:`~.MPII_PIXEL_STD`.
        joints (Sequence[Sequence[float]]): (16, 2) 1-based, ``[-1, -1]``
            where not annotated.
        joints_vis (Sequence[int]): (16,) 1 annotated, 0 not.

    Returns:
        Dict[str, Any]: The entry, keys in :data:`ANNOTATION_KEYS` order.
    """
    return {
        'image': image,
        'center': [float(v) for v in center],
        'scale': float(scale),
        'joints': [[float(x), float(y)] for x, y in joints],
        'joints_vis': [int(v) for v in joints_vis],
    }


def write_annotations(path: PathLike, entries: List[Entry]) -> None:
    """Write an annotation JSON (compact, UTF-8).

    Args:
        path (str | Path): Output file.
        entries (List[Dict[str, Any]]): Entries from :func:`make_entry`.
    """
    Path(path).write_text(json.dumps(entries), encoding='utf-8')


def read_annotations(path: PathLike) -> List[Entry]:
    """Read an annotation JSON.

    Args:
        path (str | Path): The file.

    Returns:
        List[Dict[str, Any]]: The entries as stored.

    Raises:
        MpiiFileError: The file is missing, not JSON or not a list.
    """
    try:
        entries = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MpiiFileError(f'cannot read MPII annotations {path}: {e}') \
            from e
    if not isinstance(entries, list):
        raise MpiiFileError(f'{path}: expected a JSON list of person '
                            f'entries, got {type(entries).__name__}')
    return entries


def write_gt_mat(path: PathLike, entries: List[Entry],
                 head_boxes: Sequence[Sequence[Sequence[float]]]) -> None:
    """Write ``mpii_gt_val.mat`` in the layout of the official file.

    ``jnt_missing`` is ``1 - joints_vis``. The timestamp of the MAT header is
    replaced so that the bytes only depend on the content.

    Args:
        path (str | Path): Output file.
        entries (List[Dict[str, Any]]): Annotation entries, in JSON order.
        head_boxes (Sequence): One (2, 2) 1-based ``[[x1, y1], [x2, y2]]``
            box per entry.
    """
    names = np.empty((1, MPII_NUM_JOINTS), dtype=object)
    names[0, :] = list(MPII_MAT_JOINT_NAMES)
    count = len(entries)
    joints = np.array([e['joints'] for e in entries],
                      dtype=np.float64).reshape(count, MPII_NUM_JOINTS, 2)
    visible = np.array([e['joints_vis'] for e in entries],
                       dtype=np.float64).reshape(count, MPII_NUM_JOINTS)
    boxes = np.array(head_boxes, dtype=np.float64).reshape(count, 2, 2)
    buffer = io.BytesIO()
    scipy.io.savemat(
        buffer, {
            'dataset_joints': names,
            'jnt_missing': np.ascontiguousarray((1.0 - visible).T),
            'pos_gt_src': np.ascontiguousarray(joints.transpose(1, 2, 0)),
            'headboxes_src': np.ascontiguousarray(boxes.transpose(1, 2, 0)),
        })
    data = bytearray(buffer.getvalue())
    data[:MAT_HEADER_BYTES] = MAT_HEADER.ljust(MAT_HEADER_BYTES, b' ')
    Path(path).write_bytes(bytes(data))


@dataclass(frozen=True)
class MpiiGroundTruth:
    """The arrays of ``mpii_gt_val.mat``, one row per person.

    Attributes:
        joints (np.ndarray): (N, K, 2) float64 ``pos_gt_src``, 1-based.
        missing (np.ndarray): (N, K) bool ``jnt_missing``.
        head_boxes (np.ndarray): (N, 2, 2) float64 ``headboxes_src``,
            ``[[x1, y1], [x2, y2]]``, 1-based.
        joint_names (Tuple[str, ...] | None): ``dataset_joints``, when
            stored.
    """
    joints: np.ndarray
    missing: np.ndarray
    head_boxes: np.ndarray
    joint_names: Optional[Tuple[str, ...]] = None

    @property
    def head_sizes(self) -> np.ndarray:
        """(N,) PCKh head sizes, ``PCKH_HEAD_FACTOR`` x box diagonal."""
        return head_sizes(self.head_boxes)


def head_sizes(head_boxes: np.ndarray) -> np.ndarray:
    """PCKh head sizes of (N, 2, 2) head boxes.

    Args:
        head_boxes (np.ndarray): (N, 2, 2) ``[[x1, y1], [x2, y2]]``.

    Returns:
        np.ndarray: (N,) ``PCKH_HEAD_FACTOR`` x the box diagonal.
    """
    boxes = np.asarray(head_boxes, np.float64)
    return PCKH_HEAD_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0],
                                             axis=-1)


def _load_mat(path: PathLike) -> Dict[str, Any]:
    if not Path(path).is_file():
        raise MpiiFileError(f'MPII ground-truth file {path} does not exist')
    try:
        return scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises several types for bad files
        raise MpiiFileError(f'cannot read {path} as a .mat file: '
                            f'{type(e).__name__}: {e}') from e


def _field(mat: Dict[str, Any], path: PathLike, key: str) -> np.ndarray:
    """Field ``key`` with its people moved to the first axis."""
    if key not in mat:
        raise MpiiFieldMissingError(
            path, key, [k for k in mat if not k.startswith('__')])
    value = np.asarray(mat[key])
    lead = GT_MAT_FIELDS[key]
    if value.shape == lead:  # MATLAB drops the trailing axis of N = 1
        value = value[..., None]
    if value.ndim != len(lead) + 1 or value.shape[:-1] != lead:
        want = ' x '.join(map(str, lead + ('N', )))
        raise MpiiFileError(f'{path}: field {key!r} has shape '
                            f'{value.shape}, expected {want}')
    return np.moveaxis(value, -1, 0)


def read_head_boxes(path: PathLike) -> np.ndarray:
    """The head boxes of ``mpii_gt_val.mat`` (the one field MMPose reads).

    Args:
        path (str | Path): The file.

    Returns:
        np.ndarray: (N, 2, 2) float64 ``[[x1, y1], [x2, y2]]``, 1-based.

    Raises:
        MpiiFileError: Missing or unreadable file, missing field or wrong
            shape (the message names file and field).
    """
    return _field(_load_mat(path), path,
                  'headboxes_src').astype(np.float64)


def read_gt_mat(path: PathLike) -> MpiiGroundTruth:
    """Read ``mpii_gt_val.mat``: ground truth, missing joints, head boxes.

    Args:
        path (str | Path): The file.

    Returns:
        MpiiGroundTruth: The arrays, people on the first axis.

    Raises:
        MpiiFieldMissingError: A field of :data:`GT_MAT_FIELDS` is absent
            (the first one in that order).
        MpiiFileError: Missing or unreadable file, a shape other than
            :data:`GT_MAT_FIELDS` or fields of different N (the message
            names file and field).
    """
    mat = _load_mat(path)
    fields = {key: _field(mat, path, key) for key in GT_MAT_FIELDS}
    counts = {key: len(value) for key, value in fields.items()}
    if len(set(counts.values())) != 1:
        raise MpiiFileError(f'{path}: fields hold different numbers of '
                            f'people: {counts}')
    names = None
    if 'dataset_joints' in mat:
        names = tuple(
            str(np.asarray(n).ravel()[0]) if np.size(n) else ''
            for n in np.asarray(mat['dataset_joints']).ravel())
    return MpiiGroundTruth(
        joints=fields['pos_gt_src'].astype(np.float64),
        missing=fields['jnt_missing'].astype(bool),
        head_boxes=fields['headboxes_src'].astype(np.float64),
        joint_names=names)
