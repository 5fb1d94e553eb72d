"""Converting checkpoints of the official PyTorch port to mmhg.

The port's state dict is built here from its module tree (models/posenet.py,
models/layers.py) and its forward pass is re-implemented functionally on that
dict, independently of our modules and of the converter's key mapping.
"""
import os
import pickle
import shlex
from pathlib import Path
from typing import Callable, Dict, Tuple

import pytest
import torch
import torch.nn.functional as F
from helpers import REPO, load_tool, run_tool
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from torch import Tensor

from mmhg_plugin.utils.port_checkpoint import PortCheckpointError, convert_port_state_dict
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely

TOOL = REPO / 'tools' / 'model_converters' / \
    'pytorch_stacked_hourglass_to_mmhg.py'
PortDict = Dict[str, Tensor]
Factory = Callable[[Tuple[int, ...], str], Tensor]


# --------------------------------------------------------------- port layout
def random_factory(shape: Tuple[int, ...], kind: str) -> Tensor:
    """Random tensors; conv weights N(0, 0.5 / sqrt(fan_in)), which keeps the
    heatmaps near 1 (like trained ones), so 1e-5 is a float32-tight bound."""
    if kind == 'conv':
        return 0.5 * torch.randn(shape) / (shape[1] * shape[2] * shape[3])**0.5
    if kind == 'weight':
        return 1 + 0.2 * torch.randn(shape)
    if kind == 'var':
        return 0.5 + torch.rand(shape)
    if kind == 'count':
        return torch.randint(1, 1000, shape)
    return 0.2 * torch.randn(shape)  # biases, BN bias and running mean


def meta_factory(shape: Tuple[int, ...], kind: str) -> Tensor:
    """Shapes only."""
    dtype = torch.long if kind == 'count' else torch.float32
    return torch.empty(shape, dtype=dtype, device='meta')


class PortBuilder:
    """Builds a state dict with the port's exact keys and shapes."""

    def __init__(self, factory: Factory) -> None:
        self.sd: PortDict = {}
        self.new = factory

    def bn(self, p: str, c: int) -> None:
        """nn.BatchNorm2d(c) at ``p``."""
        self.sd[f'{p}.weight'] = self.new((c, ), 'weight')
        self.sd[f'{p}.bias'] = self.new((c, ), 'bias')
        self.sd[f'{p}.running_mean'] = self.new((c, ), 'bias')
        self.sd[f'{p}.running_var'] = self.new((c, ), 'var')
        self.sd[f'{p}.num_batches_tracked'] = self.new((), 'count')

    def conv(self, p: str, cin: int, cout: int, k: int,
             bn: bool = False) -> None:
        """layers.Conv at ``p``: ``conv`` (with bias), optional ``bn``."""
        self.sd[f'{p}.conv.weight'] = self.new((cout, cin, k, k), 'conv')
        self.sd[f'{p}.conv.bias'] = self.new((cout, ), 'bias')
        if bn:
            self.bn(f'{p}.bn', cout)

    def residual(self, p: str, cin: int, cout: int) -> None:
        """layers.Residual, with its always-built skip_layer."""
        mid = cout // 2
        self.bn(f'{p}.bn1', cin)
        self.conv(f'{p}.conv1', cin, mid, 1)
        self.bn(f'{p}.bn2', mid)
        self.conv(f'{p}.conv2', mid, mid, 3)
        self.bn(f'{p}.bn3', mid)
        self.conv(f'{p}.conv3', mid, cout, 1)
        self.conv(f'{p}.skip_layer', cin, cout, 1)

    def hourglass(self, p: str, n: int, f: int) -> None:
        """layers.Hourglass(n, f) (increase 0)."""
        self.residual(f'{p}.up1', f, f)
        self.residual(f'{p}.low1', f, f)
        if n > 1:
            self.hourglass(f'{p}.low2', n - 1, f)
        else:
            self.residual(f'{p}.low2', f, f)
        self.residual(f'{p}.low3', f, f)

    def posenet(self, nstack: int, f: int, k: int, depth: int) -> PortDict:
        """posenet.PoseNet(nstack, f, k) (its Hourglass depth is 4)."""
        self.conv('pre.0', 3, 64, 7, bn=True)
        self.residual('pre.1', 64, 128)
        self.residual('pre.3', 128, 128)
        self.residual('pre.4', 128, f)
        for i in range(nstack):
            self.hourglass(f'hgs.{i}.0', depth, f)
            self.residual(f'features.{i}.0', f, f)
            self.conv(f'features.{i}.1', f, f, 1, bn=True)
            self.conv(f'outs.{i}', f, k, 1)
        for i in range(nstack - 1):
            self.conv(f'merge_features.{i}.conv', f, f, 1)
            self.conv(f'merge_preds.{i}.conv', k, f, 1)
        return self.sd


def port_state_dict(nstack: int = 2, f: int = 32, k: int = 16,
                    depth: int = 4,
                    factory: Factory = random_factory) -> PortDict:
    return PortBuilder(factory).posenet(nstack, f, k, depth)


# ----------------------------------------------------- port forward (F.*)
def f_bn(sd: PortDict, p: str, x: Tensor) -> Tensor:
    return F.batch_norm(x, sd[f'{p}.running_mean'], sd[f'{p}.running_var'],
                        sd[f'{p}.weight'], sd[f'{p}.bias'], training=False,
                        eps=1e-5)


def f_conv(sd: PortDict, p: str, x: Tensor, stride: int = 1) -> Tensor:
    w = sd[f'{p}.conv.weight']
    return F.conv2d(x, w, sd[f'{p}.conv.bias'], stride,
                    (w.shape[-1] - 1) // 2)


def f_residual(sd: PortDict, p: str, x: Tensor) -> Tensor:
    need_skip = x.shape[1] != sd[f'{p}.conv3.conv.weight'].shape[0]
    res = f_conv(sd, f'{p}.skip_layer', x) if need_skip else x
    out = x
    for i in (1, 2, 3):
        out = f_conv(sd, f'{p}.conv{i}', F.relu(f_bn(sd, f'{p}.bn{i}', out)))
    return out + res


def f_hourglass(sd: PortDict, p: str, n: int, x: Tensor) -> Tensor:
    up1 = f_residual(sd, f'{p}.up1', x)
    low = f_residual(sd, f'{p}.low1', F.max_pool2d(x, 2, 2))
    low = (f_hourglass(sd, f'{p}.low2', n - 1, low)
           if n > 1 else f_residual(sd, f'{p}.low2', low))
    low = f_residual(sd, f'{p}.low3', low)
    return up1 + F.interpolate(low, scale_factor=2, mode='nearest')


def port_forward(sd: PortDict, imgs_nhwc: Tensor, nstack: int,
                 depth: int) -> Tensor:
    """PoseNet.forward in eval mode: (B, H, W, 3) -> (B, nstack, K, h, w)."""
    x = imgs_nhwc.permute(0, 3, 1, 2)
    x = F.relu(f_bn(sd, 'pre.0.bn', f_conv(sd, 'pre.0', x, stride=2)))
    x = f_residual(sd, 'pre.1', x)
    x = f_residual(sd, 'pre.4',
                   f_residual(sd, 'pre.3', F.max_pool2d(x, 2, 2)))
    preds = []
    for i in range(nstack):
        hg = f_hourglass(sd, f'hgs.{i}.0', depth, x)
        feat = f_residual(sd, f'features.{i}.0', hg)
        feat = F.relu(f_bn(sd, f'features.{i}.1.bn',
                           f_conv(sd, f'features.{i}.1', feat)))
        pred = f_conv(sd, f'outs.{i}', feat)
        preds.append(pred)
        if i < nstack - 1:
            x = (x + f_conv(sd, f'merge_preds.{i}.conv', pred) +
                 f_conv(sd, f'merge_features.{i}.conv', feat))
    return torch.stack(preds, 1)


# ----------------------------------------------------------------- tests
@pytest.mark.slow    # a subprocess that imports MMPose
def test_converted_heatmaps_equal_port_forward(tmp_path):
    nstack, f, k, depth = 2, 32, 16, 4
    port = port_state_dict(nstack, f, k, depth)
    wrapped = {f'model.module.{key}': v for key, v in port.items()}
    src, dst = tmp_path / 'checkpoint.pth.tar', tmp_path / 'hg2_mmhg.pth'
    torch.save({'state_dict': wrapped, 'epoch': 7,
                'optimizer': {'state': {}, 'param_groups': [
                    {'lr': 1e-3, 'params': [0, 1]}]}}, src)

    proc = run_tool([str(TOOL), str(src), str(dst)], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '2 stacks, 32 features, depth 4, 16 keypoints' in proc.stdout

    ckpt = load_checkpoint_safely(str(dst))
    assert set(ckpt) == {'meta', 'state_dict'}
    meta = ckpt['meta']
    assert meta['converted_from'] == str(src)
    assert meta['dataset_meta']['dataset_name'] == 'mpii'
    assert meta['dataset_meta']['num_keypoints'] == 16
    assert meta['dataset_meta']['flip_indices'] == [
        5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]
    assert 'mmhg_version' in meta
    # the function gives the same tensors as the CLI
    ours, info = convert_port_state_dict(wrapped)
    assert info['prefix'] == 'model.module.'
    assert list(ours) == list(ckpt['state_dict'])
    assert all(torch.equal(v, ckpt['state_dict'][n]) for n, v in ours.items())
    assert all('skip_layer' in key for key in info['dropped_keys'])

    # our estimator from the port config, shrunk to the test network
    cfg = Config.fromfile(REPO / 'configs' / 'hg2_mpii_256_port_weights.py')
    cfg.model.backbone.update(feat_channels=f, depth=depth, num_keypoints=k)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    model.eval()

    # OpenCV-style BGR uint8 -> our preprocessor; the port gets RGB / 255
    bgr = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    rgb01 = bgr.flip(-1).float() / 255
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=list(bgr.permute(0, 3, 1, 2)),
                 data_samples=[PoseDataSample() for _ in range(2)]))
        torch.testing.assert_close(data['inputs'], rgb01.permute(0, 3, 1, 2),
                                   rtol=0, atol=1e-6)
        ours_out = model.extract_feat(data['inputs'])
        ref = port_forward(port, rgb01, nstack, depth)
    assert len(ours_out) == nstack
    assert ref.abs().max() > 0.1  # not a degenerate comparison
    for s in range(nstack):
        diff = (ours_out[s] - ref[:, s]).abs().max().item()
        assert diff < 1e-5, f'stack {s}: max abs diff {diff}'


def test_unknown_and_missing_keys_are_listed():
    port = port_state_dict(factory=meta_factory)
    port['hgs.0.0.up1.extra.weight'] = port['outs.0.conv.bias']
    del port['features.1.1.bn.running_var']
    with pytest.raises(PortCheckpointError) as e:
        convert_port_state_dict(port)
    msg = str(e.value)
    assert 'unknown keys' in msg and 'hgs.0.0.up1.extra.weight' in msg
    assert 'missing keys' in msg
    assert 'backbone.stacks.1.norm.running_var' in msg


def test_shape_mismatch_and_override_refused():
    port = port_state_dict(factory=meta_factory)
    port['outs.1.conv.bias'] = torch.empty(15, device='meta')
    with pytest.raises(PortCheckpointError, match=r'outs\.1\.conv\.bias'):
        convert_port_state_dict(port)
    port = port_state_dict(factory=meta_factory)
    with pytest.raises(PortCheckpointError, match=r'hgs\.1\.0\.up1'):
        convert_port_state_dict(port, num_stacks=1)  # stack 1 is unknown


def test_prefixes_and_absent_batch_counters():
    port = port_state_dict(nstack=1, f=64, depth=2, factory=meta_factory)
    bare = {key: v for key, v in port.items()
            if not key.endswith('num_batches_tracked')}
    _, info = convert_port_state_dict(bare)
    assert info['prefix'] == ''
    assert (info['num_stacks'], info['feat_channels'], info['depth'],
            info['num_keypoints']) == (1, 64, 2, 16)
    assert info['filled_keys'] and all(
        key.endswith('num_batches_tracked') for key in info['filled_keys'])
    _, info = convert_port_state_dict(
        {f'module.{key}': v for key, v in port.items()})
    assert info['prefix'] == 'module.' and not info['filled_keys']


def test_full_size_parameter_count():
    port = port_state_dict(nstack=8, f=256, k=16, depth=4,
                           factory=meta_factory)
    buffers = ('running_mean', 'running_var', 'num_batches_tracked')
    registered = sum(v.numel() for key, v in port.items()
                     if not key.endswith(buffers))
    assert registered == 32_819_328
    ours, info = convert_port_state_dict(port)
    assert info['num_params'] == 25_434_112
    assert info['dropped_params'] == 7_385_216
    # stem res1 (64->128) and res3 (128->256) keep their skip convolutions
    assert 'backbone.stem.res1.skip.weight' in ours
    assert 'backbone.stem.res3.skip.weight' in ours
    assert not any('.skip.' in key for key in ours
                   if not key.startswith('backbone.stem.'))


def test_code_running_pickle_is_refused(tmp_path, capsys):
    marker = tmp_path / 'pwned'

    class Payload:
        def __reduce__(self):
            return os.system, (f'touch {shlex.quote(str(marker))}', )

    src, dst = tmp_path / 'evil.pth.tar', tmp_path / 'out.pth'
    port = port_state_dict(nstack=1, f=32, depth=1)
    torch.save({'state_dict': port, 'epoch': Payload()}, src)
    assert not marker.exists()
    assert load_tool(TOOL, 'port_to_mmhg').main([str(src), str(dst)]) == 1
    err = capsys.readouterr().err
    assert 'refused to load' in err and str(src) in err
    assert not marker.exists() and not dst.exists()
    with pytest.raises(pickle.UnpicklingError, match='refused to load'):
        load_tool(TOOL, 'port_to_mmhg').convert(str(src), str(dst))
    assert not marker.exists() and not dst.exists()


def test_non_port_checkpoint_is_refused(tmp_path, capsys):
    src = tmp_path / 'other.pth'
    torch.save({'state_dict': {'backbone.conv.weight': torch.zeros(1)}}, src)
    assert load_tool(TOOL, 'port_to_mmhg').main([str(src), str(tmp_path / 'x.pth')]) == 1
    assert 'cannot infer the architecture' in capsys.readouterr().err
    assert not Path(tmp_path / 'x.pth').exists()
