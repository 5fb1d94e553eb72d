"""Our crop, targets and decoding against MMPose's own, where they must agree.

- ``MPIITopdownAffine`` (flip off, full decode) crops what ``TopdownAffine``
  crops for the same centre, box and rotation;
- ``HourglassHeatmap.encode`` equals ``MSRAHeatmap.encode`` at the same
  sigma on lattice points, where MSRA's rounded centre is our exact one;
- ``HourglassHeatmap.batch_decode`` gives ``MSRAHeatmap.decode`` + 1.5 px
  (our pixel-centre convention, :mod:`mmhg_plugin.codecs.coordinates`).

The benchmarks (``benchmarks/bench_pipeline.py``, ``bench_codec.py``) time
the same pairs.
"""
import numpy as np
import pytest
import torch
from mmpose.codecs import MSRAHeatmap
from mmpose.datasets.transforms import TopdownAffine

from mmhg_plugin.codecs import HourglassHeatmap
from mmhg_plugin.datasets.mpii_conventions import MPII_INDEX_BASE
from mmhg_plugin.datasets.synthetic.background import draw_background
from mmhg_plugin.datasets.transforms import MPIITopdownAffine

INPUT, HEATMAP = (256, 256), (64, 64)


@pytest.mark.parametrize('seed', [0, 1])
def test_crop_equals_topdown_affine(seed):
    """Same centre, box and rotation (scale factor applied to the box on
    MMPose's side): keypoints agree to float32 rounding (6e-5 px at image
    coordinates ~1000), pixels to 1 grey level at about 0.01% of them
    (bilinear rounding of two equal matrices built differently)."""
    rng = np.random.default_rng(seed)
    img = draw_background(rng, 1280, 720)
    for _ in range(6):
        center = rng.uniform([200, 150], [1080, 570])[None].astype(np.float32)
        box = np.full((1, 2), rng.uniform(200, 800), np.float32)
        joints = (center[:, None] + rng.uniform(-0.4, 0.4, (1, 16, 2)) *
                  box[:, None]).astype(np.float32)
        rot, s = float(rng.uniform(-60, 60)), float(rng.uniform(.75, 1.25))
        ours = MPIITopdownAffine(INPUT, reduced_decode=False)
        ours._sample_augmentation = lambda s=s, rot=rot: (s, rot, False)
        # Ours reads MPII's 1-based joints; MMPose's transform 0-based ones.
        a = ours.transform(dict(img=img, bbox_center=center, bbox_scale=box,
                                keypoints=joints + MPII_INDEX_BASE))
        b = TopdownAffine(INPUT).transform(dict(
            img=img, bbox_center=center,
            bbox_scale=box * ours.scale_padding * s,
            bbox_rotation=np.array([rot]), keypoints=joints))
        np.testing.assert_allclose(a['transformed_keypoints'],
                                   b['transformed_keypoints'], atol=1e-4)
        d = np.abs(a['img'].astype(int) - b['img'].astype(int))
        assert d.max() <= 1, d.max()
        assert (d > 0).mean() <= 2e-4, (d > 0).mean()


@pytest.mark.parametrize('seed', [1, 2])
def test_encode_equals_msra_on_lattice_points(seed):
    """At sigma 2, input ``4 j + 1.5`` (heatmap pixel ``j`` exactly, for
    both) gives MSRA's heatmaps to float rounding (6e-8 measured)."""
    ours = HourglassHeatmap(INPUT, HEATMAP, sigma=2.)
    theirs = MSRAHeatmap(INPUT, HEATMAP, sigma=2.)
    j = np.random.default_rng(seed).integers(0, 64, (1, 16, 2))
    j[0, :4] = [[0, 0], [63, 63], [0, 63], [63, 5]]  # corners and a border
    lattice = (4. * j + 1.5).astype(np.float32)
    a = ours.encode(lattice)
    b = theirs.encode(lattice, np.ones((1, 16)))
    assert a['heatmaps'].shape == b['heatmaps'].shape == (16, 64, 64)
    np.testing.assert_allclose(a['heatmaps'], b['heatmaps'], rtol=0,
                               atol=1e-6)
    np.testing.assert_array_equal(a['keypoint_weights'],
                                  b['keypoint_weights'])


def _peaky_heatmaps(batch: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, 16, 64, 64): noise in [0, 0.5) plus one Gaussian peak per map
    away from the border (where MSRA, which refines only ``1 < x < W - 1``,
    and we, ``0 < x < W - 1``, both refine)."""
    hm = rng.random((batch, 16, 64, 64), np.float32) * 0.5
    ys, xs = np.mgrid[0:64, 0:64]
    peaks = rng.uniform(3, 60, (batch, 16, 2))
    d2 = (xs - peaks[..., :1, None])**2 + (ys - peaks[..., 1:, None])**2
    return hm + np.exp(-d2 / 8.).astype(np.float32)


@pytest.mark.parametrize('device', [
    'cpu',
    pytest.param('cuda', marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason='needs a GPU'))
])
def test_decode_is_msra_plus_one_and_a_half_pixels(device):
    """MMPose's ``HeatmapHead`` decodes per sample with ``MSRAHeatmap``; our
    batch decoder (NumPy on the CPU, torch elsewhere) gives its keypoints
    + 1.5 px exactly and the same scores."""
    hm = _peaky_heatmaps(8, np.random.default_rng(2))
    ours = HourglassHeatmap(INPUT, HEATMAP, sigma=1.75)
    theirs = MSRAHeatmap(INPUT, HEATMAP, sigma=2.)
    kpts, scores = ours.batch_decode(torch.from_numpy(hm).to(device))
    for b in range(8):
        k, s = theirs.decode(hm[b])
        assert (k / 4 % 1 != 0).mean() > 0.5  # most joints refined
        np.testing.assert_array_equal(kpts[b], k + 1.5)
        np.testing.assert_array_equal(scores[b], s)
