"""Per-channel colour scaling, the Stacked Hourglass colour augmentation."""
from typing import Dict, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ChannelScaleJitter(BaseTransform):
    """Multiply each colour channel by its own random factor and clip.

    The Lua original multiplies every channel of the [0, 1] input by
    ``U(0.6, 1.4)`` and clips to [0, 1]; on uint8 images that is the same
    with a clip to [0, 255]. Apply it after the crop (cheaper).

    Required Keys:
        - img (H, W, C) uint8

    Modified Keys:
        - img

    Args:
        low (float): Lowest factor. Defaults to 0.6.
        high (float): Highest factor. Defaults to 1.4.
        prob (float): Probability of jittering a sample. Defaults to 1.0.
    """

    def __init__(self,
                 low: float = 0.6,
                 high: float = 1.4,
                 prob: float = 1.0) -> None:
        super().__init__()
        if not 0 <= low <= high:
            raise ValueError(f'need 0 <= low <= high, got {low}, {high}')
        if not 0. <= prob <= 1.:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.low = float(low)
        self.high = float(high)
        self.prob = float(prob)

    @cache_randomness
    def _sample_factors(self, channels: int) -> Tuple[bool, np.ndarray]:
        """Whether to jitter, and the per-channel factors."""
        apply = bool(np.random.rand() < self.prob)
        return apply, np.random.uniform(self.low, self.high,
                                        channels).astype(np.float32)

    def transform(self, results: Dict) -> Dict:
        """Scale the channels of ``results['img']``."""
        img = results['img']
        apply, factors = self._sample_factors(img.shape[-1])
        if apply:
            if img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3:
                # one 256-entry table per channel: the same values as the
                # float path below, without a float copy of the image
                table = np.clip(
                    np.arange(256, dtype=np.float32)[:, None] * factors, 0,
                    255).astype(np.uint8)[:, None, :]
                results['img'] = cv2.LUT(img, table)
            else:
                out = img.astype(np.float32) * factors
                results['img'] = np.clip(out, 0, 255).astype(img.dtype)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(low={self.low}, high={self.high}, '
                f'prob={self.prob})')
