"""HourglassHeatmap: targets, decoding and the round trip through the crop."""
import numpy as np
import pytest
import torch

from mmhg_plugin.codecs import HourglassHeatmap, decode_heatmaps
from mmhg_plugin.codecs.coordinates import heatmap_to_input, input_to_heatmap
from mmhg_plugin.datasets.transforms import crop_matrix

CODEC = HourglassHeatmap(input_size=(256, 256), heatmap_size=(64, 64),
                         sigma=1.75)


def test_encode_is_gaussian_at_subpixel_centre():
    kp = np.array([[[101.3, 57.9], [3., 4.]]], np.float32)
    enc = CODEC.encode(kp, np.array([[1., 1.]]))
    hm = enc['heatmaps']
    assert hm.shape == (2, 64, 64) and hm.dtype == np.float32
    cx, cy = (kp[0, 0] + 0.5) / 4 - 0.5
    ys, xs = np.mgrid[0:64, 0:64]
    d2 = (xs - cx)**2 + (ys - cy)**2
    ref = np.exp(-d2 / (2 * 1.75**2))
    inside = (np.abs(xs - cx) <= 3 * 1.75) & (np.abs(ys - cy) <= 3 * 1.75)
    np.testing.assert_allclose(hm[0][inside], ref[inside], atol=1e-6)
    assert (hm[0][~inside] == 0).all()
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1., 1.]])


def test_encode_weights_invisible_outside_and_nonfinite():
    kp = np.array([[[10., 10.], [-3., 50.], [300., 5.], [np.nan, 3.],
                    [20., 20.], [255.4, 255.4]]], np.float32)
    vis = np.array([[1., 1., 1., 1., 0., 1.]])
    enc = CODEC.encode(kp, vis)
    np.testing.assert_array_equal(enc['keypoint_weights'],
                                  [[1, 0, 0, 0, 0, 1]])
    assert enc['heatmaps'][[1, 2, 3, 4]].max() == 0
    assert enc['heatmaps'][0].max() > 0.9
    with pytest.raises(ValueError, match='one instance'):
        CODEC.encode(np.zeros((2, 3, 2)))


def test_decode_quarter_pixel_step_and_border():
    hm = torch.zeros(1, 3, 8, 8)
    hm[0, 0, 4, 2] = 1.
    hm[0, 0, 4, 3] = .5   # right neighbour higher -> +0.25 in x
    hm[0, 0, 3, 2] = .2   # upper neighbour higher -> -0.25 in y
    hm[0, 1, 0, 7] = 1.   # corner: no step
    hm[0, 1, 1, 7] = .9
    hm[0, 2, 5, 5] = 1.   # symmetric: no step
    xy, scores = decode_heatmaps(hm)
    np.testing.assert_allclose(xy[0].numpy(),
                               [[2.25, 3.75], [7., 0.], [5., 5.]])
    np.testing.assert_allclose(scores[0].numpy(), [1., 1., 1.])
    xy, _ = decode_heatmaps(hm, refine=False)
    np.testing.assert_allclose(xy[0, 0].numpy(), [2., 4.])


def test_coordinate_maps_are_inverse_and_flip_exact():
    x = np.random.uniform(-1, 256, (100, 2))
    np.testing.assert_allclose(heatmap_to_input(input_to_heatmap(x, 4), 4), x)
    # mirroring input pixels (x -> 255 - x) mirrors heatmap pixels (-> 63 - x)
    np.testing.assert_allclose(input_to_heatmap(255 - x, 4),
                               63 - input_to_heatmap(x, 4))


@pytest.mark.parametrize('rotation', [0., 17., -40., 90.])
@pytest.mark.parametrize('crop', [180., 512., 1000.])
def test_round_trip_through_crop(rotation, crop):
    """Image -> crop -> target -> decode -> image. The quarter-pixel step
    bounds the error by 0.25 heatmap px per heatmap axis (so 0.354 px in
    distance); the mean distance is far below 0.3 px."""
    rng = np.random.default_rng(int(crop + rotation))
    center = np.array([640., 360.])
    # 300 joints inside the crop, at any rotation (|offset| < 0.47 crop)
    local = rng.uniform(-0.33, 0.33, (300, 2)) * crop
    a = np.deg2rad(rotation)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    img_pts = center + local @ rot.T
    mat = crop_matrix(center, crop, (256, 256), rotation, flip=False)
    inp = img_pts @ mat[:2, :2].T + mat[:2, 2]
    enc = CODEC.encode(inp[None].astype(np.float32))
    assert enc['keypoint_weights'].min() == 1
    kpts, _ = CODEC.decode(enc['heatmaps'])
    per_axis = np.abs(input_to_heatmap(kpts[0], 4) - input_to_heatmap(inp, 4))
    assert per_axis.max() <= 0.25 + 1e-4, per_axis.max()
    back = (np.linalg.inv(mat) @ np.c_[kpts[0], np.ones(300)].T).T[:, :2]
    err_hm_px = np.linalg.norm(back - img_pts, axis=1) / (crop / 64)
    assert err_hm_px.max() <= 0.25 * np.sqrt(2) + 1e-4, err_hm_px.max()
    assert err_hm_px.mean() < 0.22, err_hm_px.mean()  # expected ~0.19


def test_batch_decode_matches_single_decode():
    hm = torch.rand(3, 16, 64, 64)
    kpts, scores = CODEC.batch_decode(hm)
    for b in range(3):
        k1, s1 = CODEC.decode(hm[b].numpy())
        np.testing.assert_allclose(kpts[b], k1)
        np.testing.assert_allclose(scores[b], s1)
