"""Top-down crop of one person with the Stacked Hourglass augmentation."""
import logging
import os
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmengine.logging import print_log
from mmpose.registry import TRANSFORMS

from mmhg_plugin.datasets.mpii_conventions import MPII_CROP_PADDING, MPII_INDEX_BASE

from .augment_laws import LUA_SCALE_CLIP, LUA_SCALE_SIGMA, check_scale_law, sample_scale_factor
from .crop_geometry import crop_matrix
from .image_io import BadSampleError, choose_reduction, read_image_mapped

#: What :class:`MPIITopdownAffine` does with a :class:`BadSampleError`.
BAD_SAMPLE_POLICIES = ('raise', 'skip')


@TRANSFORMS.register_module()
class MPIITopdownAffine(BaseTransform):
    """Crop, rotate, scale and flip one person into the network input.

    The crop is the square (or input-shaped) box of side ``bbox_scale *
    scale_padding`` around ``bbox_center`` (for MPII, with ``MpiiDataset``'s
    box: :func:`~mmhg_plugin.datasets.mpii_conventions.mpii_crop_box`),
    warped by one affine (:func:`crop_matrix`) applied to the image and the
    keypoints alike. Training augmentation: scale factor ``U(scale_range)``
    (the paper; ``scale_law='lua'``: the Lua code's log-normal law), rotation
    ``clip(N(0, rotate_std), +-rotate_max)``
    with probability ``rotate_prob``, horizontal flip with probability
    ``flip_prob`` (left/right joints swapped by ``flip_indices``). Without
    augmentation parameters the crop is deterministic (validation, test).

    When ``img`` is absent the image is read here; a JPEG at 1/2, 1/4 or 1/8
    of its size when the crop shrinks it at least that much
    (``reduced_decode``), with the crop placed exactly as on the full image
    for every EXIF orientation (:func:`~.image_io.read_image_mapped`).

    Bad samples (image missing, empty, corrupt or truncated; box not finite
    or of size <= 0; keypoints of the wrong shape for ``flip_indices``)
    raise :class:`~.image_io.BadSampleError` naming the image and the
    annotation ``id``, or, with ``on_bad_sample='skip'``, log a warning
    with a running count (per process: each dataloader worker counts its
    own) and return None, so that MMEngine's ``BaseDataset`` fetches
    another index (at most ``max_refetch`` times). Use 'skip' in training
    pipelines only: in test mode ``BaseDataset`` refuses None.

    Required Keys:
        - img or img_path
        - bbox_center (1, 2) and bbox_scale (1, 2), or bbox (1, 4) xyxy
        - keypoints (1, K, 2), 1-based as MPII annotates them; optional
          (absent at inference)
        - keypoints_visible (1, K), optional
        - flip_indices, when flipping keypoints

    Modified Keys:
        - img: the crop (h, w, 3)
        - img_shape
        - keypoints_visible: left/right swapped when flipped, to pair with
          ``transformed_keypoints``

    Added Keys:
        - ori_shape (when the image is read here)
        - input_size, input_center, input_scale
        - transformed_keypoints (1, K, 2), 0-based input coordinates:
          ``keypoints`` minus
          :data:`~mmhg_plugin.datasets.mpii_conventions.MPII_INDEX_BASE`,
          warped (the index base is no option: the metric adds the same
          constant back, see :mod:`mmhg_plugin.datasets.mpii_conventions`)
        - flip, flip_direction
        - warp_mat: (2, 3) image-to-input matrix

    Args:
        input_size (tuple[int, int]): Network input (w, h).
        scale_padding (float): Crop enlargement over ``bbox_scale``.
            Defaults to
            :data:`~mmhg_plugin.datasets.mpii_conventions.MPII_CROP_PADDING`
            (the originals' crop).
        scale_range (tuple[float, float] | None): Random crop scale factor
            range, e.g. (0.75, 1.25); None for no scale augmentation.
        rotate_std (float): Std of the random angle (degrees).
        rotate_max (float): Clip of the random angle (degrees).
        rotate_prob (float): Probability of rotating.
        flip_prob (float): Probability of a horizontal flip.
        reduced_decode (bool): Decode large JPEGs at reduced size.
        on_bad_sample (str): ``'raise'`` (default) or ``'skip'``.
        scale_law (str): Law of the scale factor (:mod:`.augment_laws`):
            ``'uniform'`` (default) draws ``U(scale_range)``; ``'lua'``
            draws the Lua code's ``2 ** clip(N(0, scale_sigma),
            +-scale_clip)`` and needs ``scale_range=None``.
        scale_sigma (float): Std of the log2 factor (``'lua'``).
        scale_clip (float): Clip of the log2 factor (``'lua'``).
    """

    def __init__(self,
                 input_size: Tuple[int, int],
                 scale_padding: float = MPII_CROP_PADDING,
                 scale_range: Optional[Sequence[float]] = None,
                 rotate_std: float = 0.,
                 rotate_max: float = 0.,
                 rotate_prob: float = 0.,
                 flip_prob: float = 0.,
                 reduced_decode: bool = True,
                 on_bad_sample: str = 'raise',
                 scale_law: str = 'uniform',
                 scale_sigma: float = LUA_SCALE_SIGMA,
                 scale_clip: float = LUA_SCALE_CLIP) -> None:
        super().__init__()
        check_scale_law(scale_law, scale_range, scale_sigma, scale_clip)
        self.scale_law = scale_law
        self.scale_sigma = float(scale_sigma)
        self.scale_clip = float(scale_clip)
        if on_bad_sample not in BAD_SAMPLE_POLICIES:
            raise ValueError(f'on_bad_sample must be one of '
                             f'{BAD_SAMPLE_POLICIES}, got {on_bad_sample!r}')
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f'input_size must be (w, h) > 0, got '
                             f'{input_size}')
        if scale_range is not None and not 0 < scale_range[0] <= \
                scale_range[1]:
            raise ValueError(f'bad scale_range {scale_range}')
        for name, p in (('rotate_prob', rotate_prob), ('flip_prob',
                                                       flip_prob)):
            if not 0. <= p <= 1.:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.scale_padding = float(scale_padding)
        self.scale_range = None if scale_range is None else tuple(
            float(s) for s in scale_range)
        self.rotate_std = float(rotate_std)
        self.rotate_max = float(rotate_max)
        self.rotate_prob = float(rotate_prob)
        self.flip_prob = float(flip_prob)
        self.reduced_decode = reduced_decode
        self.on_bad_sample = on_bad_sample
        self.num_skipped = 0  # in this process

    @cache_randomness
    def _sample_augmentation(self) -> Tuple[float, float, bool]:
        """Draw (scale factor, rotation in degrees, flip) for one sample."""
        scale = sample_scale_factor(self.scale_law, self.scale_range,
                                    self.scale_sigma, self.scale_clip)
        rotation = 0.
        if self.rotate_prob > 0 and np.random.rand() < self.rotate_prob:
            rotation = float(
                np.clip(
                    np.random.normal(0., self.rotate_std), -self.rotate_max,
                    self.rotate_max))
        flip = bool(self.flip_prob > 0 and np.random.rand() < self.flip_prob)
        return scale, rotation, flip

    def _crop_box(self, results: Dict) -> Tuple[np.ndarray, float]:
        """Crop centre (2,) and crop width in image pixels, before
        augmentation."""
        if 'bbox_center' in results and 'bbox_scale' in results:
            center = np.asarray(results['bbox_center'], float).reshape(-1)
            box = np.asarray(results['bbox_scale'], float).reshape(-1)
        elif 'bbox' in results:
            x1, y1, x2, y2 = np.asarray(results['bbox'], float).reshape(-1)[:4]
            center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            box = np.array([x2 - x1, y2 - y1])
        else:
            raise KeyError(f'{self._who(results)}: needs bbox_center and '
                           'bbox_scale, or bbox')
        if center.size != 2 or box.size != 2 or not (
                np.isfinite(center).all() and np.isfinite(box).all()):
            raise BadSampleError(f'{self._who(results)}: bad box: center '
                                 f'{center.tolist()}, scale {box.tolist()}')
        if box.min() <= 0:
            raise BadSampleError(f'{self._who(results)}: box size must be '
                                 f'> 0, got {box.tolist()}')
        w, h = self.input_size
        # Fix the aspect ratio to the input's, as MMPose's TopdownAffine.
        crop_w = max(box[0], box[1] * w / h) * self.scale_padding
        return center, crop_w

    @staticmethod
    def _who(results: Dict) -> str:
        """Name the sample in error messages."""
        return (f"sample id={results.get('id', '?')} "
                f"image={results.get('img_path', '?')}")

    def _read(self, results: Dict,
              downscale: float) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The image to crop and the (3, 3) matrix from its pixel
        coordinates to the full image's (None for a given ``img``)."""
        if results.get('img') is not None:
            return results['img'], None
        red = choose_reduction(downscale) if self.reduced_decode else 1
        # the image is only warped (below), so it may live in a reused
        # buffer: no page faults for a fresh output on every read
        img, results['ori_shape'], to_full = read_image_mapped(
            results['img_path'], red, context=self._who(results),
            reuse_buffer=True)
        return img, to_full

    def _check_keypoints(self, results: Dict) -> None:
        """Refuse keypoints whose shape does not fit one instance of
        ``len(flip_indices)`` joints (and their visibility)."""
        kpts = results.get('keypoints')
        if kpts is None:
            return
        shape = np.shape(kpts)
        num = len(results['flip_indices']) if results.get(
            'flip_indices') is not None else None
        if len(shape) != 3 or shape[0] != 1 or shape[2] < 2 or (
                num is not None and shape[1] != num):
            want = f'(1, {num if num is not None else "K"}, 2)'
            raise BadSampleError(f'{self._who(results)}: keypoints have shape '
                                 f'{shape}, expected {want}')
        vis = results.get('keypoints_visible')
        if vis is not None and np.size(vis) != shape[1]:
            raise BadSampleError(
                f'{self._who(results)}: keypoints_visible has shape '
                f'{np.shape(vis)}, expected (1, {shape[1]})')

    def transform(self, results: Dict) -> Optional[Dict]:
        """Crop (and augment) one sample. See the class doc for the keys.

        Returns:
            dict | None: The sample, or None when it is bad and
            ``on_bad_sample='skip'``.

        Raises:
            BadSampleError: A bad sample, with ``on_bad_sample='raise'``.
        """
        try:
            return self._transform(results)
        except BadSampleError as e:
            if self.on_bad_sample == 'raise':
                raise
            self.num_skipped += 1
            print_log(
                f'{type(self).__name__}: skipped bad sample '
                f'({self.num_skipped} so far in process {os.getpid()}): {e}',
                logger='current', level=logging.WARNING)
            return None

    def _transform(self, results: Dict) -> Dict:
        """:meth:`transform` without the bad-sample policy."""
        self._check_keypoints(results)
        center, crop_w = self._crop_box(results)
        scale, rotation, flip = self._sample_augmentation()
        crop_w *= scale
        w, h = self.input_size
        mat = crop_matrix(center, crop_w, self.input_size, rotation, flip)
        img, to_full = self._read(results, crop_w / w)
        img_mat = mat if to_full is None else mat @ to_full
        results['img'] = cv2.warpAffine(
            img, img_mat[:2], (w, h), flags=cv2.INTER_LINEAR)
        results['img_shape'] = (h, w)

        kpts = results.get('keypoints')
        if kpts is not None:
            xy = np.asarray(kpts, np.float32)[..., :2]
            xy = xy - MPII_INDEX_BASE  # MPII's 1-based joints -> 0-based
            # non-finite joints stay non-finite (the codec gives them
            # weight 0); inf * 0 in the product is expected, not an error
            with np.errstate(invalid='ignore'):
                out = xy @ mat[:2, :2].T.astype(np.float32) + mat[
                    :2, 2].astype(np.float32)
            if flip:
                idx = results['flip_indices']
                out = out[:, idx]
                if results.get('keypoints_visible') is not None:
                    results['keypoints_visible'] = np.asarray(
                        results['keypoints_visible'])[:, idx]
            results['transformed_keypoints'] = out
        results['input_size'] = (w, h)
        results['input_center'] = center.astype(np.float32)
        results['input_scale'] = np.array([crop_w, crop_w * h / w],
                                          np.float32)
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        results['warp_mat'] = mat[:2].astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'scale_padding={self.scale_padding}, '
                f'scale_range={self.scale_range}, '
                f'rotate_std={self.rotate_std}, '
                f'rotate_max={self.rotate_max}, '
                f'rotate_prob={self.rotate_prob}, '
                f'flip_prob={self.flip_prob}, '
                f'reduced_decode={self.reduced_decode}, '
                f'on_bad_sample={self.on_bad_sample!r}, '
                f'scale_law={self.scale_law!r}, '
                f'scale_sigma={self.scale_sigma}, '
                f'scale_clip={self.scale_clip})')
