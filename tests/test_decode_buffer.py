"""Decoding into the per-thread scratch buffer (``reuse_buffer=True``): the
same pixels as a fresh decode, the same memory on every call (no page
faults for a new output), and a crop that does not depend on it."""
import threading

import cv2
import numpy as np
import pytest

from mmhg_plugin.datasets.transforms.image_io import read_image_sized, scratch_array
from mmhg_plugin.datasets.transforms.mpii_topdown_affine import MPIITopdownAffine

pytest.importorskip('simplejpeg')


def _jpeg(tmp_path, name: str, h: int, w: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (5, 5),
                           0)
    path = str(tmp_path / name)
    assert cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


@pytest.mark.parametrize('reduction', [1, 2, 4])
def test_buffered_decode_gives_the_fresh_pixels_in_reused_memory(
        tmp_path, reduction):
    a = _jpeg(tmp_path, 'a.jpg', 120, 200, 0)
    b = _jpeg(tmp_path, 'b.jpg', 96, 160, 1)
    want_a, shape_a = read_image_sized(a, reduction)
    want_b, _ = read_image_sized(b, reduction)
    got_a, got_shape = read_image_sized(a, reduction, reuse_buffer=True)
    np.testing.assert_array_equal(got_a, want_a)
    assert got_shape == shape_a
    got_b, _ = read_image_sized(b, reduction, reuse_buffer=True)
    np.testing.assert_array_equal(got_b, want_b)
    # the smaller image reuses the larger one's memory: got_a is gone
    assert np.shares_memory(got_a, got_b)
    assert not np.shares_memory(got_b, want_b)


def test_scratch_grows_and_is_per_thread():
    small = scratch_array((1000, 1000, 3))  # larger than the tests' images
    big = scratch_array((1000, 1001, 3))
    assert big.shape == (1000, 1001, 3) and big.flags.c_contiguous
    again = scratch_array((4, 5, 3))
    assert np.shares_memory(again, big) and not np.shares_memory(small, big)
    other = []
    t = threading.Thread(target=lambda: other.append(scratch_array((4, 5,
                                                                    3))))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], again)


def test_crop_is_independent_of_the_reused_buffer(tmp_path):
    """The crop is a new array: a later read does not change it."""
    a = _jpeg(tmp_path, 'a.jpg', 300, 400, 2)
    b = _jpeg(tmp_path, 'b.jpg', 300, 400, 3)
    t = MPIITopdownAffine(input_size=(64, 64))

    def sample(path):
        return dict(img_path=path, bbox_center=np.array([[200., 150.]]),
                    bbox_scale=np.array([[200., 200.]]))

    crop_a = t(sample(a))['img']
    kept = crop_a.copy()
    t(sample(b))
    np.testing.assert_array_equal(crop_a, kept)
    assert not np.shares_memory(crop_a, scratch_array((300, 400, 3)))
