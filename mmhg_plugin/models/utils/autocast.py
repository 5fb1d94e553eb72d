"""Reduced-precision autocast of the backbone: which dtype, on which device.

The ``autocast`` switch of :class:`StackedHourglassEstimator` takes

- ``None`` / ``False``: float32 everywhere (the reference);
- ``'bf16'`` (or ``'bfloat16'``) / ``'fp16'`` (or ``'float16'``): run the
  backbone under ``torch.autocast`` with that dtype on whatever device the
  inputs are on;
- ``'auto'``: bfloat16 where the device computes it natively, float32
  elsewhere. Native means a CUDA device that supports bfloat16, or a CPU
  whose flags include ``amx_bf16`` (Intel AMX tiles) or ``avx512_bf16``
  (e.g. AMD Zen 4). On a CPU without them oneDNN has no bfloat16 kernels
  and PyTorch falls back to reference code that is tens of times slower
  than float32, so ``'auto'`` stays in float32 there.

Convolutions then run in the lower dtype; the heatmaps leave the backbone
as float32 and the loss and decoding stay in float32.
"""
import functools
from pathlib import Path
from typing import Optional, Union

import torch

#: The names each switch value may be given as.
_DTYPES = {
    'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16,
    'fp16': torch.float16, 'float16': torch.float16,
}
#: CPU flags (Linux ``/proc/cpuinfo``) that mean native bfloat16 math.
NATIVE_BF16_CPU_FLAGS = ('amx_bf16', 'avx512_bf16')

AutocastSetting = Union[None, bool, str]


def check_autocast(setting: AutocastSetting) -> AutocastSetting:
    """Validate the switch; returns it unchanged (``False`` -> ``None``).

    Raises:
        ValueError: For anything but None/False, 'auto' or a dtype name.
    """
    if setting is None or setting is False:
        return None
    if setting == 'auto' or setting in _DTYPES:
        return setting
    raise ValueError(
        f"autocast must be None, 'auto' or one of {sorted(_DTYPES)}, got "
        f'{setting!r}')


@functools.lru_cache(maxsize=None)
def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> frozenset:
    """The CPU's feature flags from ``cpuinfo`` (empty if it is absent,
    e.g. on macOS or Windows)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def has_native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    if device.type == 'cpu':
        return any(f in cpu_flags() for f in NATIVE_BF16_CPU_FLAGS)
    return False


def autocast_dtype(setting: AutocastSetting,
                   device: torch.device) -> Optional[torch.dtype]:
    """The dtype to autocast to on ``device``, or None for float32.

    Args:
        setting (None | str): The validated switch (:func:`check_autocast`).
        device (torch.device): Where the inputs are.

    Returns:
        torch.dtype | None: ``torch.bfloat16`` / ``torch.float16``, or None.
    """
    if setting is None:
        return None
    if setting == 'auto':
        return torch.bfloat16 if has_native_bf16(device) else None
    return _DTYPES[setting]
