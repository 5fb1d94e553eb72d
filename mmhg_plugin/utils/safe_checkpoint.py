"""Load mmengine checkpoints with ``torch.load(weights_only=True)``.

torch >= 2.6 loads with ``weights_only=True`` by default: only tensors,
containers and explicitly allowed globals may be rebuilt, so a checkpoint can
never run code. mmengine 0.10.7 calls ``torch.load`` without the argument and
its checkpoints hold a few more things, so ``--resume`` dies with
"Unsupported global: numpy._core.multiarray._reconstruct". Instead of
trusting arbitrary pickles (``weights_only=False``), this module allows
exactly what mmengine and MMPose store, and nothing else:

- numpy arrays, dtypes and scalars (``dataset_meta``, message hub):
  ``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype``, ``numpy._core.multiarray.scalar`` and the concrete dtype
  classes;
- ``mmengine.logging.HistoryBuffer`` (the message hub's logged scalars) and
  ``collections.Counter`` (``MultiStepLR``'s milestones);
- ``getattr``, but only through :func:`history_buffer_statistic`: a
  HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer,
  'mean')``; any other object or attribute is refused.

:func:`register_safe_globals` runs when :mod:`mmhg_plugin` is imported.
"""
import collections
import os
import pickle
import re
from typing import Any, Callable, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from mmhg_plugin.utils.errors import CheckpointFileError, UnsafeCheckpointError

#: First bytes of a zip archive (``torch.save``'s format since torch 1.6).
ZIP_MAGIC = b'PK\x03\x04'
#: First byte of a pickle of protocol 2 or later (the legacy torch format,
#: ``_use_new_zipfile_serialization=False``, and plain pickles).
PICKLE_PROTO = 0x80

#: Attributes a pickled HistoryBuffer may ask ``getattr`` for.
HISTORY_BUFFER_STATISTICS = frozenset(
    ('mean', 'min', 'max', 'current', 'data'))


def history_buffer_statistic(obj: Any, name: str) -> Callable:
    """Stand-in for ``getattr`` during safe loading.

    Args:
        obj: The object whose attribute the pickle asks for.
        name (str): The attribute.

    Returns:
        The statistic method of :class:`HistoryBuffer` (class or instance).

    Raises:
        pickle.UnpicklingError: For anything else.
    """
    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    if is_buffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(obj, name)
    what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    raise pickle.UnpicklingError(
        f'refusing getattr({what}, {name!r}) while loading a '
        'checkpoint: only HistoryBuffer statistics are allowed')


def _numpy_globals() -> List[Any]:
    core = getattr(np, '_core', None) or np.core
    items: List[Any] = [
        core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray,
        np.dtype
    ]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return items


def register_safe_globals() -> None:
    """Allow what mmengine checkpoints contain for ``weights_only`` loads."""
    torch.serialization.add_safe_globals([
        *_numpy_globals(),
        HistoryBuffer,
        collections.Counter,
        (history_buffer_statistic, 'builtins.getattr'),
        (history_buffer_statistic, '__builtin__.getattr'),
    ])


def load_checkpoint_safely(path: str, map_location: str = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with one clear message for
    every file it cannot load.

    Args:
        path (str): Checkpoint file.
        map_location (str): Device to map tensors to.

    Returns:
        Any: What the file holds (for mmengine checkpoints a dict with
        ``state_dict``, ``meta``, ...).

    Raises:
        UnsafeCheckpointError: When the file holds anything but tensors,
            containers and the allowed globals (it may be trying to run
            code); names the file and the refused global. Also a
            ``pickle.UnpicklingError``.
        CheckpointFileError: When the file is missing, empty, not a
            PyTorch checkpoint, truncated or corrupt; names the file and the
            reason.
    """
    register_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f'refused to load {path}: it holds objects outside the safe '
            'allow-list (tensors, numpy arrays, mmengine message hub), so '
            'loading it could run code. If you trust this file, convert '
            'it yourself with torch.load(..., weights_only=False). '
            f'{_refusal(e)}') from e
    except FileNotFoundError as e:
        raise CheckpointFileError(f'checkpoint {path} does not exist') from e
    except Exception as e:  # torch raises many types for a damaged file
        raise CheckpointFileError(
            f'cannot read checkpoint {path}{_unreadable(path, e)}') from e


def _unreadable(path: str, error: Exception) -> str:
    """Why ``torch.load`` failed on ``path``, from the file's first bytes:
    the end of the message of :func:`load_checkpoint_safely`."""
    try:
        with open(path, 'rb') as f:
            head = f.read(16)
        size = os.path.getsize(path)
    except OSError as e:
        return f': {e.strerror or e}'
    if size == 0:
        return ': the file is empty (0 bytes)'
    cause = _error_text(error)
    if head.startswith(ZIP_MAGIC):
        return f' (truncated or corrupt?): {cause}'
    if head[0] == PICKLE_PROTO:
        return (f' (truncated or corrupt?): legacy (non-zip) torch file of '
                f'{size} bytes: {cause}')
    return (': not a PyTorch checkpoint: neither a zip archive nor a pickle '
            f'(it starts with {head!r})')


def _error_text(error: Exception) -> str:
    """``Type: message`` with the module of non-builtin types
    (``struct.error``) and the first line of the message only."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == 'builtins' else \
        f'{kind.__module__}.{kind.__qualname__}'
    text = str(error).strip().splitlines()
    return f'{name}: {text[0]}' if text else name


def _refusal(error: Exception) -> str:
    """What torch's weights-only unpickler refused, from its message
    (torch puts it among several paragraphs of advice)."""
    text = f'{error} {error.__cause__ or ""}'
    found = re.search(r'Unsupported global: GLOBAL (\S+)', text)
    if found:
        return f'Refused global: {found.group(1)}.'
    for line in text.splitlines():
        if 'refusing' in line:
            return line.strip()
    return text.strip().splitlines()[-1] if text.strip() else repr(error)
