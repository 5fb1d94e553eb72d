"""Gaussian heatmap codec of the Stacked Hourglass (encode and decode)."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS
from torch import Tensor

from .coordinates import heatmap_to_input
from .heatmap_argmax import first_argmax

#: Heatmap coordinate of a joint of weight 0 (its Gaussian is all zero).
_FAR = -1e4


@KEYPOINT_CODECS.register_module()
class HourglassHeatmap(BaseKeypointCodec):
    """Sub-pixel Gaussian heatmaps, decoded by argmax plus the quarter-pixel
    step of Newell et al.

    Coordinates follow :mod:`mmhg_plugin.codecs.coordinates` (pixel centres
    at integers, ``x_hm = (x_in + 0.5) / stride - 0.5``), so
    ``decode(encode(k))`` returns ``k`` within a quarter of a heatmap pixel.

    Encoded:
        - heatmaps (np.ndarray): (K, H, W) float32, ``exp(-d^2 / 2 sigma^2)``
          centred at the joint's real-valued position (not rounded) and cut
          to zero beyond ``3 * sigma``; all zero for a joint of weight 0.
        - keypoint_weights (np.ndarray): (N, K) float32, the visibility, set
          to 0 where the joint is invisible or its centre lies outside the
          heatmap (``[-0.5, W - 0.5)``), i.e. the joint left the crop.

    Sigma: the Lua original draws a 7x7 ``image.gaussian`` (an effective
    sigma of 1.75 px, cut at 3 px) around the rounded joint; the official
    PyTorch port uses sigma 1 (9x9, rounded); MMPose's MSRA codec 2. The
    default 1.75 follows the paper's own code.

    Args:
        input_size (tuple[int, int]): Input size (w, h).
        heatmap_size (tuple[int, int]): Heatmap size (W, H).
        sigma (float): Gaussian standard deviation in heatmap pixels.
            Defaults to 1.75.
        refine (bool): Apply the quarter-pixel step when decoding (as the
            original). Defaults to True.
    """

    label_mapping_table = dict(keypoint_weights='keypoint_weights')
    field_mapping_table = dict(heatmaps='heatmaps')

    def __init__(self,
                 input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 sigma: float = 1.75,
                 refine: bool = True) -> None:
        super().__init__()
        if sigma <= 0:
            raise ValueError(f'sigma must be > 0, got {sigma}')
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.sigma = float(sigma)
        self.refine = refine
        self.stride = np.asarray(input_size, np.float32) / np.asarray(
            heatmap_size, np.float32)
        # Encoding constants, per axis (x, y): input-space centres of the
        # heatmap pixels (2, n), the input-space end of the heatmap, the
        # Gaussian's exponent factor and squared cut (3 sigma), all in
        # input pixels.
        stride = self.stride.astype(np.float64)
        n = max(heatmap_size)
        self._centres = heatmap_to_input(
            np.arange(n, dtype=np.float64)[None], stride[:, None]).astype(
                np.float32)
        self._upper = (np.asarray(heatmap_size) * stride - 0.5).astype(
            np.float32)
        self._coef = (-0.5 / (self.sigma * stride[:, None])**2).astype(
            np.float32)
        self._cut2 = ((3 * self.sigma * stride[:, None])**2).astype(
            np.float32)
        # the exponent at the cut: smaller ones are raised to it before exp,
        # whose results there are zeroed anyway. exp(-700) is a subnormal
        # float, which Intel CPUs compute through a slow microcode path
        # (exp took 4x longer on the AMX Xeon: docs/results.md)
        self._exp_floor = self._coef * self._cut2
        # the rows of a Gaussian cut at 3 sigma, plus one against rounding,
        # start at floor(y_hm - 3 sigma) = floor(y * scale + shift)
        self._band = min(int(np.floor(6 * self.sigma)) + 2, heatmap_size[1])
        self._band_cache: dict = {}
        self._far = np.float32(_FAR)
        self._stride_y = np.float32(stride[1])
        self._band_scale = np.float32(1 / stride[1])
        self._band_shift = np.float32(0.5 / stride[1] - 0.5 - 3 * self.sigma)

    # ------------------------------------------------------------ encode
    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Encode one instance's input-space keypoints into heatmaps.

        Args:
            keypoints (np.ndarray): (1, K, 2) input-space coordinates.
            keypoints_visible (np.ndarray | None): (1, K) visibility; all
                visible when None.

        Returns:
            dict: ``heatmaps`` (K, H, W) and ``keypoint_weights`` (1, K).
        """
        keypoints = np.asarray(keypoints, np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != 1:
            raise ValueError(
                f'{type(self).__name__}.encode takes one instance of shape '
                f'(1, K, 2), got {keypoints.shape}')
        K = keypoints.shape[1]
        W, H = self.heatmap_size
        if keypoints_visible is None:
            weights = np.ones((1, K), np.float32)
        else:
            weights = np.array(keypoints_visible, np.float32).reshape(1, K)
        # Work in input space: heatmap pixel j is input pixel centre
        # ``_centres[j]`` (see .coordinates); the heatmap covers input
        # [-0.5, size * stride - 0.5). NaN and inf compare False.
        kp = keypoints[0, :, :2]
        inside = (kp >= -0.5) & (kp < self._upper)
        weights[0] *= inside[:, 0] & inside[:, 1]
        # a joint of weight 0 moves far away: its Gaussian is cut to zero
        # with the others' tails below (this also replaces NaN)
        kp = np.where(weights[0, :, None] > 0, kp, self._far)

        # Each joint's non-zero rows lie in a band of L rows from ``start``:
        # only those are written, one row per index; the rest stays as
        # np.zeros left it.
        L = self._band
        start = np.floor(np.minimum(np.maximum(
            kp[:, 1:] * self._band_scale + self._band_shift, 0.), H - L))
        # y relative to the band (exact for a power-of-two stride such as 4:
        # start * stride is a small integer)
        kp[:, 1:] -= start * self._stride_y

        # Separable Gaussian: factors (K, 2, n) of x at every column and of
        # y at the band's rows (the first L), cut at 3 sigma.
        sq = self._centres - kp[:, :, None]
        sq *= sq
        arg = sq * self._coef
        np.maximum(arg, self._exp_floor, out=arg)
        g = np.exp(arg)
        g *= sq <= self._cut2
        heatmaps = np.zeros((K * H, W), np.float32)
        heatmaps[(start.astype(np.intp) + self._band_rows(K)).ravel()] = (
            g[:, 1, :L, None] * g[:, 0, None, :W]).reshape(K * L, W)
        return dict(heatmaps=heatmaps.reshape(K, H, W),
                    keypoint_weights=weights)

    def _band_rows(self, num: int) -> np.ndarray:
        """Flat row of every band row of ``num`` joints before the shift by
        ``start``: ``k * H + i``, (K, L) (cached)."""
        if num not in self._band_cache:
            self._band_cache[num] = (np.arange(num)[:, None] *
                                     self.heatmap_size[1] +
                                     np.arange(self._band))
        return self._band_cache[num]

    # ------------------------------------------------------------ decode
    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Decode one instance's heatmaps.

        Args:
            encoded (np.ndarray): Heatmaps (K, H, W).

        Returns:
            tuple: keypoints (1, K, 2) in input space and scores (1, K).
        """
        kpts, scores = self.batch_decode(torch.from_numpy(
            np.asarray(encoded, np.float32))[None])
        return kpts[0], scores[0]

    def batch_decode(self, batch_heatmaps: Tensor
                     ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Decode a batch at once (vectorised; NumPy on the CPU, torch on
        the heatmaps' device otherwise).

        Args:
            batch_heatmaps (Tensor): (B, K, H, W).

        Returns:
            tuple: lists of B keypoint arrays (1, K, 2) in input space and of
            B score arrays (1, K).
        """
        if batch_heatmaps.device.type == 'cpu':
            xy, scores = decode_heatmaps_numpy(
                batch_heatmaps.detach().float().numpy(), refine=self.refine)
            xy = heatmap_to_input(xy, self.stride)
        else:
            xy, scores = decode_heatmaps(batch_heatmaps, refine=self.refine)
            stride = torch.as_tensor(self.stride, device=xy.device)
            xy = heatmap_to_input(xy, stride).cpu().numpy()
            scores = scores.cpu().numpy()
        return list(xy[:, None]), list(scores[:, None])


def decode_heatmaps_numpy(heatmaps: np.ndarray, refine: bool = True
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`decode_heatmaps` in NumPy (faster on the CPU than torch's
    arg-max reduction; the arg-max of a large batch reads it on torch's
    threads, :func:`~.heatmap_argmax.first_argmax`).

    Args:
        heatmaps (np.ndarray): (B, K, H, W).
        refine (bool): Apply the quarter-pixel step.

    Returns:
        tuple: heatmap-space coordinates (B, K, 2) float32 and the maxima
        (B, K) float32.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f'heatmaps must be (B, K, H, W), got '
                         f'{heatmaps.shape}')
    B, K, H, W = heatmaps.shape
    n, hw = B * K, H * W
    maps = np.ascontiguousarray(heatmaps, np.float32).reshape(n, H, W)
    idx = first_argmax(maps)
    y, x = np.divmod(idx, W)
    xy = np.empty((n, 2), np.float32)
    xy[:, 0], xy[:, 1] = x, y
    # one gather: the maximum and its four neighbours in the flat map
    # (clamped to it; a border step is masked below)
    offsets = np.array([0, 1, -1, W, -W] if refine else [0])[:, None]
    values = np.take(maps, np.clip(idx + offsets, 0, hw - 1)
                     + np.arange(n) * hw)
    scores = values[0]
    if refine:
        xy[:, 0] += np.float32(0.25) * (np.sign(values[1] - values[2])
                                        * ((x > 0) & (x < W - 1)))
        xy[:, 1] += np.float32(0.25) * (np.sign(values[3] - values[4])
                                        * ((y > 0) & (y < H - 1)))
    return xy.reshape(B, K, 2), scores.reshape(B, K)


def decode_heatmaps(heatmaps: Tensor,
                    refine: bool = True) -> Tuple[Tensor, Tensor]:
    """Argmax of every heatmap plus the quarter-pixel step.

    The step moves 0.25 px along each axis toward the higher of the two
    neighbours (no step on a tie), and only where both neighbours exist
    (``0 < x < W - 1``; the Lua original also skips the border).

    Args:
        heatmaps (Tensor): (B, K, H, W).
        refine (bool): Apply the quarter-pixel step.

    Returns:
        tuple: heatmap-space coordinates (B, K, 2) float32 and the maxima
        (B, K).
    """
    if heatmaps.dim() != 4:
        raise ValueError(f'heatmaps must be (B, K, H, W), got '
                         f'{tuple(heatmaps.shape)}')
    hm = heatmaps.detach().float()
    B, K, H, W = hm.shape
    flat = hm.reshape(B, K, H * W)
    scores, idx = flat.max(dim=-1)
    x = idx % W
    y = idx // W
    xy = torch.stack([x, y], dim=-1).float()
    if refine:
        def at(yy: Tensor, xx: Tensor) -> Tensor:
            return flat.gather(-1, (yy * W + xx)[..., None])[..., 0]

        xl, xr = (x - 1).clamp(min=0), (x + 1).clamp(max=W - 1)
        yu, yd = (y - 1).clamp(min=0), (y + 1).clamp(max=H - 1)
        step_x = torch.sign(at(y, xr) - at(y, xl)) * ((x > 0) & (x < W - 1))
        step_y = torch.sign(at(yd, x) - at(yu, x)) * ((y > 0) & (y < H - 1))
        xy = xy + 0.25 * torch.stack([step_x, step_y], dim=-1)
    return xy, scores
