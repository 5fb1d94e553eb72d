"""MPIITopdownAffine and ChannelScaleJitter."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.structures import PoseDataSample

from mmhg_plugin.codecs import HourglassHeatmap
from mmhg_plugin.datasets.mpii_conventions import MPII_FLIP_INDICES
from mmhg_plugin.datasets.transforms import ChannelScaleJitter, MPIITopdownAffine
from mmhg_plugin.datasets.transforms.image_io import ImageReadError, choose_reduction

MPII_FLIP = list(MPII_FLIP_INDICES)
CODEC = HourglassHeatmap((256, 256), (64, 64), sigma=1.75)


def dots_image(points, shape=(720, 1280)):
    """Black image with a small bright blob at each 0-based point."""
    img = np.zeros((*shape, 3), np.uint8)
    for x, y in points:
        cv2.circle(img, (int(round(x)), int(round(y))), 6, (255, 255, 255),
                   -1, lineType=cv2.LINE_AA)
    return img


def mpii_sample(rng, img=None, center=(640., 380.), scale_px=400.):
    joints0 = np.round(
        np.asarray(center) + rng.uniform(-0.3, 0.3, (16, 2)) * scale_px)
    return dict(
        id=7, img_path='synthetic.jpg',
        img=dots_image(joints0) if img is None else img,
        bbox_center=np.array([center], np.float32),
        bbox_scale=np.array([[scale_px, scale_px]], np.float32),
        keypoints=(joints0 + 1.)[None].astype(np.float32),   # MPII: 1-based
        keypoints_visible=np.ones((1, 16), np.float32),
        flip_indices=MPII_FLIP), joints0


def blob_centre(img, xy, r=5):
    """Intensity-weighted centre of the blob near xy in a crop."""
    x0, y0 = int(round(xy[0])), int(round(xy[1]))
    g = img[max(y0 - r, 0):y0 + r + 1, max(x0 - r, 0):x0 + r + 1, 0].astype(
        float)
    ys, xs = np.mgrid[max(y0 - r, 0):y0 + r + 1, max(x0 - r, 0):x0 + r + 1]
    return np.array([(g * xs).sum() / g.sum(), (g * ys).sum() / g.sum()])


def test_keypoints_land_on_their_pixels_with_augmentation():
    rng = np.random.default_rng(0)
    t = MPIITopdownAffine((256, 256), scale_range=(0.75, 1.25),
                          rotate_std=30, rotate_max=60, rotate_prob=1.,
                          flip_prob=0.5)
    checked = 0
    for _ in range(6):
        res, joints0 = mpii_sample(rng)
        res = t(res)
        assert res['img'].shape == (256, 256, 3)
        dist = np.linalg.norm(joints0[:, None] - joints0[None], axis=-1)
        isolated = np.sort(dist, axis=1)[:, 1] > 30
        # after a flip joint k is drawn where joint flip[k] was
        src = np.array(MPII_FLIP) if res['flip'] else np.arange(16)
        for k in np.flatnonzero(isolated[src]):
            xy = res['transformed_keypoints'][0, k]
            if 8 < xy.min() and xy.max() < 248:
                assert np.abs(blob_centre(res['img'], xy) - xy).max() < 0.5
                checked += 1
    assert checked >= 20, checked


def test_flip_is_an_exact_mirror_and_targets_flip_back_without_shift():
    rng = np.random.default_rng(1)
    base, _ = mpii_sample(rng)
    no_flip = MPIITopdownAffine((256, 256), rotate_std=20, rotate_max=20,
                                rotate_prob=1.)
    flip = MPIITopdownAffine((256, 256), rotate_std=20, rotate_max=20,
                             rotate_prob=1., flip_prob=1.)
    np.random.seed(3)
    a = no_flip({**base, 'keypoints_visible': base['keypoints_visible']})
    np.random.seed(3)
    b = flip(dict(base))
    assert b['flip'] and b['flip_direction'] == 'horizontal'
    # the flipped crop is the mirror of the crop (cv2's fixed-point sampling
    # may differ by a grey level)
    assert np.abs(b['img'].astype(int) - a['img'][:, ::-1]).max() <= 1
    # keypoints: x -> 255 - x, left/right swapped
    mirrored = a['transformed_keypoints'][:, MPII_FLIP].copy()
    mirrored[..., 0] = 255 - mirrored[..., 0]
    np.testing.assert_allclose(b['transformed_keypoints'], mirrored,
                               atol=1e-3)
    ha = torch.from_numpy(CODEC.encode(a['transformed_keypoints'])['heatmaps'])
    hb = torch.from_numpy(CODEC.encode(b['transformed_keypoints'])['heatmaps'])
    back = flip_heatmaps(hb[None], flip_indices=MPII_FLIP,
                         shift_heatmap=False)[0]
    torch.testing.assert_close(back, ha, atol=1e-5, rtol=0)
    shifted = flip_heatmaps(hb[None], flip_indices=MPII_FLIP,
                            shift_heatmap=True)[0]
    assert (shifted - ha).abs().max() > 0.1   # MMPose's shift is off by one


def test_reduced_decode_matches_full_decode(tmp_path):
    rng = np.random.default_rng(2)
    # smooth, textured image so JPEG scaling error stays small
    noise = cv2.resize(rng.uniform(0, 255, (45, 80, 3)).astype(np.uint8),
                       (1280, 720), interpolation=cv2.INTER_CUBIC)
    path = str(tmp_path / 'big.jpg')
    cv2.imwrite(path, noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    base, _ = mpii_sample(rng, img=noise, scale_px=700.)
    del base['img']
    base['img_path'] = path
    full = MPIITopdownAffine((256, 256), reduced_decode=False)(dict(base))
    red = MPIITopdownAffine((256, 256), reduced_decode=True)(dict(base))
    assert red['ori_shape'] == full['ori_shape'] == (720, 1280)
    np.testing.assert_array_equal(red['transformed_keypoints'],
                                  full['transformed_keypoints'])
    diff = np.abs(red['img'].astype(float) - full['img'].astype(float))
    assert diff.mean() < 3.0, diff.mean()
    # no spatial shift: the mean difference does not grow when shifting
    for dx in (-1, 1):
        shifted = np.abs(np.roll(red['img'], dx, axis=1).astype(float) -
                         full['img'])
        assert shifted[:, 8:-8].mean() > diff[:, 8:-8].mean()


def test_choose_reduction():
    assert [choose_reduction(d) for d in (0.5, 1.9, 2., 3.9, 4.5, 20.)] == \
        [1, 1, 2, 2, 4, 8]
    assert choose_reduction(20., max_reduction=2) == 2


def test_test_mode_maps_back_exactly_through_mmpose_estimator():
    from mmpose.models.pose_estimators import TopdownPoseEstimator
    rng = np.random.default_rng(4)
    res, joints0 = mpii_sample(rng, scale_px=333.)
    res = MPIITopdownAffine((256, 256))(res)
    ds = PoseDataSample(metainfo=dict(input_center=res['input_center'],
                                      input_scale=res['input_scale'],
                                      input_size=res['input_size']))
    ds.gt_instances = InstanceData(bboxes=np.zeros((1, 4)),
                                   bbox_scores=np.ones(1))
    pred = InstanceData(keypoints=res['transformed_keypoints'].copy(),
                        keypoint_scores=np.ones((1, 16)))
    (out, ) = TopdownPoseEstimator.add_pred_to_datasample(
        self=type('Stub', (), {'test_cfg': {}})(),
        batch_pred_instances=[pred], batch_pred_fields=None,
        batch_data_samples=[ds])
    np.testing.assert_allclose(out.pred_instances.keypoints[0], joints0,
                               atol=1e-3)


def test_inference_without_keypoints_and_from_bbox():
    img = np.zeros((300, 200, 3), np.uint8)
    res = MPIITopdownAffine((128, 128))(dict(
        img=img, bbox=np.array([[20., 30., 120., 230.]])))
    assert res['img'].shape == (128, 128, 3)
    assert 'transformed_keypoints' not in res
    np.testing.assert_allclose(res['input_center'], [70., 130.])
    np.testing.assert_allclose(res['input_scale'], [250., 250.])


def test_augmentation_is_reproducible_with_a_seed():
    t = MPIITopdownAffine((64, 64), scale_range=(0.75, 1.25), rotate_std=30,
                          rotate_max=60, rotate_prob=0.4, flip_prob=0.5)
    draws = []
    for _ in range(2):
        np.random.seed(11)
        draws.append([t._sample_augmentation() for _ in range(50)])
    assert draws[0] == draws[1]
    scales, rots, flips = zip(*draws[0])
    assert 0.75 <= min(scales) and max(scales) <= 1.25
    assert max(abs(r) for r in rots) <= 60 and 0 < sum(flips) < 50


def test_bad_boxes_and_images_name_the_sample(tmp_path):
    t = MPIITopdownAffine((64, 64))
    with pytest.raises(ValueError, match='id=3 .*box size must be > 0'):
        t(dict(id=3, img_path='a.jpg', img=np.zeros((9, 9, 3), np.uint8),
               bbox_center=np.array([[4., 4.]]),
               bbox_scale=np.array([[0., 0.]])))
    with pytest.raises(ValueError, match='bad box'):
        t(dict(id=4, img=np.zeros((9, 9, 3), np.uint8),
               bbox_center=np.array([[np.nan, 4.]]),
               bbox_scale=np.array([[5., 5.]])))
    with pytest.raises(ImageReadError, match='missing.jpg.*id=5'):
        t(dict(id=5, img_path=str(tmp_path / 'missing.jpg'),
               bbox_center=np.array([[4., 4.]]),
               bbox_scale=np.array([[5., 5.]])))
    assert 'flip_prob=0.0' in repr(t)


def test_channel_scale_jitter():
    img = np.full((4, 4, 3), 200, np.uint8)
    np.random.seed(0)
    out = ChannelScaleJitter(0.6, 1.4)(dict(img=img.copy()))['img']
    factors = out[0, 0] / 200.
    assert out.dtype == np.uint8 and (out == out[0, 0]).all()
    assert ((factors >= 0.6 - 1e-2) & (factors <= 1.4)).all()
    assert len(set(out[0, 0].tolist())) == 3    # channels differ
    assert out.max() <= 255
    unchanged = ChannelScaleJitter(prob=0.)(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(unchanged, img)


def test_channel_scale_jitter_table_path_equals_float_arithmetic():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    t = ChannelScaleJitter(0.6, 1.4)
    for seed in range(10):
        np.random.seed(seed)
        out = t(dict(img=img.copy()))['img']
        np.random.seed(seed)
        np.random.rand()                      # the apply draw
        f = np.random.uniform(0.6, 1.4, 3).astype(np.float32)
        ref = np.clip(img.astype(np.float32) * f, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(out, ref)
