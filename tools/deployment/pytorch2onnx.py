"""Export a Stacked Hourglass model to ONNX and check it with onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT | --random-init]
        [--out model.onnx] [--input-shape 1 3 256 256] [--opset 17]
        [--all-stacks] [--skip-check] [--atol 1e-4] [--cfg-options k=v ...]

What is exported: the tensor-mode forward (backbone and head), with a
dynamic batch axis. The data preprocessor is NOT in the graph: feed float32
NCHW images already normalised as the config's ``data_preprocessor`` says
(printed by the tool; for mmhg's configs: RGB scaled to [0, 1], i.e. divide
by 255, no mean subtraction). Output ``heatmaps`` (B, K, H/4, W/4) of the
last stack, or with ``--all-stacks`` one output per stack, ``heatmaps_s0``
(first) ... ``heatmaps_s{N-1}`` (last). Decoding (argmax, quarter-pixel
step, inverse crop affine) stays outside the graph.

After export, onnxruntime runs random inputs at two batch sizes (the given
one and two more) and the maximal absolute difference to PyTorch is printed;
the tool exits with status 1 when it reaches ``--atol`` (float32: 1e-4).

The TorchScript-based exporter (``dynamo=False``) is used on purpose: the
``torch.export`` exporter, torch's default since 2.9, needs ``onnxscript``,
which is not among the pinned requirements; H and W are fixed in the graph,
only the batch axis is dynamic.
"""
import argparse
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.model.utils import revert_sync_batchnorm  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registration, safe checkpoint loading)


class HeatmapExportWrapper(nn.Module):
    """Tensor-mode forward of an estimator: images in, heatmaps out.

    Args:
        model (nn.Module): A top-down estimator with ``extract_feat`` and a
            head whose ``forward`` returns one tensor per stack.
        all_stacks (bool): Return every stack's heatmaps (stack 0 first)
            instead of the last stack's only.
    """

    def __init__(self, model: nn.Module, all_stacks: bool = False) -> None:
        super().__init__()
        self.model = model
        self.all_stacks = all_stacks

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Images (B, 3, H, W) -> heatmaps, each (B, K, H/4, W/4)."""
        outs = self.model.head.forward(self.model.extract_feat(x))
        if isinstance(outs, Tensor):
            outs = (outs, )
        return tuple(outs) if self.all_stacks else (outs[-1], )


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description='Export to ONNX and verify')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', nargs='?', help='checkpoint file')
    p.add_argument('--random-init', action='store_true',
                   help='no checkpoint: export the randomly initialised model')
    p.add_argument('--out', default='model.onnx', help='output .onnx file')
    p.add_argument('--input-shape', type=int, nargs=4,
                   metavar=('N', 'C', 'H', 'W'),
                   help='example input (default: 1 3 and the config\'s '
                   'input size)')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset')
    p.add_argument('--all-stacks', action='store_true',
                   help='output every stack\'s heatmaps, not only the last')
    p.add_argument('--skip-check', action='store_true',
                   help='do not compare onnxruntime with PyTorch')
    p.add_argument('--atol', type=float, default=1e-4,
                   help='fail when max |onnx - torch| reaches this')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    args = p.parse_args(argv)
    if args.random_init == (args.checkpoint is not None):
        p.error('give a CHECKPOINT or --random-init (exactly one)')
    return args


def default_input_shape(cfg: Config) -> Tuple[int, int, int, int]:
    """(1, 3, H, W) from the config's codec input size (w, h), or 256."""
    decoder = cfg.model.get('head', {}).get('decoder') or {}
    w, h = decoder.get('input_size', (256, 256))
    return (1, 3, int(h), int(w))


def describe_preprocessing(cfg: Config) -> str:
    """What the exported graph expects, from the config's preprocessor."""
    pre = cfg.model.get('data_preprocessor') or {}
    mean = [float(v) for v in pre.get('mean') or [0., 0., 0.]]
    std = [float(v) for v in pre.get('std') or [1., 1., 1.]]
    order = 'RGB' if pre.get('bgr_to_rgb', False) else 'channel order as '\
        'read (BGR with OpenCV)'
    text = (f'data_preprocessor (NOT in the graph): {dict(pre)}\n'
            f'ONNX input: float32 NCHW, {order}, x = (pixel - {mean}) / '
            f'{std}')
    if all(m == 0 for m in mean) and all(s == 255 for s in std):
        text += f' -> {order} in [0, 1]'
    return text


def build_model(cfg: Config, checkpoint: Optional[str]) -> nn.Module:
    """Build the estimator (mmpose scope), load weights, eval mode, CPU."""
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    from mmpose.registry import MODELS
    cfg.model.train_cfg = None
    if cfg.model.get('autocast') is not None:
        # the graph is float32 whatever the training precision was;
        # 'auto' would otherwise trace bfloat16 casts on a CPU with native
        # bf16 (onnxruntime's CPU Conv has no bfloat16 kernel)
        print(f"pytorch2onnx: model.autocast={cfg.model.autocast!r} "
              f'ignored: exporting float32')
        cfg.model.autocast = None
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise SystemExit(f'pytorch2onnx: no such checkpoint: '
                             f'{checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model = revert_sync_batchnorm(model).cpu().eval()
    if getattr(model, 'channels_last', False):
        # the memory format does not change the graph; export plain NCHW
        model.channels_last = False
        model.to(memory_format=torch.contiguous_format)
    return model


def export(wrapper: HeatmapExportWrapper, shape: Sequence[int], out: str,
           opset: int) -> List[str]:
    """Export ``wrapper`` with a dynamic batch axis; return output names."""
    with torch.no_grad():
        n_out = len(wrapper(torch.rand(*shape)))
    names = ([f'heatmaps_s{i}' for i in range(n_out)]
             if wrapper.all_stacks else ['heatmaps'])
    axes = {n: {0: 'batch'} for n in ['input', *names]}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # the legacy exporter is deliberate (see the module doc); the
        # backbone's input-size check is a constant for a fixed H, W
        warnings.simplefilter('ignore', DeprecationWarning)
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper, (torch.rand(*shape), ), out, dynamo=False,
            input_names=['input'], output_names=names, dynamic_axes=axes,
            opset_version=opset, do_constant_folding=True)
    return names


def add_metadata(path: str, meta: Dict[str, str]) -> None:
    """Check the ONNX file and store ``meta`` in its metadata_props."""
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model)
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, path)


def compare(wrapper: nn.Module, path: str, shape: Sequence[int],
            batches: Sequence[int]) -> Dict[int, float]:
    """Max |onnxruntime - PyTorch| over every output, per batch size.

    Args:
        wrapper (nn.Module): The exported module.
        path (str): The ONNX file.
        shape (Sequence[int]): Example input shape; the batch is replaced.
        batches (Sequence[int]): Batch sizes to run.

    Returns:
        dict[int, float]: Batch size -> max absolute difference.
    """
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    gen = torch.Generator().manual_seed(0)
    diffs = {}
    for b in batches:
        x = torch.rand(b, *shape[1:], generator=gen)
        with torch.no_grad():
            ref = [t.numpy() for t in wrapper(x)]
        got = sess.run(None, {'input': x.numpy()})
        if [r.shape for r in ref] != [g.shape for g in got]:
            raise SystemExit(f'pytorch2onnx: output shapes differ at batch '
                             f'{b}: torch {[r.shape for r in ref]}, onnx '
                             f'{[g.shape for g in got]}')
        diffs[b] = max(
            float(np.abs(r - g).max()) for r, g in zip(ref, got))
    return diffs


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    if not Path(args.config).is_file():
        raise SystemExit(f'pytorch2onnx: no such config file: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = tuple(args.input_shape or default_input_shape(cfg))
    if min(shape) <= 0:
        raise SystemExit(f'--input-shape must be positive, got {shape}')
    model = build_model(cfg, args.checkpoint)
    wrapper = HeatmapExportWrapper(model, args.all_stacks).eval()
    preprocessing = describe_preprocessing(cfg)
    print(preprocessing)
    try:
        names = export(wrapper, shape, args.out, args.opset)
    except ValueError as e:  # e.g. the backbone's input-size check
        raise SystemExit(f'pytorch2onnx: export failed: {e}') from e
    add_metadata(args.out, {
        'preprocessing': preprocessing.splitlines()[-1],
        'outputs': ', '.join(names) + ' (B, K, H/4, W/4), stack 0 first',
        'config': str(args.config),
    })
    print(f'exported {args.out} (opset {args.opset}, input {list(shape)} '
          f'with dynamic batch, outputs {names})')
    if args.skip_check:
        return 0
    batches = (shape[0], shape[0] + 2)
    diffs = compare(wrapper, args.out, shape, batches)
    for b, d in diffs.items():
        print(f'onnxruntime vs PyTorch, batch {b}: max abs diff {d:.3e}')
    worst = max(diffs.values())
    if not worst < args.atol:
        print(f'FAILED: max abs diff {worst:.3e} >= {args.atol:g}')
        return 1
    print(f'OK: max abs diff {worst:.3e} < {args.atol:g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
