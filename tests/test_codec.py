"""HourglassHeatmap: targets, decoding and the round trip through the crop."""
import numpy as np
import pytest
import torch

from mmhg_plugin.codecs import HourglassHeatmap, decode_heatmaps
from mmhg_plugin.codecs.coordinates import heatmap_to_input, input_to_heatmap
from mmhg_plugin.codecs.hourglass_heatmap import decode_heatmaps_numpy
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


def _reference_decode(hm: np.ndarray, refine: bool = True) -> tuple:
    """The decoding rule written out pixel by pixel: the first maximum in
    raster order, then (``refine``) 0.25 px along each axis toward the
    higher of the two neighbours (none on a tie, none on the border of
    that axis)."""
    B, K, H, W = hm.shape
    xy, scores = np.zeros((B, K, 2)), np.zeros((B, K))
    for b in range(B):
        for k in range(K):
            m = hm[b, k].tolist()
            best, bx, by = m[0][0], 0, 0
            for y in range(H):
                for x in range(W):
                    if m[y][x] > best:
                        best, bx, by = m[y][x], x, y
            fx, fy = float(bx), float(by)
            if refine and 0 < bx < W - 1 and m[by][bx + 1] != m[by][bx - 1]:
                fx += 0.25 if m[by][bx + 1] > m[by][bx - 1] else -0.25
            if refine and 0 < by < H - 1 and m[by + 1][bx] != m[by - 1][bx]:
                fy += 0.25 if m[by + 1][bx] > m[by - 1][bx] else -0.25
            xy[b, k], scores[b, k] = (fx, fy), best
    return xy, scores


def _tricky_heatmaps(batch: int, joints: int, h: int, w: int,
                     seed: int) -> np.ndarray:
    """(batch, joints, h, w) float32 maps that exercise every branch: smooth
    random maps, maps of few levels (ties of the maximum and of the two
    neighbours), all-equal maps, negative maps, and maxima on every
    border, corner and next to them."""
    rng = np.random.default_rng(seed)
    hm = rng.random((batch, joints, h, w)).astype(np.float32)
    hm[:, 1::4] = rng.integers(0, 3, hm[:, 1::4].shape)  # ties
    hm[:, 2::4] -= 2.                                    # all below zero
    spots = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (0, w // 2),
             (h - 1, w // 3), (h // 2, 0), (h // 3, w - 1), (1, 1),
             (h - 2, w - 2), (1, w // 2), (h // 2, w - 2)]
    for b in range(batch):
        for k in range(3, joints, 4):
            y, x = spots[(b * joints + k) % len(spots)]
            hm[b, k, y, x] = 5.
            if (b + k) % 2 and 0 < x < w - 1:  # tied neighbours in x
                hm[b, k, y, x - 1] = hm[b, k, y, x + 1]
    hm[0, 0] = 0.7                                       # all equal
    return hm


@pytest.mark.parametrize('refine', [True, False])
def test_numpy_and_torch_decoders_match_the_rule(refine):
    """The NumPy decoder (CPU) and the torch decoder (other devices) give
    the reference rule's coordinates and maxima, in a batch and one map at
    a time, on non-square maps (H != W catches swapped axes)."""
    hm = _tricky_heatmaps(3, 16, 9, 13, seed=0)
    want_xy, want_s = _reference_decode(hm, refine)
    xy_np, s_np = decode_heatmaps_numpy(hm, refine=refine)
    xy_t, s_t = decode_heatmaps(torch.from_numpy(hm), refine=refine)
    for xy, s in ((xy_np, s_np), (xy_t.numpy(), s_t.numpy())):
        np.testing.assert_array_equal(xy, want_xy)
        np.testing.assert_array_equal(s, want_s.astype(np.float32))
    for b in range(3):
        one_np, _ = decode_heatmaps_numpy(hm[b:b + 1], refine=refine)
        one_t, _ = decode_heatmaps(torch.from_numpy(hm[b:b + 1]),
                                   refine=refine)
        np.testing.assert_array_equal(one_np[0], want_xy[b])
        np.testing.assert_array_equal(one_t[0].numpy(), want_xy[b])
    if refine:  # steps of both signs, and a tie inside: no step
        frac = want_xy % 1
        assert (frac == .25).any() and (frac == .75).any()
        x = _reference_decode(hm, False)[0][..., 0]
        assert ((x > 0) & (x < 12) & (want_xy[..., 0] == x)).any()


def test_batch_decode_matches_single_decode_and_the_rule():
    """``batch_decode`` of a batch, ``decode`` of each map and the torch
    decoder agree with the reference rule in input space."""
    hm = _tricky_heatmaps(3, 16, 64, 64, seed=1)
    want_xy, want_s = _reference_decode(hm)
    kpts, scores = CODEC.batch_decode(torch.from_numpy(hm))
    xy_t, _ = decode_heatmaps(torch.from_numpy(hm))
    assert len(kpts) == len(scores) == 3
    for b in range(3):
        want = heatmap_to_input(want_xy[b], 4.)
        k1, s1 = CODEC.decode(hm[b])
        for k, s in ((kpts[b], scores[b]), (k1, s1)):
            assert k.shape == (1, 16, 2) and s.shape == (1, 16)
            np.testing.assert_array_equal(k[0], want)
            np.testing.assert_array_equal(s[0], want_s[b])
        np.testing.assert_array_equal(
            heatmap_to_input(xy_t[b].numpy(), 4.), want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_batch_decode_on_the_gpu_matches_the_cpu():
    hm = _tricky_heatmaps(3, 16, 64, 64, seed=2)
    k_cpu, s_cpu = CODEC.batch_decode(torch.from_numpy(hm))
    k_gpu, s_gpu = CODEC.batch_decode(torch.from_numpy(hm).cuda())
    np.testing.assert_array_equal(np.stack(k_gpu), np.stack(k_cpu))
    np.testing.assert_array_equal(np.stack(s_gpu), np.stack(s_cpu))
