"""Compare a loaded state dict with a model's before anything is copied.

MMEngine loads checkpoints with ``strict=False`` (``Runner.load_checkpoint``,
``--resume``, MMPose's ``init_model``): a checkpoint of another architecture
loads the tensors that happen to fit, logs a warning and the run goes on with
partly random weights. :class:`StackedHourglassEstimator` refuses such a
checkpoint with the one-line description made here, unless partial loading
was asked for.
"""
from typing import Iterable, List, Mapping, Optional

from torch import Tensor

#: Keys MMEngine ignores when the checkpoint lacks them (batch-norm step
#: counters: checkpoints of older code and of other frameworks omit them).
OPTIONAL_SUFFIXES = ('num_batches_tracked', )

#: How many keys of each kind a message names.
SHOWN_KEYS = 3


def _first(keys: Iterable[str], count: int = SHOWN_KEYS) -> str:
    keys = list(keys)
    more = ', ...' if len(keys) > count else ''
    return ', '.join(keys[:count]) + more


def state_dict_mismatch(model: Mapping[str, Tensor],
                        loaded: Mapping[str, Tensor]) -> Optional[str]:
    """Describe how ``loaded`` differs from ``model``, in one line.

    Args:
        model (Mapping[str, Tensor]): The model's state dict (the order of
            its keys orders the message).
        loaded (Mapping[str, Tensor]): The state dict to load, keys as in
            ``model``.

    Returns:
        str | None: None when every key of ``model`` (but the optional batch
        norm counters) is in ``loaded`` with the same shape and ``loaded``
        has no other key; otherwise e.g. ``2 tensors of another shape, first
        backbone.stem.conv.weight: checkpoint (8, 3, 7, 7), model (16, 3, 7,
        7), ...; 5 missing from the checkpoint, first a, b, c, ...; 0 not in
        the model``.
    """
    shape: List[str] = []
    missing: List[str] = []
    for key, value in model.items():
        if key not in loaded:
            if not key.endswith(OPTIONAL_SUFFIXES):
                missing.append(key)
        elif tuple(loaded[key].shape) != tuple(value.shape):
            shape.append(f'{key}: checkpoint {tuple(loaded[key].shape)}, '
                         f'model {tuple(value.shape)}')
    unexpected = [key for key in loaded if key not in model]
    if not (shape or missing or unexpected):
        return None
    parts = [f'{len(shape)} tensors of another shape', f'{len(missing)} '
             'missing from the checkpoint', f'{len(unexpected)} not in the '
             'model']
    for i, keys in enumerate((shape, missing, unexpected)):
        if keys:
            parts[i] += f', first {_first(keys)}'
    return '; '.join(parts)
