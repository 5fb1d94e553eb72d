"""Issue #18, item 3: a validation JSON whose entries are not the people of
the same rows of mpii_gt_val.mat (here: reversed, same count) is refused by
check_mpii.py, by the pre-check of tools/train.py and tools/test.py, and by
the metric, naming the first mismatched entry; before, all three scored
people against other people's head boxes without a word."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import HEADBOX, data_options, pckh_samples, run_tool
from test_reliability_data import VAL_JSON, anns, check, has_line, pre_check, save

from mmhg_plugin.datasets.mpii_io import read_gt_mat
from mmhg_plugin.datasets.mpii_pairing import MpiiPairingError
from mmhg_plugin.evaluation import MPIIPCKh


@pytest.fixture
def root(synth_tiny: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny synthetic split."""
    return Path(shutil.copytree(synth_tiny, tmp_path / 'data'))


def reverse_val_json(root: Path) -> list:
    """Reverse mpii_val.json in place; return the reversed entries."""
    data = anns(root, VAL_JSON)[::-1]
    save(root, data, VAL_JSON)
    return data


@pytest.mark.slow    # a subprocess that imports MMPose
def test_reversed_val_json_is_refused_by_checker_and_pre_check(root, capsys):
    data = reverse_val_json(root)
    first = data[0]['image']
    status, lines = check(root, capsys, '--no-images')
    assert status == 1, lines
    assert has_line(lines, f'{VAL_JSON}:0 pairing: error:',
                    f'entry 0 (image {first}) is not the person of row 0',
                    'px apart', 'not in the order of the .mat',
                    "another person's head box", 'mpii_gt_val.mat')
    assert f'{VAL_JSON}:0 pairing: error: entry 0 (image {first})' in \
        pre_check(root)
    # the real tool refuses before building the runner (the data are
    # checked before the checkpoint, so none is needed here)
    proc = run_tool(['tools/test.py', 'configs/demo_hg2_synth_mpii.py',
                     str(root / 'none.pth'), '--work-dir', str(root / 'wd'),
                     '--cfg-options', *data_options(root, ('test', ))],
                    timeout=180)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f'mpii_val.json:0 pairing: error: entry 0 (image {first})' in \
        proc.stderr
    assert 'Traceback' not in proc.stderr


def test_reversed_val_json_is_refused_by_the_metric(root):
    data = reverse_val_json(root)
    gt = read_gt_mat(root / HEADBOX)
    metric = MPIIPCKh(gt_file=str(root / HEADBOX))
    metric.process([], pckh_samples(
        np.zeros((len(data), 16, 2)),
        np.array([e['joints'] for e in data], np.float32),
        np.array([e['joints_vis'] for e in data]), gt.head_sizes,
        [f'images/{e["image"]}' for e in data]))
    with pytest.raises(MpiiPairingError,
                       match=rf'entry 0 \(image {data[0]["image"]}\) is not '
                       'the person of row 0'):
        metric.evaluate(len(data))


def test_annotation_differences_are_a_note_not_an_error(root, capsys):
    data = anns(root, VAL_JSON)
    k = int(np.flatnonzero(data[1]['joints_vis'])[0])
    data[1]['joints_vis'][k] = 0            # the .mat still annotates it
    save(root, data, VAL_JSON)
    status, lines = check(root, capsys, '--no-images')
    assert status == 0, lines
    assert has_line(lines, f'{VAL_JSON} pairing: note:',
                    '1 joints of 1 entries are annotated in only one',
                    f'entry 1 (image {data[1]["image"]})',
                    'annotated in the .mat only')
    assert pre_check(root) == ''
