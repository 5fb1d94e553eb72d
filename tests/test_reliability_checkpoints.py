"""Checkpoint faults: another architecture, unreadable files, copied work
dirs, full disks.

In-process where the code path allows it (the estimator, the checkpoint
hook on a stub runner, the pre-check, ``tools/train.py``'s ``main`` with a
stub runner, the image demo); real ``tools/test.py`` / ``tools/train.py``
subprocesses on the tiny synthetic split (``tiny_config`` of
``test_reliability_runs``) where only the whole run shows the fault.
"""
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch
from helpers import REPO, load_tool
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import MODELS
from test_reliability_runs import ENV, _StubRunner, last_checkpoint, run, tiny_config, train_cmd

import mmhg_plugin.engine.atomic_files as atomic_files
from mmhg_plugin.engine.hooks import AtomicCheckpointHook
from mmhg_plugin.engine.runner_setup import preflight
from mmhg_plugin.utils.errors import (
    CheckpointFileError,
    CheckpointMismatchError,
    CheckpointWriteError,
)
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely

TRAIN = load_tool('tools/train.py', 'train_tool')
TEST = load_tool('tools/test.py', 'test_tool')
DEMO = load_tool('demo/image_demo.py')
CONVERTER = load_tool(
    'tools/model_converters/pytorch_stacked_hourglass_to_mmhg.py')
#: --cfg-options for tools/train.py runs whose runner is a stub.
NO_DATA = ('--cfg-options', 'train_dataloader=None', 'val_dataloader=None')


# ------------------------------------------------------------------ helpers
def tiny_model_cfg(num_stacks: int = 2, feat_channels: int = 16,
                   **model) -> dict:
    """The model of ``tiny_config`` (64 px, depth 2) with other sizes."""
    codec = dict(type='HourglassHeatmap', input_size=(64, 64),
                 heatmap_size=(16, 16), sigma=1.5)
    return dict(
        type='StackedHourglassEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0.] * 3,
                               std=[255.] * 3, bgr_to_rgb=True),
        backbone=dict(type='StackedHourglass', num_stacks=num_stacks,
                      feat_channels=feat_channels, stem_channels=(8, 16),
                      depth=2),
        head=dict(type='StackedHourglassHead', num_stacks=num_stacks,
                  in_channels=16, out_channels=16, decoder=codec),
        **model)


def build(cfg: dict):
    init_default_scope('mmpose')
    return MODELS.build(cfg)


def save_other_architecture(path: Path) -> Dict[str, torch.Tensor]:
    """A 1-stack, 8-feature checkpoint with MPII metadata (for the 2-stack,
    16-feature ``tiny_config`` model); returns its state dict."""
    torch.manual_seed(1)
    state = build(tiny_model_cfg(1, 8)).state_dict()
    meta = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/mpii.py'))
    torch.save({'state_dict': state,
                'meta': {'dataset_meta': meta, 'epoch': 1, 'iter': 3}}, path)
    return state


def first_shape_mismatch(ckpt: Dict[str, torch.Tensor],
                         model: Dict[str, torch.Tensor]) -> Tuple[str, ...]:
    """(key, checkpoint shape, model shape) of the first differing key, in
    the model's order: an independent walk of the two state dicts."""
    for key, value in model.items():
        if key in ckpt and ckpt[key].shape != value.shape:
            return key, str(tuple(ckpt[key].shape)), str(tuple(value.shape))
    raise AssertionError('no shape differs')


def assert_mismatch_line(line: str, ckpt: dict, model: dict) -> None:
    """One line naming the first differing key with both shapes and the
    first key the checkpoint lacks."""
    assert '\n' not in line
    key, ckpt_shape, model_shape = first_shape_mismatch(ckpt, model)
    assert f'{key}: checkpoint {ckpt_shape}, model {model_shape}' in line
    missing = [k for k in model if k not in ckpt
               and not k.endswith('num_batches_tracked')]   # MMEngine's rule
    assert f'{len(missing)} missing from the checkpoint' in line
    assert missing[0] in line
    assert 'partial_load' in line


def tool_error_line(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout.strip().splitlines()
    assert out, 'no output'
    return out[-1]


def stub_runner(monkeypatch, work_dir: Path, full_if: str = '') -> List:
    """Replace tools/train.py's Runner by a stub that records the
    checkpoint it would load (``cfg.load_from``) when it trains; with
    ``full_if``, building it fails as on a full disk (MMEngine first writes
    the config into the work dir) while files matching that glob exist."""
    started: List = []

    class StubRunner:
        @classmethod
        def from_cfg(cls, cfg):
            if full_if and list(Path(cfg.work_dir).glob(full_if)):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                              str(Path(cfg.work_dir) / 'config.py'))
            runner = cls()
            runner.logger = _StubRunner(work_dir).logger
            runner.cfg = cfg
            return runner

        def train(self) -> None:
            started.append(self.cfg.load_from)

    monkeypatch.setattr(TRAIN, 'Runner', StubRunner)
    return started


# ------------------------------------------- 1: another architecture
def test_estimator_refuses_a_checkpoint_of_another_architecture(tmp_path):
    model = build(tiny_model_cfg())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    other = save_other_architecture(tmp_path / 'other.pth')
    # MMEngine's loader (Runner.load_checkpoint, init_model, resume)
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict(model, other, strict=False)
    assert_mismatch_line(str(err.value), other, before)
    # torch's loader
    with pytest.raises(CheckpointMismatchError):
        model.load_state_dict(other)
    # nothing was loaded
    assert all(torch.equal(v, before[k])
               for k, v in model.state_dict().items())
    # an exact match loads
    twin = build(tiny_model_cfg())
    load_state_dict(twin, before, strict=False)
    assert all(torch.equal(v, before[k]) for k, v in twin.state_dict().items())


def test_partial_load_is_an_explicit_opt_in(tmp_path):
    other = save_other_architecture(tmp_path / 'other.pth')
    model = build(tiny_model_cfg(partial_load=True))
    load_state_dict(model, other, strict=False)      # MMEngine: a warning
    sd = model.state_dict()
    same = [k for k, v in other.items() if k in sd and sd[k].shape == v.shape]
    assert same and all(torch.equal(sd[k], other[k]) for k in same)
    # torch's explicit strict=False is an opt-in too (keys only: torch
    # itself refuses other shapes)
    plain = build(tiny_model_cfg())
    plain.load_state_dict({k: other[k] for k in same}, strict=False)
    assert all(torch.equal(plain.state_dict()[k], other[k]) for k in same)


def test_init_model_refuses_a_checkpoint_of_another_architecture(
        synth_tiny, tmp_path):
    from mmpose.apis import init_model
    cfg = tiny_config(tmp_path, synth_tiny)
    ckpt = tmp_path / 'other.pth'
    other = save_other_architecture(ckpt)
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(str(cfg), str(ckpt), device='cpu')
    ours = build(Config.fromfile(cfg).model).state_dict()
    assert_mismatch_line(str(err.value), other, ours)
    model = init_model(str(cfg), str(ckpt), device='cpu',
                       cfg_options={'model.partial_load': True})
    assert model.dataset_meta['dataset_name'] == 'mpii'


def test_image_demo_refuses_a_checkpoint_of_another_architecture(
        synth_tiny, tmp_path):
    cfg = tiny_config(tmp_path, synth_tiny)
    ckpt = tmp_path / 'other.pth'
    other = save_other_architecture(ckpt)
    image = next((synth_tiny / 'images').glob('*.jpg'))
    out = tmp_path / 'out.png'
    argv = [str(image), str(cfg), str(ckpt), '--out-file', str(out)]
    with pytest.raises(SystemExit) as err:
        DEMO.main(argv)
    line = str(err.value.code)
    assert line.startswith(f'error: {ckpt}: ')
    ours = build(Config.fromfile(cfg).model).state_dict()
    assert_mismatch_line(line, other, ours)
    assert not out.exists()
    DEMO.main([*argv, '--partial-load'])
    assert out.is_file()


@pytest.mark.slow    # about 5 s: tools/test.py builds the runner
def test_test_tool_refuses_a_checkpoint_of_another_architecture(
        synth_tiny, tmp_path):
    cfg = tiny_config(tmp_path, synth_tiny)
    ckpt = tmp_path / 'other.pth'
    other = save_other_architecture(ckpt)
    proc = run([sys.executable, 'tools/test.py', str(cfg), str(ckpt),
                '--work-dir', str(tmp_path / 'wd')], tmp_path / 'test.log')
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'PCKh@0.5' not in proc.stdout and 'Traceback' not in proc.stdout
    line = tool_error_line(proc)
    assert line.startswith(f'error: {ckpt}: ')
    ours = build(Config.fromfile(cfg).model).state_dict()
    assert_mismatch_line(line, other, ours)
    # the opt-in reaches the model config
    args = TEST.parse_args([str(cfg), str(ckpt), '--partial-load'])
    assert TEST.build_config(args).model.partial_load is True
    args = TRAIN.parse_args([str(cfg), '--partial-load'])
    assert TRAIN.build_config(args).model.partial_load is True


@pytest.mark.slow    # about 5 s: tools/train.py --resume
def test_resume_refuses_a_checkpoint_of_another_architecture(synth_tiny,
                                                             tmp_path):
    cfg = tiny_config(tmp_path, synth_tiny)
    ckpt = tmp_path / 'other.pth'
    other = save_other_architecture(ckpt)
    wd = tmp_path / 'wd'
    proc = run(train_cmd(cfg, wd, '--resume', str(ckpt)),
               tmp_path / 'train.log')
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'Traceback' not in proc.stdout
    line = tool_error_line(proc)
    assert line.startswith(f'error: {ckpt}: ')
    ours = build(Config.fromfile(cfg).model).state_dict()
    assert_mismatch_line(line, other, ours)
    assert not list(wd.glob('*.pth'))


# ------------------------------------------- 2: copied work dirs
def snapshot(folder: Path) -> Dict[str, Tuple[int, int]]:
    """Every file under ``folder``: (size, mtime in ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size,
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.mark.slow    # trains, then resumes (tools/train.py twice)
def test_copied_work_dir_resumes_from_its_own_checkpoints(synth_tiny,
                                                          tmp_path):
    cfg = tiny_config(tmp_path, synth_tiny)
    w1, w1c = tmp_path / 'w1', tmp_path / 'w1c'
    one = run(train_cmd(cfg, w1, '--cfg-options', 'train_cfg.max_epochs=1'),
              tmp_path / 'w1.log')
    assert one.returncode == 0, one.stdout[-3000:]
    assert last_checkpoint(w1) == w1 / 'epoch_1.pth'
    shutil.copytree(w1, w1c)
    original = snapshot(w1)
    two = run(train_cmd(cfg, w1c, '--resume', '--cfg-options',
                        'train_cfg.max_epochs=2'), tmp_path / 'w1c.log')
    assert two.returncode == 0, two.stdout[-3000:]
    assert f'Load checkpoint from {w1c / "epoch_1.pth"}' in two.stdout
    assert 'resumed epoch: 1' in two.stdout
    assert (f'names {w1 / "epoch_1.pth"}, outside the work dir: resuming '
            f'from {w1c / "epoch_1.pth"}') in two.stdout
    assert snapshot(w1) == original               # nothing written or deleted
    assert last_checkpoint(w1c) == w1c / 'epoch_2.pth'


def test_last_checkpoint_of_another_folder_is_refused(tmp_path, monkeypatch):
    other, wd = tmp_path / 'w1', tmp_path / 'w2'
    other.mkdir()
    wd.mkdir()
    torch.save({'state_dict': {}}, other / 'epoch_3.pth')
    (wd / 'last_checkpoint').write_text(str(other / 'epoch_3.pth'))
    started = stub_runner(monkeypatch, wd)
    with pytest.raises(SystemExit) as err:
        TRAIN.main(['configs/demo_hg2_synth_mpii.py', '--work-dir', str(wd),
                    '--resume', *NO_DATA])
    assert str(err.value.code) == (
        f'error: {wd / "last_checkpoint"} names {other / "epoch_3.pth"}, '
        f'outside the work dir {wd}, which has no epoch_3.pth: refusing to '
        'resume from another run\'s files (to do so on purpose: --resume '
        f'{other / "epoch_3.pth"})')
    assert started == []


def _save_better_best(wd, recorded_best, recorded_score: float,
                      epoch: int, score: float) -> None:
    """Resume in ``wd`` with a hub naming ``recorded_best`` as the best so
    far, then save a better best checkpoint at ``epoch``."""
    runner = _StubRunner(wd)
    runner.message_hub.update_info('best_ckpt', str(recorded_best))
    runner.message_hub.update_info('best_score', recorded_score)
    hook = AtomicCheckpointHook(interval=1, save_best='PCKh/Mean',
                                rule='greater')
    hook.before_train(runner)
    runner.epoch = epoch
    hook._save_best_checkpoint(runner, {'PCKh/Mean': score})


def test_best_checkpoint_of_another_folder_is_never_removed(tmp_path):
    other, wd = tmp_path / 'w1', tmp_path / 'w1c'
    other.mkdir()
    wd.mkdir()
    old_best = other / 'best_PCKh_Mean_epoch_1.pth'   # as a resumed hub says
    old_best.write_bytes(b'x')
    _save_better_best(wd, old_best, 10., epoch=2, score=20.)
    assert old_best.read_bytes() == b'x'
    assert (wd / 'best_PCKh_Mean_epoch_2.pth').is_file()
    # with a copy of the file in the work dir, the copy is the one replaced
    shutil.copy(old_best, wd / old_best.name)
    _save_better_best(wd, old_best, 20., epoch=3, score=30.)
    assert old_best.read_bytes() == b'x'
    assert not (wd / old_best.name).exists()
    assert (wd / 'best_PCKh_Mean_epoch_3.pth').is_file()


# ------------------------------------------- 5: full disk
class _FullDiskRunner(_StubRunner):
    """Writes half a checkpoint, then fails as a full disk does."""

    fail_on: str = ''

    def save_checkpoint(self, out_dir, filename, **kwargs) -> None:
        path = Path(out_dir, filename)
        if self.fail_on and path.name.startswith(self.fail_on):
            path.write_bytes(b'x' * 500)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().save_checkpoint(out_dir, filename, **kwargs)


@pytest.mark.parametrize('where', ['checkpoint', 'last_checkpoint'])
def test_failed_checkpoint_write_leaves_no_temp_file_and_names_the_path(
        tmp_path, monkeypatch, where):
    runner = _FullDiskRunner(tmp_path)
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=3)
    hook.before_train(runner)
    hook._save_checkpoint(runner)                       # epoch_1.pth
    runner.epoch = 1
    if where == 'checkpoint':
        runner.fail_on = 'epoch_2.pth'
        target = tmp_path / 'epoch_2.pth'
    else:
        target = tmp_path / 'last_checkpoint'
        commit = atomic_files.commit_file

        def full_disk_commit(tmp: str, final: str) -> None:
            if final == str(target):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            commit(tmp, final)
        monkeypatch.setattr(atomic_files, 'commit_file', full_disk_commit)
    with pytest.raises(CheckpointWriteError) as err:
        hook._save_checkpoint(runner)
    assert isinstance(err.value, OSError)
    assert str(err.value).startswith(
        f'cannot write {target}: [Errno {errno.ENOSPC}] '
        f'{os.strerror(errno.ENOSPC)}')
    assert not list(tmp_path.glob('*.tmp-*'))
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'x' * 1000
    assert last_checkpoint(tmp_path) == tmp_path / 'epoch_1.pth'


def test_resume_removes_stale_temp_files_before_writing_anything(
        tmp_path, monkeypatch):
    wd = tmp_path / 'wd'
    wd.mkdir()
    torch.save({'state_dict': {}, 'meta': {'epoch': 1}}, wd / 'epoch_1.pth')
    (wd / 'last_checkpoint').write_text(str(wd / 'epoch_1.pth'))
    stale = wd / 'epoch_2.pth.tmp-4242'
    stale.write_bytes(b'x' * 1000)
    started = stub_runner(monkeypatch, wd, full_if='*.tmp-*')
    TRAIN.main(['configs/demo_hg2_synth_mpii.py', '--work-dir', str(wd),
                '--resume', *NO_DATA])
    assert not stale.exists()
    assert started == [str(wd / 'epoch_1.pth')]


# ------------------------------------------- 6: unreadable checkpoints
def _legacy_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / 'legacy.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.)}}, path,
               _use_new_zipfile_serialization=False)
    return path.read_bytes()


@pytest.mark.parametrize('kind, reason', [
    ('text', "not a PyTorch checkpoint: neither a zip archive nor a pickle "
     "(it starts with b'hello, this is n')"),
    ('empty', 'the file is empty (0 bytes)'),
    ('legacy_cut_18', '(truncated or corrupt?): legacy (non-zip) torch file '
     'of 18 bytes: struct.error: unpack requires a buffer of 2 bytes'),
    ('legacy_cut_1', '(truncated or corrupt?): legacy (non-zip) torch file '
     'of 1 bytes: IndexError: index out of range'),
], ids=['text', 'empty', 'legacy_cut_18', 'legacy_cut_1'])
def test_unreadable_checkpoint_gives_one_clear_message(tmp_path, capsys,
                                                       kind, reason):
    path = tmp_path / f'{kind}.pth'
    if kind == 'text':
        path.write_text('hello, this is not a checkpoint\n')
    elif kind == 'empty':
        path.write_bytes(b'')
    else:
        path.write_bytes(_legacy_bytes(tmp_path)[:int(kind.split('_')[-1])])
    expected = f'cannot read checkpoint {path}'
    expected += f' {reason}' if reason.startswith('(') else f': {reason}'
    with pytest.raises(CheckpointFileError) as err:
        load_checkpoint_safely(str(path))
    assert str(err.value) == expected
    cfg = Config(dict(work_dir=str(tmp_path / 'wd')))
    with pytest.raises(CheckpointFileError) as err:
        preflight(cfg, (), str(path))
    assert str(err.value) == expected
    with pytest.raises(SystemExit) as err:
        DEMO.main([str(path), 'configs/demo_hg2_synth_mpii.py', str(path),
                   '--out-file', str(tmp_path / 'out.png')])
    assert err.value.code == f'error: {expected}'
    assert CONVERTER.main([str(path), str(tmp_path / 'out.pth')]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f'error: {expected}'


@pytest.mark.slow    # a subprocess that imports MMPose
def test_tools_exit_1_on_an_unreadable_checkpoint(tmp_path):
    text = tmp_path / 'text.pth'
    text.write_text('hello, this is not a checkpoint\n')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', 'configs/demo_hg2_synth_mpii.py',
         str(text), '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
         'test_dataloader=None'], cwd=REPO, env=ENV, capture_output=True,
        text=True, timeout=180)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: cannot read checkpoint {text}: not a PyTorch checkpoint: '
        "neither a zip archive nor a pickle (it starts with b'hello, this "
        "is n')")
