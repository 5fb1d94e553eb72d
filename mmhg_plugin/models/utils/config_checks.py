"""Checks between the parts of a model config, made when the model is built.

Each part checks its own arguments; what only shows when the parts meet
(stack counts, channels, the input size against the hourglass depth) would
otherwise fail at the first training step with a message about tensors.
The messages name the config keys to change.
"""
from torch import nn


def _stacks_returned(backbone: nn.Module) -> str:
    """``N: model.backbone.num_stacks=S, out_indices=...`` for messages."""
    out_indices = tuple(backbone.out_indices)
    shown = 'all' if out_indices == tuple(range(backbone.num_stacks)) \
        else out_indices
    return (f'{len(out_indices)}: model.backbone.num_stacks='
            f'{backbone.num_stacks}, out_indices={shown}')


def _deepest_fitting(size: int, out_stride: int) -> int:
    """The largest hourglass depth whose down-sampling ``size`` allows
    (0 when ``size`` is not even a multiple of ``2 * out_stride``)."""
    depth, side = 0, size // out_stride
    if side * out_stride != size:
        return 0
    while side > 0 and side % 2 == 0:
        side //= 2
        depth += 1
    return depth


def check_backbone_and_head(backbone: nn.Module, head: nn.Module) -> None:
    """Check that ``head`` fits what ``backbone`` returns.

    Applies where the modules expose the attributes (``StackedHourglass``
    and ``StackedHourglassHead`` do; other backbones and heads are skipped):

    - ``head.num_stacks`` equals the number of tensors the backbone returns
      (``len(backbone.out_indices)``);
    - ``head.in_channels`` equals ``backbone.out_channels``;
    - the codec's input size (``head.decoder.input_size``, (w, h)) is a
      multiple of ``backbone.size_divisor`` (the stem's 4x times ``2 **
      depth``).

    Args:
        backbone (nn.Module): The built backbone.
        head (nn.Module): The built head.

    Raises:
        ValueError: Naming the config keys that disagree.
    """
    stacks = getattr(head, 'num_stacks', None)
    if stacks is not None and hasattr(backbone, 'out_indices') and \
            len(backbone.out_indices) != stacks:
        raise ValueError(
            f'model.head.num_stacks ({stacks}) != the number of stacks the '
            f'backbone returns ({_stacks_returned(backbone)}); set both '
            'num_stacks to the same value')
    out_channels = getattr(backbone, 'out_channels', None)
    in_channels = getattr(head, 'in_channels', None)
    if None not in (out_channels, in_channels) and \
            out_channels != in_channels:
        key = 'num_keypoints' if getattr(backbone, 'num_keypoints', None) \
            else 'feat_channels'
        raise ValueError(
            f'model.head.in_channels ({in_channels}) != the channels of the '
            f'backbone outputs ({out_channels}: model.backbone.{key})')
    size = getattr(getattr(head, 'decoder', None), 'input_size', None)
    divisor = getattr(backbone, 'size_divisor', None)
    if size is None or divisor is None:
        return
    w, h = (int(v) for v in size)
    if w % divisor or h % divisor:
        depth = backbone.depth
        fits = min(_deepest_fitting(w, backbone.out_stride),
                   _deepest_fitting(h, backbone.out_stride))
        verdict = 'is too deep for' if fits else 'does not fit'
        advice = (f'at this size depth <= {fits} fits' if fits else
                  f'use sizes divisible by {2 * backbone.out_stride}')
        raise ValueError(
            f'model.backbone.depth={depth} {verdict} the input size {w}x{h} '
            f'(model.head.decoder.input_size): the stem '
            f'({backbone.out_stride}x) and {depth} hourglass levels '
            f'(2**{depth}) need height and width divisible by {divisor}; '
            f'{advice}')
