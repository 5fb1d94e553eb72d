"""Convert a checkpoint of the official PyTorch port to an mmhg checkpoint.

    python tools/model_converters/pytorch_stacked_hourglass_to_mmhg.py \\
        SRC.pth DST.pth [--num-stacks N] [--feat-channels F] [--depth D] \\
        [--num-keypoints K]

SRC is a ``checkpoint.pth.tar`` of ``princeton-vl/pytorch_stacked_hourglass``
(``PoseNet``; e.g. the published 2HG / 8HG models): ``{'state_dict',
'optimizer', 'epoch'}`` with keys under ``model.module.``, or a bare state
dict. It is read with ``torch.load(weights_only=True)`` only: a file that
would need to run code to unpickle is refused. Hyper-parameters are read
from the tensors (override with the flags). DST is an mmengine-style
checkpoint, ``{'meta': {...}, 'state_dict': {'backbone.*'}}``, for
``StackedHourglassEstimator``. Evaluate it with the matching config, which
feeds the network what the port fed it (RGB in [0, 1])::

    python tools/test.py configs/hg8_mpii_256_port_weights.py DST.pth

The key mapping lives in :mod:`mmhg_plugin.utils.port_checkpoint`.
"""
import argparse
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import torch  # noqa: E402

import mmhg_plugin  # noqa: E402
from mmhg_plugin.utils.errors import CheckpointFileError  # noqa: E402
from mmhg_plugin.utils.port_checkpoint import (  # noqa: E402
    build_reference_backbone,
    convert_port_state_dict,
    extract_port_state_dict,
    mpii_dataset_meta,
)
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely  # noqa: E402

SOURCE_FORMAT = 'princeton-vl/pytorch_stacked_hourglass PoseNet'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(
        description='Convert a princeton-vl/pytorch_stacked_hourglass '
        'checkpoint (PoseNet) into an mmhg StackedHourglassEstimator '
        'checkpoint. The source is loaded with weights_only=True.')
    p.add_argument('src', help='port checkpoint (e.g. checkpoint.pth.tar)')
    p.add_argument('dst', help='output mmhg checkpoint (.pth)')
    p.add_argument('--num-stacks', type=int, default=None,
                   help='number of stacks (default: read from the weights)')
    p.add_argument('--feat-channels', type=int, default=None,
                   help='hourglass width (default: read from the weights)')
    p.add_argument('--depth', type=int, default=None,
                   help='hourglass depth (default: read from the weights)')
    p.add_argument('--num-keypoints', type=int, default=None,
                   help='heatmap channels (default: read from the weights)')
    return p.parse_args(argv)


def build_checkpoint(state_dict: Dict[str, torch.Tensor],
                     info: Dict[str, Any], src: str) -> Dict[str, Any]:
    """The mmengine-style checkpoint dict written to DST.

    Args:
        state_dict (Dict[str, Tensor]): Converted weights.
        info (Dict[str, Any]): Info from ``convert_port_state_dict``.
        src (str): The source file, recorded in the meta.
    """
    arch = {k: info[k] for k in ('num_stacks', 'feat_channels', 'depth',
                                 'num_keypoints', 'in_channels')}
    meta = dict(
        dataset_meta=mpii_dataset_meta(),
        converted_from=str(src),
        source_format=SOURCE_FORMAT,
        mmhg_version=mmhg_plugin.__version__,
        architecture=arch,
        dropped_unused_params=int(info['dropped_params']),
    )
    return dict(meta=meta, state_dict={
        k: v.detach().contiguous() for k, v in state_dict.items()})


def verify_saved(path: Path, expected: Dict[str, torch.Tensor],
                 info: Dict[str, Any]) -> None:
    """Reload DST with ``weights_only=True`` and load it strictly into a
    freshly built backbone; raise on any difference."""
    ckpt = load_checkpoint_safely(str(path))
    got = ckpt.get('state_dict', {}) if isinstance(ckpt, dict) else {}
    if set(got) != set(expected):
        raise RuntimeError(f'{path}: saved keys differ from the converted '
                           'ones')
    for k, v in expected.items():
        if not torch.equal(got[k], v):
            raise RuntimeError(f'{path}: tensor {k} changed on save/load')
    model = build_reference_backbone(
        **{k: info[k] for k in ('num_stacks', 'feat_channels', 'depth',
                                'num_keypoints', 'in_channels')},
        device='cpu')
    prefix = 'backbone.'
    model.load_state_dict({k[len(prefix):]: v for k, v in got.items()},
                          strict=True)


def save_atomically(obj: Dict[str, Any], dst: Path) -> None:
    """``torch.save`` to a temporary file next to DST, then rename."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dst.name + '.', suffix='.tmp',
                               dir=str(dst.parent))
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def convert(src: str, dst: str, num_stacks: Optional[int] = None,
            feat_channels: Optional[int] = None, depth: Optional[int] = None,
            num_keypoints: Optional[int] = None) -> Dict[str, Any]:
    """Convert SRC into DST; return the conversion info.

    Raises:
        FileNotFoundError: SRC does not exist.
        pickle.UnpicklingError: SRC holds more than tensors and containers.
        CheckpointFileError: SRC is empty, truncated or not a checkpoint.
        PortCheckpointError: SRC is not a (matching) port checkpoint.
    """
    src_path, dst_path = Path(src), Path(dst)
    if not src_path.is_file():
        raise FileNotFoundError(f'source checkpoint {src} does not exist')
    if src_path.resolve() == dst_path.resolve():
        raise ValueError(f'refusing to overwrite the source {src}')
    loaded = load_checkpoint_safely(str(src_path))
    port_sd = extract_port_state_dict(loaded, str(src_path))
    ours, info = convert_port_state_dict(
        port_sd, num_stacks=num_stacks, feat_channels=feat_channels,
        depth=depth, num_keypoints=num_keypoints)
    ckpt = build_checkpoint(ours, info, str(src_path))
    save_atomically(ckpt, dst_path)
    try:
        verify_saved(dst_path, ckpt['state_dict'], info)
    except Exception:
        dst_path.unlink(missing_ok=True)
        raise
    return info


def main(argv: Optional[List[str]] = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        info = convert(args.src, args.dst, args.num_stacks,
                       args.feat_channels, args.depth, args.num_keypoints)
    except (FileNotFoundError, ValueError, pickle.UnpicklingError,
            CheckpointFileError) as e:
        # PortCheckpointError is a ValueError; an unreadable SRC a
        # CheckpointFileError
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'converted {args.src} -> {args.dst}')
    print(f'  architecture: {info["num_stacks"]} stacks, '
          f'{info["feat_channels"]} features, depth {info["depth"]}, '
          f'{info["num_keypoints"]} keypoints, {info["in_channels"]} input '
          'channels')
    print(f'  key prefix removed: {info["prefix"] or "(none)"}')
    print(f'  parameters: {info["num_params"]:,}; dropped '
          f'{len(info["dropped_keys"])} unused skip_layer tensors '
          f'({info["dropped_params"]:,} values)')
    if info['filled_keys']:
        print(f'  filled {len(info["filled_keys"])} absent '
              'num_batches_tracked buffers with 0')
    print('  verified: reloads with weights_only=True and loads strictly')
    return 0


if __name__ == '__main__':
    sys.exit(main())
