"""Gaussian heatmap codec of the Stacked Hourglass (encode and decode)."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS
from torch import Tensor

from .coordinates import heatmap_to_input, input_to_heatmap


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
        self._grid_x = np.arange(heatmap_size[0], dtype=np.float32)
        self._grid_y = np.arange(heatmap_size[1], dtype=np.float32)

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
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], np.float32)
        W, H = self.heatmap_size
        xy = input_to_heatmap(keypoints[0, :, :2], self.stride)  # (K, 2)
        weights = np.asarray(keypoints_visible, np.float32).reshape(
            keypoints.shape[:2]).copy()
        finite = np.isfinite(xy).all(axis=1)
        inside = finite & (xy[:, 0] >= -0.5) & (xy[:, 0] < W - 0.5) & (
            xy[:, 1] >= -0.5) & (xy[:, 1] < H - 0.5)
        weights[0, ~inside] = 0.
        xy = np.where(finite[:, None], xy, 0.)

        # Separable Gaussian: (K, W) and (K, H) factors, cut at 3 sigma.
        dx = self._grid_x[None] - xy[:, :1]
        dy = self._grid_y[None] - xy[:, 1:]
        radius = 3 * self.sigma
        gx = np.where(np.abs(dx) <= radius,
                      np.exp(-dx * dx / (2 * self.sigma**2)), 0.)
        gy = np.where(np.abs(dy) <= radius,
                      np.exp(-dy * dy / (2 * self.sigma**2)), 0.)
        gy *= (weights[0] > 0)[:, None]
        heatmaps = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

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
        """Decode a batch at once (vectorised, on the heatmaps' device).

        Args:
            batch_heatmaps (Tensor): (B, K, H, W).

        Returns:
            tuple: lists of B keypoint arrays (1, K, 2) in input space and of
            B score arrays (1, K).
        """
        xy, scores = decode_heatmaps(batch_heatmaps, refine=self.refine)
        stride = torch.as_tensor(self.stride, device=xy.device)
        xy = heatmap_to_input(xy, stride).cpu().numpy()
        scores = scores.cpu().numpy()
        return [k[None] for k in xy], [s[None] for s in scores]


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
