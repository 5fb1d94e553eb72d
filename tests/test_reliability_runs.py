"""Crash safety, determinism, untrusted checkpoints, NaN losses, rank faults.

Real ``tools/train.py`` / ``tools/test.py`` / ``tools/dist_train.sh``
subprocesses on the tiny synthetic split with a tiny 2-stack model (16
features, 64 px input). Faults are injected by the test-only hooks below,
which the subprocesses import through ``custom_imports`` (``tests/`` on
``PYTHONPATH``).
"""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch
from helpers import REPO, free_port
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmpose.registry import HOOKS

from mmhg_plugin.engine.hooks import AtomicCheckpointHook
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely

#: Trains models or runs several processes (see conftest.pytest_configure).
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ENV = dict(os.environ,
           PYTHONPATH=os.pathsep.join(
               filter(None, (str(HERE), os.environ.get('PYTHONPATH')))),
           OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
EPOCHS, BATCH = 3, 4


# ------------------------------------------------------- test-only hooks
class SlowCommitCheckpointHook(AtomicCheckpointHook):
    """Writes ``<work_dir>/commit-pending`` and sleeps just before renaming
    ``slow_name`` into place: the window a kill must not hurt."""

    def __init__(self, slow_name: str = '', slow_s: float = 0., **kwargs):
        self.slow_name, self.slow_s = slow_name, slow_s
        super().__init__(**kwargs)

    def _commit(self, tmp_path: str, final_path: str) -> None:
        if os.path.basename(final_path) == self.slow_name:
            Path(final_path).with_name('commit-pending').write_text(tmp_path)
            time.sleep(self.slow_s)
        super()._commit(tmp_path, final_path)


class SlowIterHook(Hook):
    """Sleeps after every iteration (so that a random kill time lands at
    a random point of training)."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        time.sleep(self.seconds)


class InjectNaNLossHook(Hook):
    """Sets the loss weight to NaN from iteration ``at_iter`` (1-based)."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at_iter:
            model = getattr(runner.model, 'module', runner.model)
            model.head.loss_module.loss_weight = float('nan')


class FailOnRankHook(Hook):
    """Raises on one rank at one iteration (1-based)."""

    def __init__(self, rank: int, at_iter: int) -> None:
        self.rank, self.at_iter = rank, at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == self.rank and runner.iter + 1 == self.at_iter:
            raise RuntimeError(f'injected failure on rank {self.rank} at '
                               f'iteration {self.at_iter}')


for _hook in (SlowCommitCheckpointHook, SlowIterHook, InjectNaNLossHook,
              FailOnRankHook):
    if _hook.__name__ not in HOOKS.module_dict:
        HOOKS.register_module(module=_hook)


class Evil:
    """Unpickling this creates ``path`` (a stand-in for running code)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


# ------------------------------------------------------- helpers
def tiny_config(tmp: Path, data: Path, name: str = 'tiny.py',
                hooks: Optional[List[dict]] = None, workers: int = 0,
                checkpoint: Optional[dict] = None) -> Path:
    """A config file: the demo config with a tiny model on ``data``."""
    hooks = [dict(type='NonFiniteLossGuard'), dict(type='PerEpochSeedHook'),
             *(hooks or [])]
    # a checkpoint every epoch, whatever the demo config's schedule says
    ckpt = dict(interval=1, max_keep_ckpts=3, **(checkpoint or {}))
    text = f'''
_base_ = [{str(REPO / 'configs' / 'demo_hg2_synth_mpii.py')!r}]
custom_imports = dict(imports=['mmhg_plugin', 'test_reliability_runs'],
                      allow_failed_imports=False)
input_size = (64, 64)
codec = dict(type='HourglassHeatmap', input_size=input_size,
             heatmap_size=(16, 16), sigma=1.5)
model = dict(channels_last=False,
             backbone=dict(feat_channels=16, stem_channels=[8, 16], depth=2),
             head=dict(decoder=codec))
train_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size,
         scale_range=(0.75, 1.25), rotate_std=30., rotate_max=60.,
         rotate_prob=0.4, flip_prob=0.5),
    dict(type='ChannelScaleJitter', low=0.6, high=1.4),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [dict(type='MPIITopdownAffine', input_size=input_size),
                dict(type='PackPoseInputs')]
train_dataloader = dict(batch_size={BATCH}, num_workers={workers},
                        persistent_workers=False,
                        dataset=dict(data_root={str(data)!r},
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(data)!r},
                                   headbox_file={str(data / 'annotations' /
                                                     'mpii_gt_val.mat')!r},
                                   pipeline=val_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={EPOCHS}, val_interval=1)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='MultiStepLR', by_epoch=True, milestones=[2], gamma=0.5)]
randomness = dict(seed=0, deterministic=True)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint={ckpt!r})
custom_hooks = {hooks!r}
'''
    path = tmp / name
    path.write_text(text)
    return path


def train_cmd(cfg: Path, work_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, 'tools/train.py', str(cfg), '--work-dir',
            str(work_dir), *extra]


def run(cmd: List[str], log: Path, timeout: float = 180
        ) -> subprocess.CompletedProcess:
    """Run from the repo root; stdout+stderr go to ``log`` too."""
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    log.write_text(proc.stdout)
    return proc


def start(cmd: List[str], log: Path) -> subprocess.Popen:
    """Start in a new process group (to kill it with its workers)."""
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=log.open('w'),
                            stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the training process group we started."""
    assert proc.poll() is None, 'training ended before it could be killed'
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for(path: Path, proc: subprocess.Popen, log: Path,
             timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f'run ended early:\n{log.read_text()}'
        assert time.monotonic() < end, f'no {path} after {timeout} s'
        time.sleep(0.05)


def weights(path: Path) -> Dict[str, torch.Tensor]:
    return load_checkpoint_safely(str(path))['state_dict']


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    diff = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not diff, f'{len(diff)} tensors differ, e.g. {diff[:3]}'


def last_checkpoint(work_dir: Path) -> Path:
    return Path((work_dir / 'last_checkpoint').read_text().strip())


@pytest.fixture(scope='module')
def reference(synth_tiny, tmp_path_factory) -> Dict[int, Path]:
    """Uninterrupted runs' final checkpoints, by num_workers (0 and 1)."""
    tmp = tmp_path_factory.mktemp('reference')
    out = {}
    for workers in (0, 1):
        cfg = tiny_config(tmp, synth_tiny, f'ref{workers}.py',
                          workers=workers)
        wd = tmp / f'wd{workers}'
        proc = run(train_cmd(cfg, wd), tmp / f'ref{workers}.log')
        assert proc.returncode == 0, proc.stdout[-4000:]
        out[workers] = wd / f'epoch_{EPOCHS}.pth'
    return out


# ------------------------------------------------------- crash safety
def test_kill_during_checkpoint_write_keeps_last_and_resumes_bitwise(
        synth_tiny, tmp_path, reference):
    slow = dict(type='SlowCommitCheckpointHook', slow_name='epoch_2.pth',
                slow_s=300.)
    cfg = tiny_config(tmp_path, synth_tiny, checkpoint=slow)
    wd = tmp_path / 'wd'
    proc = start(train_cmd(cfg, wd), tmp_path / 'killed.log')
    wait_for(wd / 'commit-pending', proc, tmp_path / 'killed.log')
    kill(proc)   # epoch_2.pth is written to its temp file, not renamed yet
    tmp_file = Path((wd / 'commit-pending').read_text())
    assert tmp_file.is_file() and '.tmp-' in tmp_file.name
    assert not (wd / 'epoch_2.pth').exists()
    assert last_checkpoint(wd) == wd / 'epoch_1.pth'
    assert load_checkpoint_safely(str(wd / 'epoch_1.pth'))['meta'][
        'epoch'] == 1
    resumed = run(train_cmd(tiny_config(tmp_path, synth_tiny, 'plain.py'),
                            wd, '--resume'), tmp_path / 'resumed.log')
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    assert 'resumed epoch: 1' in resumed.stdout
    assert f'removing {tmp_file}' in resumed.stdout   # stale temp cleaned
    assert not list(wd.glob('*.tmp-*'))
    assert_same_weights(wd / f'epoch_{EPOCHS}.pth', reference[0])


def test_kill_at_random_moment_resumes_bitwise(synth_tiny, tmp_path,
                                               reference):
    seed = random.SystemRandom().randrange(10**6)
    delay = random.Random(seed).uniform(0., 1.5)
    print(f'kill {delay:.2f} s after the first checkpoint (seed {seed})')
    cfg = tiny_config(tmp_path, synth_tiny, workers=1,
                      hooks=[dict(type='SlowIterHook', seconds=0.25)])
    wd = tmp_path / 'wd'
    log = tmp_path / 'killed.log'
    proc = start(train_cmd(cfg, wd), log)
    wait_for(wd / 'last_checkpoint', proc, log)
    time.sleep(delay)
    kill(proc)
    last = last_checkpoint(wd)
    epoch = load_checkpoint_safely(str(last))['meta']['epoch']   # complete
    assert 1 <= epoch < EPOCHS, log.read_text()[-3000:]
    resumed = run(train_cmd(tiny_config(tmp_path, synth_tiny, 'plain.py',
                                        workers=1), wd, '--resume'),
                  tmp_path / 'resumed.log')
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    assert f'resumed epoch: {epoch}' in resumed.stdout
    assert_same_weights(wd / f'epoch_{EPOCHS}.pth', reference[1])


class _StubRunner:
    """What AtomicCheckpointHook's saving paths use of a runner."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(f'stub-{id(self)}')
        self.logger = MMLogger.get_instance(f'stub-{id(self)}')
        self.epoch = self.iter = 0

    def save_checkpoint(self, out_dir, filename, **kwargs) -> None:
        Path(out_dir, filename).write_bytes(b'x' * 1000)


@pytest.mark.parametrize('keep', [1, 2])
def test_rotation_deletes_old_files_only_after_the_new_one_is_complete(
        tmp_path, keep):
    runner = _StubRunner(tmp_path)
    seen: List[List[str]] = []
    removed: List[tuple] = []

    class Recording(AtomicCheckpointHook):
        def _commit(self, tmp_file, final):
            seen.append(sorted(os.listdir(tmp_path)))
            super()._commit(tmp_file, final)

        def _remove(self, path):
            removed.append((path, last_checkpoint(tmp_path)))
            super()._remove(path)

    hook = Recording(interval=1, max_keep_ckpts=keep, save_best='PCKh/Mean',
                     rule='greater')
    hook.before_train(runner)
    for epoch, score in ((1, 10.), (2, 20.), (3, 30.)):
        runner.epoch = epoch - 1   # after_train_epoch: not yet counted
        hook._save_checkpoint(runner)
        runner.epoch = epoch       # after_val_epoch
        hook._save_best_checkpoint(runner, {'PCKh/Mean': score})
    # when best_PCKh_Mean_epoch_3.pth is committed, epoch 2's best is there
    commit_best3 = next(s for s in seen
                        if any(f.startswith('best_PCKh_Mean_epoch_3.pth.tmp')
                               for f in s))
    assert 'best_PCKh_Mean_epoch_2.pth' in commit_best3
    # when epoch_3.pth is committed, the file it rotates out is there
    commit3 = next(s for s in seen
                   if any(f.startswith('epoch_3.pth.tmp') for f in s))
    assert f'epoch_{3 - keep}.pth' in commit3
    # last_checkpoint never names a deleted file
    assert removed and all(Path(path) != last for path, last in removed)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ['best_PCKh_Mean_epoch_3.pth', 'last_checkpoint'] +
        [f'epoch_{e}.pth' for e in range(4 - keep, 4)])
    assert last_checkpoint(tmp_path) == tmp_path / 'epoch_3.pth'


# ------------------------------------------------------- numerical faults
def test_nan_loss_stops_with_iteration_and_keeps_last_good_checkpoint(
        synth_tiny, tmp_path):
    import json
    people = len(json.loads(
        (synth_tiny / 'annotations' / 'mpii_train.json').read_text()))
    per_epoch = -(-people // BATCH)
    at = per_epoch + 2 if per_epoch > 1 else per_epoch + 1
    cfg = tiny_config(tmp_path, synth_tiny, hooks=[
        dict(type='InjectNaNLossHook', at_iter=at)])
    wd = tmp_path / 'wd'
    proc = run(train_cmd(cfg, wd), tmp_path / 'nan.log')
    assert proc.returncode != 0
    batch = at - per_epoch
    assert (f'NonFiniteLossError: non-finite training loss at iteration {at} '
            f'(epoch 2, batch {batch}/{per_epoch}): loss=nan') in proc.stdout
    assert f'the last checkpoint is {wd / "epoch_1.pth"}' in proc.stdout
    assert not (wd / 'epoch_2.pth').exists()
    assert last_checkpoint(wd) == wd / 'epoch_1.pth'
    for ckpt in wd.glob('*.pth'):        # nothing non-finite was saved
        assert all(torch.isfinite(v).all() for v in weights(ckpt).values()
                   if v.is_floating_point()), ckpt


# ------------------------------------------------------- untrusted files
def test_crafted_checkpoint_is_refused_by_train_and_test(synth_tiny,
                                                         tmp_path):
    marker = tmp_path / 'pwned'
    crafted = tmp_path / 'crafted.pth'
    torch.save({'state_dict': {}, 'meta': {'x': Evil(str(marker))}}, crafted)
    cfg = tiny_config(tmp_path, synth_tiny)
    train = run(train_cmd(cfg, tmp_path / 'wd', '--resume', str(crafted)),
                tmp_path / 'train.log', timeout=120)
    assert train.returncode == 1, train.stdout[-3000:]
    assert f'error: refused to load {crafted}' in train.stdout
    assert 'could run code' in train.stdout
    assert 'Refused global: io.open.' in train.stdout
    test = run([sys.executable, 'tools/test.py', str(cfg), str(crafted),
                '--work-dir', str(tmp_path / 'wd_test')],
               tmp_path / 'test.log', timeout=120)
    assert test.returncode != 0
    assert f'error: refused to load {crafted}' in test.stdout
    assert 'Refused global: io.open.' in test.stdout
    assert not marker.exists()
    # the file really is dangerous: an unsafe load runs its code
    torch.load(crafted, weights_only=False)
    assert marker.exists()


# ------------------------------------------------------- distributed faults
def test_one_rank_failing_ends_the_whole_job(synth_tiny, tmp_path):
    cfg = tiny_config(tmp_path, synth_tiny, hooks=[
        dict(type='FailOnRankHook', rank=1, at_iter=2)])
    env = dict(ENV, PORT=str(free_port()), PYTHON=sys.executable)
    t0 = time.monotonic()
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
         str(tmp_path / 'wd'), '--cfg-options',
         'train_dataloader.batch_size=2'], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300)
    took = time.monotonic() - t0
    (tmp_path / 'dist.log').write_text(proc.stdout)
    assert proc.returncode != 0
    assert 'RuntimeError: injected failure on rank 1 at iteration 2' in \
        proc.stdout
    assert took < 120, f'{took:.0f} s'
