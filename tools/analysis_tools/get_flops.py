"""Parameters and compute of a pose model, per part of the Stacked Hourglass.

    python tools/analysis_tools/get_flops.py CONFIG [--input-shape H [W]]
        [--cfg-options k=v ...]

Counts with mmengine's ``FlopAnalyzer`` (a traced forward of the
tensor-mode model: backbone, neck and head, no data preprocessor) and
``parameter_count``. FLOPs here are **multiply-accumulates (MACs)** of the
convolutions and linear layers (the fvcore / mmengine convention and that of
the reference figures: hg8 27.44 GMACs, hg2 8.33 GMACs at 256x256); one MAC
is two floating-point operations. Biases, norms, ReLUs, pooling, upsampling
and additions are not in the MACs; the norm and upsampling operations
mmengine counts are reported on a separate line.

Parts, for a ``StackedHourglass`` backbone: the stem; every stack (its
hourglass, residual, 1x1 feature conv + norm, heatmap conv and the two 1x1
merge convs feeding the next stack); the head; anything else (a neck) as
"other". Other backbones are reported as one part.
"""
import argparse
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import torch  # noqa: E402
from mmengine.analysis import FlopAnalyzer, parameter_count  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registers the plugin's modules)
from mmhg_plugin.models import StackedHourglass  # noqa: E402

#: Operators whose count is a number of multiply-accumulates.
MAC_OPERATORS = frozenset(
    ('conv', 'linear', 'matmul', 'mm', 'addmm', 'bmm', 'einsum'))

Part = Tuple[str, List[str]]


class TensorModeForward(nn.Module):
    """Wrap an estimator so that ``forward(x)`` is its tensor-mode forward.

    Args:
        model (nn.Module): An MMPose estimator (``forward(inputs,
            data_samples, mode)``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Raw head outputs of images ``x`` (B, 3, H, W)."""
        out = self.model(x, None, 'tensor')
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description='Parameters and MACs per part')
    p.add_argument('config', help='config file')
    p.add_argument('--input-shape', type=int, nargs='+',
                   help='input H [W] (default: the codec input size of the '
                   'config, else 256 256)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    return p.parse_args(argv)


def input_hw(cfg: Config, shape: Optional[Sequence[int]]) -> Tuple[int, int]:
    """The (H, W) to analyse: ``--input-shape`` or the config's input size.

    Args:
        cfg (Config): The merged config.
        shape (Sequence[int] | None): ``--input-shape`` (H or H W).

    Returns:
        tuple[int, int]: Height and width.
    """
    if shape:
        if len(shape) not in (1, 2) or min(shape) <= 0:
            raise SystemExit(f'--input-shape takes H or H W (> 0), got '
                             f'{list(shape)}')
        return (shape[0], shape[-1])
    decoder = cfg.model.get('head', {}).get('decoder') or {}
    if 'input_size' in decoder:
        w, h = decoder['input_size']
        return (int(h), int(w))
    return (256, 256)


def build_model(cfg: Config) -> nn.Module:
    """Build the estimator of ``cfg`` (mmpose scope) in eval mode on CPU."""
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    from mmpose.registry import MODELS
    cfg.model.train_cfg = None
    return MODELS.build(cfg.model).eval()


def model_parts(model: nn.Module) -> List[Part]:
    """Name the parts to report and the module prefixes each one sums.

    Args:
        model (nn.Module): The estimator.

    Returns:
        list[tuple[str, list[str]]]: (part name, module prefixes).
    """
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, StackedHourglass):
        parts: List[Part] = [('stem', ['backbone.stem'])]
        for i in range(backbone.num_stacks):
            names = [f'backbone.stacks.{i}']
            if i < backbone.num_stacks - 1:
                names.append(f'backbone.merge_features.{i}')
                if backbone.merge_heatmaps is not None:
                    names.append(f'backbone.merge_heatmaps.{i}')
            parts.append((f'stack {i + 1}', names))
    else:
        parts = [('backbone', ['backbone'])]
    if getattr(model, 'neck', None) is not None:
        parts.append(('neck', ['neck']))
    parts.append(('head', ['head']))
    return parts


def analyse(model: nn.Module, hw: Tuple[int, int]) -> Dict[str, object]:
    """Count parameters and operations per part.

    Args:
        model (nn.Module): The estimator, in eval mode.
        hw (tuple[int, int]): Input height and width.

    Returns:
        dict: ``rows`` [(part, params, macs)] including an "other" row when
        something is outside the parts, ``params`` and ``macs`` totals and
        ``other_ops`` (Counter of non-MAC operators, e.g. batch_norm).
    """
    x = torch.zeros(1, 3, *hw)
    analyzer = FlopAnalyzer(TensorModeForward(model), (x, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    try:
        per_module = analyzer.by_module_and_operator()
    except (ValueError, RuntimeError) as e:
        raise SystemExit(f'get_flops: forward at {hw[0]}x{hw[1]} failed: '
                         f'{e}') from e
    params = parameter_count(model)

    def macs(prefix: str) -> int:
        ops = per_module.get(f'model.{prefix}' if prefix else 'model',
                             Counter())
        return int(sum(v for k, v in ops.items() if k in MAC_OPERATORS))

    rows = []
    for name, prefixes in model_parts(model):
        rows.append((name, sum(params.get(p, 0) for p in prefixes),
                     sum(macs(p) for p in prefixes)))
    total_params, total_macs = params[''], macs('')
    rest = (total_params - sum(r[1] for r in rows),
            total_macs - sum(r[2] for r in rows))
    if rest != (0, 0):
        rows.append(('other', *rest))
    other_ops = Counter({
        k: int(v)
        for k, v in per_module.get('model', Counter()).items()
        if k not in MAC_OPERATORS
    })
    return dict(rows=rows, params=total_params, macs=total_macs,
                other_ops=other_ops)


def format_report(result: Dict[str, object], hw: Tuple[int, int],
                  config: str) -> str:
    """The text table printed by the tool.

    Args:
        result (dict): Output of :func:`analyse`.
        hw (tuple[int, int]): Input height and width.
        config (str): Config path, for the title.

    Returns:
        str: The report.
    """
    total_p, total_m = result['params'], result['macs']
    lines = [
        f'{config}: input 1x3x{hw[0]}x{hw[1]} (tensor-mode forward, no '
        'data preprocessor)',
        'FLOPs = multiply-accumulates (MACs) of conv/linear layers '
        '(x2 for floating-point operations)',
        '',
        f'{"part":<10} {"params":>14} {"params (M)":>11} {"MACs":>18} '
        f'{"GMACs":>9} {"share":>6}',
    ]
    for name, p, m in result['rows']:
        share = 100. * m / total_m if total_m else 0.
        lines.append(f'{name:<10} {p:>14,} {p / 1e6:>11.4f} {m:>18,} '
                     f'{m / 1e9:>9.4f} {share:>5.1f}%')
    lines.append('-' * 73)
    lines.append(f'{"total":<10} {total_p:>14,} {total_p / 1e6:>11.4f} '
                 f'{total_m:>18,} {total_m / 1e9:>9.4f} {100.:>5.1f}%')
    lines += [
        '',
        f'Parameters: {total_p:,} ({total_p / 1e6:.2f} M)',
        f'FLOPs: {total_m / 1e9:.2f} GMACs ({2 * total_m / 1e9:.2f} GFLOPs)',
    ]
    other = result['other_ops']
    if other:
        detail = ', '.join(f'{k} {v / 1e6:.1f} M'
                           for k, v in sorted(other.items()))
        lines.append(f'Not in the MACs (elementwise, as mmengine counts '
                     f'them): {detail}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    """Entry point; returns the result of :func:`analyse`."""
    args = parse_args(argv)
    if not Path(args.config).is_file():
        raise SystemExit(f'get_flops: no such config file: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    hw = input_hw(cfg, args.input_shape)
    model = build_model(cfg)
    with torch.no_grad():
        result = analyse(model, hw)
    print(format_report(result, hw, args.config))
    return result


if __name__ == '__main__':
    main()
