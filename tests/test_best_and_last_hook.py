"""BestAndLastHook: the last checkpoint's PCKh beside the best one's at the
end of training, and tools/test.py naming the checkpoint it scored."""
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from test_reliability_runs import EPOCHS, run, tiny_config

from mmhg_plugin.engine.hooks import describe_checkpoint
from mmhg_plugin.engine.hooks.best_and_last_hook import BEST_INFO, LAST_INFO
from mmhg_plugin.utils.safe_checkpoint import load_checkpoint_safely


def _ckpt(epoch=None, max_epochs=None, best_epoch=None, score=88.123):
    meta = {} if epoch is None else dict(epoch=epoch)
    if max_epochs is not None:
        meta['max_epochs'] = max_epochs
    info = {} if best_epoch is None else {BEST_INFO: dict(
        epoch=best_epoch, key='PCKh/Mean', score=score, metrics={})}
    return dict(meta=meta, message_hub=dict(runtime_info=info))


@pytest.mark.parametrize('ckpt, text', [
    (_ckpt(100, 100, 85), 'the last checkpoint (epoch 100 of 100); the best '
     'by PCKh/Mean up to it: epoch 85 (88.12)'),
    (_ckpt(85, 100, 85), 'the best checkpoint (epoch 85 of 100), chosen by '
     'PCKh/Mean = 88.12 on the validation split: its score on that split is '
     'optimistic'),
    (_ckpt(100, 100, 100), 'the best and the last checkpoint (epoch 100 of '
     '100), chosen by'),
    (_ckpt(40, 100, 35), 'neither the best nor the last checkpoint (epoch 40 '
     'of 100); the best by PCKh/Mean up to it: epoch 35'),
    (_ckpt(7), 'a checkpoint (epoch 7); no best recorded'),
    (_ckpt(), 'a checkpoint without a training record'),
])
def test_describe_checkpoint(ckpt, text):
    assert describe_checkpoint(ckpt).startswith(text)


@pytest.mark.slow    # trains, then tests
def test_training_logs_best_beside_last_and_test_names_the_checkpoint(
        synth_tiny, tmp_path):
    hooks = [dict(type='MPIIGroundTruthHook'), dict(type='BestAndLastHook')]
    cfg = Config.fromfile(tiny_config(tmp_path, synth_tiny, hooks=hooks))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'INFO'
    runner = Runner.from_cfg(cfg)
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda r: records.append(r.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    try:
        runner.train()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    means = list(runner.message_hub.get_scalar('val/PCKh/Mean').data[0])
    assert len(means) == EPOCHS                      # one per epoch
    best_epoch = int(np.argmax(means)) + 1           # first of the maxima
    best = runner.message_hub.get_info(BEST_INFO)
    last = runner.message_hub.get_info(LAST_INFO)
    assert (best['epoch'], last['epoch']) == (best_epoch, EPOCHS)
    assert best['score'] == pytest.approx(max(means))
    assert last['metrics']['PCKh/Mean'] == pytest.approx(means[-1])
    table = next(r for r in records if r.startswith(
        'validation metrics of the best and the last checkpoint'))
    lines = table.splitlines()
    assert 'chosen by PCKh/Mean on this same validation split' in lines[0]
    assert lines[1].split() == ['best', '(epoch', f'{best_epoch})', 'last',
                                '(epoch', f'{EPOCHS})']
    row = next(ln for ln in lines if ln.startswith('PCKh/Mean '))
    assert [float(v) for v in row.split()[1:]] == pytest.approx(
        [max(means), means[-1]], abs=0.006)
    assert any(ln.startswith('PCKh/HeadNeckTop ') for ln in lines)
    # the best checkpoint holds its own record; the last one knows the best
    work = Path(cfg.work_dir)
    best_file, = work.glob(f'best_PCKh_Mean_epoch_{best_epoch}.pth')
    described = describe_checkpoint(load_checkpoint_safely(str(best_file)))
    kind = 'the best and the last' if best_epoch == EPOCHS else 'the best'
    assert described.startswith(f'{kind} checkpoint (epoch {best_epoch} of '
                                f'{EPOCHS})')
    last_file = work / f'epoch_{EPOCHS}.pth'
    assert describe_checkpoint(load_checkpoint_safely(str(last_file))) \
        .startswith(f'the {"best and the " if best_epoch == EPOCHS else ""}'
                    f'last checkpoint (epoch {EPOCHS} of {EPOCHS})')
    # tools/test.py names what it scored, after the PCKh table
    proc = run([sys.executable, 'tools/test.py', str(tmp_path / 'tiny.py'), str(best_file),
                '--work-dir', str(tmp_path / 'test')], tmp_path / 'test.log')
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout
    assert f'ground truth: {synth_tiny / "annotations" / "mpii_gt_val.mat"}' \
        in out
    assert f'scored {best_file}: {kind} checkpoint (epoch {best_epoch} of ' \
        f'{EPOCHS})' in out
    assert out.index('MPII PCKh@0.5') < out.index(f'scored {best_file}')
