"""Random laws of the crop scale factor (training augmentation).

Two laws, picked by name:

- ``'uniform'``: ``U(lo, hi)`` over ``scale_range``, as the paper's text and
  the official PyTorch port (``data/MPII/dp.py``: ``U(0.75, 1.25)``).
- ``'lua'``: ``2 ** clip(N(0, sigma), -clip, clip)``, the code of the Lua
  original (``pose-hg-train``, ``src/util/pose.lua``: ``s = s * (2 ^
  rnd(opt.scale))`` with ``rnd(x) = max(-2x, min(2x, randn() * x))`` and
  ``opt.scale = 0.25``): a log-normal factor of median 1, clipped to
  ``[2 ** -0.5, 2 ** 0.5]`` (0.707 to 1.414); ``P(|N(0, 1)| > 2)``, 4.55 %
  of the draws, sit on the bounds (2.28 % on each).

A factor above 1 enlarges the crop (the person appears smaller).
"""
from typing import Optional, Sequence

import numpy as np

#: Names of the scale laws.
SCALE_LAWS = ('uniform', 'lua')
#: The Lua original's ``opt.scale``: std of the log2 scale factor.
LUA_SCALE_SIGMA = 0.25
#: The Lua original's clip of the log2 factor, ``2 * opt.scale``.
LUA_SCALE_CLIP = 0.5


def check_scale_law(law: str, scale_range: Optional[Sequence[float]],
                    sigma: float, clip: float) -> None:
    """Refuse an unknown law or parameters that do not fit it.

    Args:
        law (str): One of :data:`SCALE_LAWS`.
        scale_range (Sequence[float] | None): The uniform law's range; must
            be None for ``'lua'``, which has its own parameters.
        sigma (float): Std of the log2 factor (``'lua'``), >= 0.
        clip (float): Bound of the log2 factor (``'lua'``), >= 0.

    Raises:
        ValueError: On a bad combination.
    """
    if law not in SCALE_LAWS:
        raise ValueError(f'scale_law must be one of {SCALE_LAWS}, got '
                         f'{law!r}')
    if law == 'lua':
        if scale_range is not None:
            raise ValueError(
                "scale_law='lua' draws 2 ** clip(N(0, scale_sigma), "
                '+-scale_clip) and takes no scale_range (the uniform '
                f'law\'s); got scale_range={tuple(scale_range)}')
        if sigma < 0 or clip < 0:
            raise ValueError(f'scale_sigma and scale_clip must be >= 0, got '
                             f'{sigma}, {clip}')


def sample_scale_factor(law: str,
                        scale_range: Optional[Sequence[float]] = None,
                        sigma: float = LUA_SCALE_SIGMA,
                        clip: float = LUA_SCALE_CLIP) -> float:
    """Draw one crop scale factor from NumPy's global generator.

    Args:
        law (str): ``'uniform'`` or ``'lua'`` (see the module doc).
        scale_range (Sequence[float] | None): ``(lo, hi)`` of the uniform
            law; None means no scale augmentation (factor 1, no draw).
        sigma (float): Std of the log2 factor of the ``'lua'`` law.
        clip (float): The ``'lua'`` law clips the log2 factor to
            ``[-clip, clip]``.

    Returns:
        float: The factor (multiplies the crop size).
    """
    if law == 'uniform':
        if scale_range is None:
            return 1.
        return float(np.random.uniform(*scale_range))
    if law == 'lua':
        return float(2.**np.clip(np.random.normal(0., sigma), -clip, clip))
    raise ValueError(f'scale law must be one of {SCALE_LAWS}, got {law!r}')
