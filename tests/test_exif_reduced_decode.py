"""Reduced JPEG decode of EXIF-oriented images: for every orientation (1-8)
the crop lands where the full-size crop of ``cv2.imread``'s image lands.

The image's sides (1283 x 721) are not multiples of 8, so a reduced decode
ends in a partly padded pixel; an orientation that reverses an axis puts
that pixel first, which a mapping that ignores the orientation misplaces by
``r * ceil(D / r) - D`` full-size pixels (up to 7 at 1/8)."""
import cv2
import numpy as np
import pytest
from PIL import Image

from mmhg_plugin.datasets.mpii_conventions import MPII_CROP_PADDING
from mmhg_plugin.datasets.transforms import MPIITopdownAffine
from mmhg_plugin.datasets.transforms.image_io import choose_reduction

STORED_HW = (721, 1283)
#: EXIF tag of the orientation.
ORIENTATION_TAG = 0x0112
#: (reduction, input side, MPII box side): the crop shrinks the image
#: 2.4x, 4.4x and 8.75x, so the transform decodes at 1/2, 1/4 and 1/8.
CASES = [(2, 128, 250.), (4, 128, 450.), (8, 64, 448.)]
#: Bound on the mean absolute difference (grey levels) of the reduced-decode
#: crop from the full-size crop, per reduction: what the reduced decode
#: costs on the upright image (orientation 1: 0.61, 2.17, 8.82), plus 8-15%.
#: A crop misplaced by the orientation-blind mapping differs by 5.2-37.
REDUCED_MEAN_DIFF = {2: 0.7, 4: 2.5, 8: 9.5}
#: Largest sub-pixel displacement (input pixels) allowed between the two
#: crops (phase correlation reads up to 0.12 on correct crops); the
#: orientation-blind mapping shifts them by 0.16-0.92.
MAX_SHIFT = 0.15


@pytest.fixture(scope='module')
def oriented_jpegs(tmp_path_factory):
    """One JPEG per orientation, the same stored pixels, each with its EXIF
    orientation tag written by Pillow. Returns {orientation: path}."""
    rng = np.random.default_rng(0)
    h, w = STORED_HW
    stored = cv2.resize(rng.uniform(0, 255, (45, 80, 3)).astype(np.uint8),
                        (w, h), interpolation=cv2.INTER_CUBIC)
    root = tmp_path_factory.mktemp('exif')
    paths = {}
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        path = root / f'o{orientation}.jpg'
        Image.fromarray(stored[..., ::-1]).save(path, quality=95,
                                               exif=exif.tobytes())
        paths[orientation] = str(path)
    return paths


def _crops(path: str, input_side: int, box: float):
    """(reduced-decode result, full-size result from cv2.imread's image)
    of the same deterministic crop near the image centre."""
    full_img = cv2.imread(path)
    h, w = full_img.shape[:2]
    sample = dict(img_path=path,
                  bbox_center=np.array([[w / 2 + 3.3, h / 2 - 2.1]]),
                  bbox_scale=np.array([[box, box]]),
                  keypoints=np.array([[[w / 2, h / 2], [w / 2 + 40., h / 3]]],
                                     np.float32),
                  keypoints_visible=np.ones((1, 2), np.float32))
    t = MPIITopdownAffine((input_side, input_side))
    return t(dict(sample)), t({**sample, 'img': full_img}), (h, w)


def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sub-pixel (dx, dy) between two crops (phase correlation)."""
    a, b = (x.astype(np.float64).mean(-1) for x in (a, b))
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_64F)
    return np.array(cv2.phaseCorrelate(a, b, window)[0])


@pytest.mark.parametrize('orientation', range(1, 9))
@pytest.mark.parametrize('reduction,input_side,box', CASES)
def test_reduced_crop_matches_full_crop_for_every_orientation(
        oriented_jpegs, orientation, reduction, input_side, box):
    assert choose_reduction(box * MPII_CROP_PADDING / input_side) == reduction
    red, full, shape = _crops(oriented_jpegs[orientation], input_side, box)
    assert red['ori_shape'] == shape
    np.testing.assert_array_equal(red['transformed_keypoints'],
                                  full['transformed_keypoints'])
    diff = np.abs(red['img'].astype(float) - full['img']).mean()
    assert diff < REDUCED_MEAN_DIFF[reduction], diff
    shift = _shift(red['img'], full['img'])
    assert np.abs(shift).max() < MAX_SHIFT, shift


@pytest.mark.parametrize('reduction,input_side,box', CASES)
def test_upright_tolerance_is_what_the_reduced_decode_costs(
        oriented_jpegs, reduction, input_side, box):
    """The tolerance is the cost of the reduced decode on orientation 1 (no
    EXIF flip): that crop differs by more than 80% of it, so the bound is
    tight, not a number any crop would pass."""
    red, full, _ = _crops(oriented_jpegs[1], input_side, box)
    diff = np.abs(red['img'].astype(float) - full['img']).mean()
    assert diff > 0.8 * REDUCED_MEAN_DIFF[reduction], diff


@pytest.mark.parametrize('orientation', [1, 6])
def test_other_formats_are_read_at_full_size(tmp_path, orientation):
    """Only JPEG decodes faster at reduced size; OpenCV would decode a PNG
    in full and resize it to floor(D / r) (and apply its EXIF orientation),
    so the transform reads it at full size: the crop equals the full-size
    crop exactly, and ``ori_shape`` is the displayed size."""
    rng = np.random.default_rng(1)
    h, w = STORED_HW
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    path = str(tmp_path / 'a.png')
    Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(
        path, exif=exif.tobytes())
    red, full, shape = _crops(path, *CASES[-1][1:])
    assert red['ori_shape'] == shape == ((w, h) if orientation == 6 else
                                         (h, w))
    np.testing.assert_array_equal(red['img'], full['img'])
