"""The threaded arg-max of a heatmap batch gives NumPy's index exactly:
first occurrence on ties, NaN taken as the maximum, -inf maps, and the
decoder on large batches gives what it gives map by map."""
import numpy as np
import torch

from mmhg_plugin.codecs.heatmap_argmax import MIN_THREADED, first_argmax
from mmhg_plugin.codecs.hourglass_heatmap import decode_heatmaps_numpy


def _maps(rng, n=300):
    m = rng.integers(0, 4, (n, 64, 64)).astype(np.float32)  # many ties
    m[rng.integers(0, n, 20), rng.integers(0, 64, 20),
      rng.integers(0, 64, 20)] = np.nan
    m[:3] = -np.inf
    m[3, 10, 5] = m[3, 2, 60] = 9.  # the earlier row wins a tie
    return m


def test_first_argmax_is_numpys_argmax(monkeypatch):
    rng = np.random.default_rng(0)
    m = _maps(rng)
    assert m.size >= MIN_THREADED  # the threaded path
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    want = m.reshape(len(m), -1).argmax(axis=1)
    np.testing.assert_array_equal(first_argmax(m), want)
    assert want[3] == 2 * 64 + 60
    small = m[:10]
    np.testing.assert_array_equal(first_argmax(small), want[:10])


def test_large_batch_decodes_like_single_maps(monkeypatch):
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    rng = np.random.default_rng(1)
    hm = rng.random((20, 16, 64, 64), np.float32)
    hm[0, 0, 0, 63] = np.nan
    xy, scores = decode_heatmaps_numpy(hm)
    for b in (0, 7, 19):
        one_xy, one_scores = decode_heatmaps_numpy(hm[b:b + 1])
        np.testing.assert_array_equal(xy[b], one_xy[0])
        np.testing.assert_array_equal(scores[b], one_scores[0])
