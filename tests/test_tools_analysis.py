"""Analysis and deployment tools: ONNX export, FLOPs, config, curves,
per-stack heatmaps, TensorBoard logging. Every tool runs as a subprocess
from the repo root (no PYTHONPATH), on tiny models and inputs."""
import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from helpers import REPO, data_options, run_tool

DEMO = 'configs/demo_hg2_synth_mpii.py'
HG8 = 'configs/hg8_mpii_256.py'


def _ok(args: List[str], timeout: float = 300) -> str:
    """Run a tool, assert exit status 0 and no (third-party) deprecation
    notice or warning in its output, return stdout."""
    proc = run_tool(args, timeout=timeout)
    assert proc.returncode == 0, (
        f'{args[0]} exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}'
        f'\n--- stderr\n{proc.stderr[-5000:]}')
    # a word starting with 'deprecat' (not torch's -Wno-deprecated flags), or
    # a Python warning raised inside an installed package
    notices = [ln for ln in (proc.stdout + proc.stderr).splitlines()
               if re.search(r'(?<![-\w])deprecat', ln, re.I)
               or re.search(r'site-packages/\S+:\d+: \w*Warning:', ln)]
    assert not notices, (args[0], notices)
    return proc.stdout


# --------------------------------------------------------------- analytic MACs
# Written from the architecture (reference_facts.md), not from our modules:
# conv MACs = k * k * Cin * Cout * H_out * W_out, bias not counted.
def conv_macs(k: int, cin: int, cout: int, h: int, w: int) -> int:
    return k * k * cin * cout * h * w


def residual_macs(cin: int, cout: int, h: int, w: int) -> int:
    mid = cout // 2
    macs = (conv_macs(1, cin, mid, h, w) + conv_macs(3, mid, mid, h, w) +
            conv_macs(1, mid, cout, h, w))
    return macs + (conv_macs(1, cin, cout, h, w) if cin != cout else 0)


def hourglass_macs(depth: int, f: int, h: int, w: int) -> int:
    inner = (hourglass_macs(depth - 1, f, h // 2, w // 2) if depth > 1 else
             residual_macs(f, f, h // 2, w // 2))
    return (residual_macs(f, f, h, w) + 2 * residual_macs(f, f, h // 2, w // 2)
            + inner)


def analytic_parts(stacks: int, f: int, depth: int, k: int, hh: int,
                   ww: int, stem=(64, 128)) -> Dict[str, int]:
    """MACs of the stem and of every stack (with its merge convs)."""
    h2, w2, h, w = hh // 2, ww // 2, hh // 4, ww // 4
    c0, c1 = stem
    parts = {'stem': conv_macs(7, 3, c0, h2, w2) +
             residual_macs(c0, c1, h2, w2) + residual_macs(c1, c1, h, w) +
             residual_macs(c1, f, h, w)}
    for i in range(stacks):
        m = (hourglass_macs(depth, f, h, w) + residual_macs(f, f, h, w) +
             conv_macs(1, f, f, h, w) + conv_macs(1, f, k, h, w))
        if i < stacks - 1:
            m += conv_macs(1, f, f, h, w) + conv_macs(1, k, f, h, w)
        parts[f'stack {i + 1}'] = m
    parts['head'] = 0
    return parts


def test_analytic_count_reproduces_reference_gmacs():
    # reference_facts.md: hg8 27.44 GMACs, hg2 8.33 GMACs at 256x256
    assert round(sum(analytic_parts(8, 256, 4, 16, 256, 256).values()) / 1e9,
                 2) == 27.44
    assert round(sum(analytic_parts(2, 256, 4, 16, 256, 256).values()) / 1e9,
                 2) == 8.33


ROW = re.compile(r'^(stem|stack \d+|head|other|total)\s+([\d,]+)\s+[\d.]+\s+'
                 r'([\d,]+)\s', re.M)


def parse_flops(out: str) -> Tuple[Dict[str, Tuple[int, int]], int, int]:
    """Rows {part: (params, macs)} and the total (params, macs)."""
    rows = {m[1]: (int(m[2].replace(',', '')), int(m[3].replace(',', '')))
            for m in ROW.finditer(out)}
    total = rows.pop('total')
    return rows, total[0], total[1]


@pytest.mark.slow    # about 11 s (traces the 8-stack net)
def test_get_flops_hg8_params_and_per_stack_sums():
    # params do not depend on the input; 64x64 keeps the trace fast
    out = _ok(['tools/analysis_tools/get_flops.py', HG8, '--input-shape',
               '64', '64'])
    assert 'multiply-accumulates' in out
    assert 'Parameters: 25,434,112 (25.43 M)' in out
    rows, params, macs = parse_flops(out)
    assert params == 25_434_112
    assert list(rows) == ['stem'] + [f'stack {i}' for i in range(1, 9)] + \
        ['head']
    # reference_facts.md: stem 352,640; a stack with its merge pair
    # 2,788,864 + 280,832 + 4,112 + 65,792 + 4,352; the last has no merges
    assert rows['stem'][0] == 352_640
    assert [rows[f'stack {i}'][0] for i in range(1, 9)] == \
        [3_143_952] * 7 + [3_073_808]
    assert sum(p for p, _ in rows.values()) == params
    assert sum(m for _, m in rows.values()) == macs
    expected = analytic_parts(8, 256, 4, 16, 64, 64)
    assert {k: m for k, (_, m) in rows.items()} == expected
    assert macs == sum(expected.values())


@pytest.mark.slow    # a subprocess that imports MMPose
def test_get_flops_small_config_matches_hand_count():
    # demo: 2 stacks, 64 features, depth 3, stem (16, 32); non-square input
    # to catch an H/W swap
    out = _ok(['tools/analysis_tools/get_flops.py', DEMO, '--input-shape',
               '96', '128'])
    assert 'input 1x3x96x128' in out
    rows, _, macs = parse_flops(out)
    from mmengine.config import Config
    bb = Config.fromfile(str(REPO / DEMO)).model.backbone
    expected = analytic_parts(bb.num_stacks, bb.feat_channels, bb.depth, 16,
                              96, 128, stem=bb.stem_channels)
    assert {k: m for k, (_, m) in rows.items()} == expected
    assert macs == sum(expected.values())


@pytest.mark.slow    # about 5 s (export, then ONNX Runtime)
def test_onnx_export_tiny_model_matches(tmp_path):
    onnx_path = tmp_path / 'tiny.onnx'
    out = _ok(['tools/deployment/pytorch2onnx.py', DEMO, '--random-init',
               '--out', str(onnx_path), '--input-shape', '1', '3', '64', '64',
               '--all-stacks', '--cfg-options',
               'model.backbone.feat_channels=32', 'model.autocast=bf16'])
    assert 'RGB in [0, 1]' in out  # the documented input convention
    # a bf16-trained config still exports a float32 graph (on a CPU with
    # native bf16, the demo's autocast='auto' traced bf16 Convs that
    # onnxruntime rejects)
    assert "model.autocast='bf16' ignored: exporting float32" in out
    diffs = {int(b): float(d) for b, d in re.findall(
        r'batch (\d+): max abs diff (\S+)', out)}
    assert set(diffs) == {1, 3}
    assert all(d < 1e-4 for d in diffs.values()), diffs

    import onnx
    import onnxruntime as ort
    model = onnx.load(str(onnx_path))
    assert [o.name for o in model.graph.output] == ['heatmaps_s0',
                                                    'heatmaps_s1']
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == \
        'batch'
    sess = ort.InferenceSession(str(onnx_path),
                                providers=['CPUExecutionProvider'])
    outs = sess.run(None, {'input': np.random.rand(2, 3, 64, 64).astype(
        np.float32)})
    assert [o.shape for o in outs] == [(2, 16, 16, 16)] * 2
    assert all(np.isfinite(o).all() for o in outs)


@pytest.mark.slow    # a subprocess that imports MMPose
def test_print_config_shows_merged_model():
    out = _ok(['tools/misc/print_config.py', HG8, '--cfg-options',
               'model.backbone.feat_channels=128'])
    assert "type='StackedHourglass'" in out
    assert 'feat_channels=128' in out  # the override
    assert 'num_stacks=8' in out  # from hg8 on top of the base
    assert "type='RMSprop'" in out  # from the base


# --------------------------------------------------------------- plot_curves
def _train_rec(it: int, epoch: int, loss: float) -> dict:
    # the keys and order mmengine 0.10.7's LoggerHook passes to
    # LocalVisBackend.add_scalars for a training line (step = iteration)
    return {'lr': 1e-3 / (1 + it / 50), 'data_time': 0.01, 'loss': 2 * loss,
            'loss_kpt_s0': 1.1 * loss, 'loss_kpt_s1': 0.9 * loss,
            'acc_pose': min(1., it / 100), 'time': 0.5, 'epoch': epoch,
            'iter': it, 'step': it}


def _val_rec(epoch: int, mean: float) -> dict:
    # a validation line: the metrics, timings and step = epoch
    rec = {f'PCKh/{j}': mean + 1
           for j in ('HeadTop', 'HeadNeckTop', 'Shoulder', 'Elbow', 'Wrist',
                     'Hip', 'Knee', 'Ankle')}
    rec.update({'PCKh/Mean': mean, 'PCKh/Mean@0.1': mean / 4,
                'PCKh/Total16': mean + 0.5, 'data_time': 0.1, 'time': 1.0,
                'step': epoch})
    return rec


def _write_run(work_dir: Path, stamp: str, records: List[dict],
               log_text: str = '') -> None:
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    lines = ''.join(json.dumps(r) + '\n' for r in records)
    (run / 'vis_data' / 'scalars.json').write_text(lines)
    (run / 'vis_data' / f'{stamp}.json').write_text(lines)
    (run / f'{stamp}.log').write_text(log_text)


@pytest.mark.slow    # a subprocess that imports MMPose
def test_plot_curves_joins_resumed_runs(tmp_path):
    from matplotlib.image import imread
    wd = tmp_path / 'work_dir'
    first = []
    for epoch in (1, 2, 3):  # 20 iterations an epoch, logged every 10
        first += [_train_rec(it, epoch, 1. / it)
                  for it in (20 * epoch - 10, 20 * epoch)]
        first.append(_val_rec(epoch, 10. * epoch))
    _write_run(wd, '20260101_000000', first)
    # crashed after epoch 3; resumed from the epoch-2 checkpoint
    second = []
    for epoch in (3, 4):
        second += [_train_rec(it, epoch, 0.5 / it)
                   for it in (20 * epoch - 10, 20 * epoch)]
        second.append(_val_rec(epoch, 50. + epoch))
    _write_run(wd, '20260102_000000', second,
               'mmengine - INFO - resumed epoch: 2, iter: 40\n')
    out_png = tmp_path / 'curves.png'
    out = _ok(['tools/analysis_tools/plot_curves.py', str(wd), '--out',
               str(out_png)])
    assert 'runs: 20260101_000000, 20260102_000000' in out
    assert f'saved {out_png} (loss, lr, PCKh/Mean, acc_pose)' in out
    table = [ln.split() for ln in out.splitlines()
             if re.match(r'^\s+\d+\s', ln)]
    header = next(ln.split() for ln in out.splitlines()
                  if ln.startswith('epoch'))
    assert header[:3] == ['epoch', 'Mean', 'Mean@0.1']
    # epochs 1-2 from the first run, 3 (redone) and 4 from the resumed one
    assert [(int(r[0]), float(r[1])) for r in table] == [
        (1, 10.), (2, 20.), (3, 53.), (4, 54.)]
    img = imread(out_png)
    assert img.shape[:2] == (800, 1200)
    rgb = img[..., :3]
    assert rgb.std() > 0.05  # not blank
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3),
                         axis=0)) > 50  # curves in several colours


def test_plot_curves_draws_only_panels_with_data(tmp_path):
    """A log without ``acc_pose`` (as the demo's) gets three panels in a
    row; one without validation lines two."""
    from matplotlib.image import imread
    no_acc = [{k: v for k, v in _train_rec(it, 1, 1. / it).items()
               if k != 'acc_pose'} for it in (10, 20)]
    cases = (('with_val', no_acc + [_val_rec(1, 10.)], '(loss, lr, PCKh/Mean)',
              (400, 1800)),
             ('train_only', no_acc, '(loss, lr)', (400, 1200)))
    for name, records, panels, shape in cases:
        _write_run(tmp_path / name, '20260101_000000', records)
        out_png = tmp_path / f'{name}.png'
        out = _ok(['tools/analysis_tools/plot_curves.py',
                   str(tmp_path / name), '--out', str(out_png)])
        assert f'saved {out_png} {panels}' in out
        assert imread(out_png).shape[:2] == shape


def test_plot_curves_clear_error_without_log(tmp_path):
    proc = run_tool(['tools/analysis_tools/plot_curves.py', str(tmp_path)],
                    timeout=120)
    assert proc.returncode != 0
    assert 'no mmengine json log' in proc.stderr
    # validation lines only, none with the asked metric: nothing to draw
    _write_run(tmp_path / 'wd', '20260101_000000', [_val_rec(1, 10.)])
    proc = run_tool(['tools/analysis_tools/plot_curves.py',
                     str(tmp_path / 'wd'), '--metric-prefix', 'AP'],
                    timeout=120)
    assert proc.returncode != 0
    assert 'nothing to plot: the log holds no loss, lr, AP/Mean' in \
        proc.stderr


# --------------------------------------------------------- stack heatmaps
@pytest.mark.slow    # about 6 s (draws 17 x 3 panels)
def test_vis_stack_heatmaps_layout(tmp_path):
    import cv2
    from matplotlib.image import imread
    img = np.full((240, 200, 3), 90, np.uint8)
    img[:, :, 0] = np.linspace(40, 220, 200, dtype=np.uint8)[None]
    cv2.circle(img, (100, 50), 18, (30, 160, 220), -1)  # a head
    cv2.rectangle(img, (80, 70), (120, 150), (40, 40, 200), -1)  # a torso
    cv2.imwrite(str(tmp_path / 'person.png'), img)
    out_png = tmp_path / 'stacks.png'
    out = _ok(['tools/analysis_tools/vis_stack_heatmaps.py', DEMO, 'none',
               str(tmp_path / 'person.png'), '--bbox', '60', '20', '140',
               '230', '--joints', 'per-joint', '--out', str(out_png),
               '--cfg-options', 'model.backbone.feat_channels=16'])
    assert '2 stacks, heatmaps (16, 32, 32) each, crop 128x128' in out
    assert 'joint rows: right_ankle, right_knee' in out  # MPII names
    assert 'layout: 17 rows x 3 columns' in out  # 1 + 16 joints, crop + 2
    png = imread(out_png)
    # cells of 2.4 in, a 0.6 in title band, 100 dpi
    assert png.shape[:2] == (17 * 240 + 60, 3 * 240)
    assert png[..., :3].std() > 0.05


# --------------------------------------------------------------- TensorBoard
@pytest.mark.slow    # trains with tools/train.py
def test_training_writes_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mmhg_plugin.datasets.synthetic import generate_synthetic_mpii
    data = tmp_path / 'synth'
    meta = generate_synthetic_mpii(data, 16, 8, seed=0, workers=1)
    assert meta['num_train_people'] <= 32  # one batch: one iteration
    # TensorBoard is switched on from the command line (default_runtime.py
    # lists it disabled)
    wd = tmp_path / 'wd'
    opts = [f'{d}_dataloader.{k}' for d in ('train', 'val')
            for k in ('batch_size=32', 'num_workers=0',
                      'persistent_workers=False')]
    _ok(['tools/train.py', str(REPO / DEMO), '--work-dir', str(wd),
         '--cfg-options', *opts, *data_options(data, ('train', 'val')),
         'visualizer.vis_backends.1.enabled=True', 'train_cfg.max_epochs=1',
         'model.backbone.feat_channels=16'], timeout=300)
    events = list(wd.glob('*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1, list(wd.rglob('*'))
    acc = EventAccumulator(str(events[0]))
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert {'loss', 'loss_kpt_s0', 'loss_kpt_s1', 'lr', 'PCKh/Mean'} <= \
        set(tags)
    assert [e.step for e in acc.Scalars('loss')] == [1]
    assert np.isfinite(acc.Scalars('loss')[0].value)
    # the same run's json log feeds plot_curves
    out = _ok(['tools/analysis_tools/plot_curves.py', str(wd)])
    assert re.search(r'^\s+1\s+\d', out, re.M)
    assert (wd / 'curves.png').is_file()


def test_tensorboard_switch_from_cfg_options(tmp_path):
    """``visualizer.vis_backends.1.enabled=True`` switches TensorBoard on;
    by default it is listed but writes nothing."""
    import argparse

    from mmengine.config import Config, DictAction
    from mmengine.registry import DefaultScope
    from mmpose.registry import VISBACKENDS
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(str(REPO / DEMO))
    backends = cfg.visualizer.vis_backends
    assert [b['type'] for b in backends] == [
        'LocalVisBackend', 'SwitchableTensorboardVisBackend']
    assert backends[1]['enabled'] is False
    cfg.merge_from_dict(p.parse_args([
        '--cfg-options', 'visualizer.vis_backends.1.enabled=True'
    ]).cfg_options)
    assert cfg.visualizer.vis_backends[1]['enabled'] is True
    assert cfg.visualizer.vis_backends[0]['type'] == 'LocalVisBackend'
    with DefaultScope.overwrite_default_scope('mmpose'):
        off = VISBACKENDS.build(dict(type='SwitchableTensorboardVisBackend',
                                     save_dir=str(tmp_path / 'off')))
    off.add_scalars({'loss': 1.0}, step=1)
    off.close()
    assert not (tmp_path / 'off').exists()
