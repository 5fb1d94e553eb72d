"""Map checkpoints of the official PyTorch port onto mmhg's key layout.

The port (``princeton-vl/pytorch_stacked_hourglass``) builds ``PoseNet``
(``models/posenet.py``) from ``Conv``, ``Residual`` and ``Hourglass``
(``models/layers.py``). Its state dict, per module:

=================================== ===================================
port (after any ``model.module.``)   mmhg (``StackedHourglassEstimator``)
=================================== ===================================
``pre.0.conv`` / ``pre.0.bn``        ``backbone.stem.conv`` / ``.norm``
``pre.1`` / ``pre.3`` / ``pre.4``    ``backbone.stem.res1/res2/res3``
``hgs.{i}.0`` (+ ``up1``, ``low1``,  ``backbone.stacks.{i}.hourglass``
``low2``, ``low3``)                  (+ ``up``, ``down``, ``inner``,
                                     ``after``)
``features.{i}.0``                   ``backbone.stacks.{i}.residual``
``features.{i}.1.conv`` / ``.bn``    ``backbone.stacks.{i}.conv`` / ``.norm``
``outs.{i}.conv``                    ``backbone.stacks.{i}.heatmap_conv``
``merge_features.{i}.conv.conv``     ``backbone.merge_features.{i}``
``merge_preds.{i}.conv.conv``        ``backbone.merge_heatmaps.{i}``
=================================== ===================================

Inside a residual: ``bn{k}`` -> ``norm{k}``, ``conv{k}.conv`` ->
``conv{k}``, ``skip_layer.conv`` -> ``skip``. The port's ``Residual``
builds ``skip_layer`` even when input and output widths match and then
never calls it (``need_skip`` is False), so those weights are dropped.

Nothing here touches files; the CLI is
``tools/model_converters/pytorch_stacked_hourglass_to_mmhg.py``.
"""
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

#: Prefixes the port's wrappers put in front of every key:
#: ``Trainer(DataParallel(PoseNet))`` gives ``model.module.``.
PORT_PREFIXES: Tuple[str, ...] = ('model.module.', 'module.model.',
                                  'module.', 'model.')

_RESIDUAL = re.compile(r'^(?:bn(?P<bn>[123])|conv(?P<conv>[123])\.conv'
                       r'|(?P<skip>skip_layer)\.conv)\.(?P<leaf>\w+)$')
_HG_SEGMENTS = {'up1': 'up', 'low1': 'down', 'low2': 'inner',
                'low3': 'after'}
_PLAIN = [
    (re.compile(r'^pre\.0\.conv\.(\w+)$'), 'stem.conv.{0}'),
    (re.compile(r'^pre\.0\.bn\.(\w+)$'), 'stem.norm.{0}'),
    (re.compile(r'^features\.(\d+)\.1\.conv\.(\w+)$'), 'stacks.{0}.conv.{1}'),
    (re.compile(r'^features\.(\d+)\.1\.bn\.(\w+)$'), 'stacks.{0}.norm.{1}'),
    (re.compile(r'^outs\.(\d+)\.conv\.(\w+)$'), 'stacks.{0}.heatmap_conv.{1}'),
    (re.compile(r'^merge_features\.(\d+)\.conv\.conv\.(\w+)$'),
     'merge_features.{0}.{1}'),
    (re.compile(r'^merge_preds\.(\d+)\.conv\.conv\.(\w+)$'),
     'merge_heatmaps.{0}.{1}'),
]
_STEM_RES = {'1': 'stem.res1', '3': 'stem.res2', '4': 'stem.res3'}


class PortCheckpointError(ValueError):
    """A port checkpoint that cannot be converted (names the problem)."""


def extract_port_state_dict(obj: Any, source: str = '<checkpoint>'
                            ) -> Dict[str, Tensor]:
    """The state dict inside a loaded port checkpoint.

    Args:
        obj (Any): What ``torch.load`` returned: ``{'state_dict': ...,
            'optimizer': ..., 'epoch': ...}`` (the port's ``train.py``) or
            a bare state dict.
        source (str): File name for error messages.

    Returns:
        Dict[str, Tensor]: The tensors, keys unchanged.
    """
    if not isinstance(obj, Mapping):
        raise PortCheckpointError(f'{source}: expected a dict, got '
                                  f'{type(obj).__name__}')
    sd = obj['state_dict'] if 'state_dict' in obj else obj
    if not isinstance(sd, Mapping) or not sd:
        raise PortCheckpointError(f'{source}: "state_dict" is empty or not '
                                  f'a dict (top-level keys: {sorted(obj)})')
    bad = sorted(str(k) for k, v in sd.items() if not isinstance(v, Tensor))
    if bad:
        raise PortCheckpointError(
            f'{source}: not a state dict: entries {bad[:10]} are not '
            f'tensors (top-level keys: {sorted(map(str, obj))})')
    return dict(sd)


def strip_port_prefix(state_dict: Mapping[str, Tensor]
                      ) -> Tuple[Dict[str, Tensor], str]:
    """Remove the wrapper prefix shared by every key, if any.

    Returns:
        Tuple[Dict[str, Tensor], str]: The re-keyed dict and the prefix
        removed (``''`` when none).
    """
    for prefix in PORT_PREFIXES:
        if all(k.startswith(prefix) for k in state_dict):
            return {k[len(prefix):]: v
                    for k, v in state_dict.items()}, prefix
    return dict(state_dict), ''


def _residual_key(prefix: str, rest: str) -> Optional[str]:
    """Our key for ``rest`` inside a port ``Residual`` mapped to ``prefix``.
    """
    m = _RESIDUAL.match(rest)
    if m is None:
        return None
    if m['bn']:
        return f'{prefix}.norm{m["bn"]}.{m["leaf"]}'
    if m['conv']:
        return f'{prefix}.conv{m["conv"]}.{m["leaf"]}'
    return f'{prefix}.skip.{m["leaf"]}'


def _hourglass_key(prefix: str, rest: str) -> Optional[str]:
    """Our key for ``rest`` inside a (possibly nested) port ``Hourglass``."""
    parts = rest.split('.')
    ours = [prefix]
    for i, seg in enumerate(parts):
        if seg not in _HG_SEGMENTS:
            return None
        ours.append(_HG_SEGMENTS[seg])
        tail = '.'.join(parts[i + 1:])
        if seg != 'low2' or _RESIDUAL.match(tail):
            return _residual_key('.'.join(ours), tail)
    return None


def port_key_to_mmhg(key: str) -> Optional[str]:
    """Backbone key of mmhg for one (prefix-free) port key.

    Args:
        key (str): E.g. ``'hgs.0.0.low2.up1.bn1.weight'``.

    Returns:
        str | None: E.g. ``'stacks.0.hourglass.inner.up.norm1.weight'``
        (without ``backbone.``), or None for a key the port never has.
    """
    for pattern, template in _PLAIN:
        m = pattern.match(key)
        if m:
            return template.format(*m.groups())
    m = re.match(r'^pre\.([134])\.(.+)$', key)
    if m:
        return _residual_key(_STEM_RES[m[1]], m[2])
    m = re.match(r'^features\.(\d+)\.0\.(.+)$', key)
    if m:
        return _residual_key(f'stacks.{m[1]}.residual', m[2])
    m = re.match(r'^hgs\.(\d+)\.0\.(.+)$', key)
    if m:
        return _hourglass_key(f'stacks.{m[1]}.hourglass', m[2])
    return None


def infer_port_architecture(state_dict: Mapping[str, Tensor]
                            ) -> Dict[str, int]:
    """Read the network's hyper-parameters off a prefix-free port dict.

    Returns:
        Dict[str, int]: ``num_stacks``, ``feat_channels``, ``depth``,
        ``num_keypoints`` and ``in_channels``.
    """
    needed = ('pre.0.conv.weight', 'pre.4.conv3.conv.weight',
              'outs.0.conv.weight')
    absent = [k for k in needed if k not in state_dict]
    if absent:
        raise PortCheckpointError(
            f'cannot infer the architecture: keys {absent} are missing; '
            f'is this a pytorch_stacked_hourglass PoseNet? First keys: '
            f'{sorted(state_dict)[:8]}')
    stacks = {int(m[1]) for k in state_dict
              for m in [re.match(r'^hgs\.(\d+)\.', k)] if m}
    depth = 0
    while any(k.startswith('hgs.0.0.' + 'low2.' * depth + 'up1.')
              for k in state_dict):
        depth += 1
    return dict(num_stacks=max(stacks) + 1 if stacks else 0,
                feat_channels=int(state_dict['pre.4.conv3.conv.weight']
                                  .shape[0]),
                depth=depth,
                num_keypoints=int(state_dict['outs.0.conv.weight'].shape[0]),
                in_channels=int(state_dict['pre.0.conv.weight'].shape[1]))


def build_reference_backbone(num_stacks: int, feat_channels: int,
                             depth: int, num_keypoints: int,
                             in_channels: int = 3,
                             device: str = 'meta') -> torch.nn.Module:
    """Our backbone for the given hyper-parameters (on ``meta`` by default:
    shapes only, no memory).
    """
    from mmhg_plugin.models.backbones.stacked_hourglass import StackedHourglass
    with torch.device(device):
        return StackedHourglass(num_stacks=num_stacks,
                                feat_channels=feat_channels, depth=depth,
                                num_keypoints=num_keypoints,
                                in_channels=in_channels)


def _problem_report(unknown: List[str], missing: List[str],
                    shapes: List[str], arch: Dict[str, int]) -> str:
    lines = [f'cannot convert to mmhg StackedHourglass({arch}):']
    for title, items in (('unknown keys (not in the port layout, or not in '
                          'a network of this size)', unknown),
                         ('missing keys', missing),
                         ('shape mismatches', shapes)):
        if items:
            lines.append(f'  {title} ({len(items)}):')
            lines += [f'    {item}' for item in sorted(items)]
    return '\n'.join(lines)


def convert_port_state_dict(
        state_dict: Mapping[str, Tensor],
        num_stacks: Optional[int] = None,
        feat_channels: Optional[int] = None,
        depth: Optional[int] = None,
        num_keypoints: Optional[int] = None
) -> Tuple['OrderedDict[str, Tensor]', Dict[str, Any]]:
    """Convert a port ``PoseNet`` state dict to mmhg's estimator layout.

    Hyper-parameters are read from the tensors unless given. Every key of
    a freshly built :class:`StackedHourglass` must be filled with a tensor
    of its exact shape; unknown keys (anything that is neither mapped nor
    an unused ``skip_layer``) and missing keys are refused together, sorted.
    A ``num_batches_tracked`` the port lacks (PyTorch 0.4.0 saves none) is
    filled with 0. Tensors are not copied; meta tensors work.

    Args:
        state_dict (Mapping[str, Tensor]): The port's state dict, with or
            without a ``model.module.`` / ``module.`` prefix.
        num_stacks (int, optional): Override the inferred stack count.
        feat_channels (int, optional): Override the inferred width.
        depth (int, optional): Override the inferred hourglass depth.
        num_keypoints (int, optional): Override the inferred heatmap count.

    Returns:
        Tuple[OrderedDict, dict]: Our state dict (keys ``backbone.*`` in
        our model's order) and info: the architecture, ``prefix``,
        ``dropped_keys``, ``dropped_params``, ``filled_keys``,
        ``num_params`` (learnable parameters of the result).

    Raises:
        PortCheckpointError: Unknown, missing or mis-shaped keys.
    """
    sd, prefix = strip_port_prefix(state_dict)
    arch = infer_port_architecture(sd)
    for name, value in (('num_stacks', num_stacks),
                        ('feat_channels', feat_channels), ('depth', depth),
                        ('num_keypoints', num_keypoints)):
        if value is not None:
            arch[name] = int(value)
    try:
        ref = build_reference_backbone(**arch)
    except ValueError as e:
        raise PortCheckpointError(f'cannot build StackedHourglass({arch}): '
                                  f'{e}') from e
    expected = ref.state_dict()
    params = {n for n, _ in ref.named_parameters()}
    out: Dict[str, Tensor] = {}
    unknown, shapes, dropped = [], [], []
    for key, tensor in sd.items():
        ours = port_key_to_mmhg(key)
        if (ours is not None and ours not in expected and '.skip.' in ours
                and ours.split('.skip.')[0] + '.conv1.weight' in expected):
            dropped.append(key)  # skip_layer of an equal-width Residual
            continue
        if ours is None or ours not in expected:
            unknown.append(prefix + key)
        elif tuple(tensor.shape) != tuple(expected[ours].shape):
            shapes.append(f'{prefix + key} {tuple(tensor.shape)} -> '
                          f'backbone.{ours} {tuple(expected[ours].shape)}')
        else:
            out[ours] = tensor
    filled = [k for k in expected
              if k not in out and k.endswith('num_batches_tracked')]
    missing = [f'backbone.{k}' for k in expected
               if k not in out and k not in filled]
    if unknown or missing or shapes:
        raise PortCheckpointError(
            _problem_report(unknown, missing, shapes, arch))
    result: 'OrderedDict[str, Tensor]' = OrderedDict()
    for k in expected:
        result[f'backbone.{k}'] = out[k] if k in out else torch.zeros(
            (), dtype=torch.long)
    info = dict(
        arch,
        prefix=prefix,
        dropped_keys=sorted(prefix + k for k in dropped),
        dropped_params=sum(sd[k].numel() for k in dropped),
        filled_keys=[f'backbone.{k}' for k in filled],
        num_params=sum(out[k].numel() for k in params))
    return result, info


def mpii_dataset_meta() -> Dict[str, Any]:
    """MPII metainfo exactly as MMPose's ``MpiiDataset`` holds it (read
    from MMPose's own ``configs/_base_/datasets/mpii.py``)."""
    import mmpose
    from mmpose.datasets.datasets.body.mpii_dataset import MpiiDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    spec = dict(MpiiDataset.METAINFO)
    packaged = Path(mmpose.__file__).parent / '.mim' / spec['from_file']
    if packaged.is_file():
        spec['from_file'] = str(packaged)
    return parse_pose_metainfo(spec)
