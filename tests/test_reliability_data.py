"""Bad MPII data: what check_mpii.py reports and what the loader does.

One test per bad input. Each copies the tiny synthetic split, breaks one
thing, then asserts the ``check_mpii.py`` report line and exit status, and
how the training data path (MpiiDataset + MPIITopdownAffine, or the
``tools/train.py`` pre-check for file-level problems) reacts.
"""
import json
import shutil
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np
import pytest
import scipy.io
import torch
from helpers import HEADBOX, REPO, data_options, data_roots, load_tool, logged, run_tool
from mmengine.config import Config

from mmhg_plugin.datasets.transforms import MPIITopdownAffine
from mmhg_plugin.datasets.transforms.image_io import BadSampleError, ImageReadError
from mmhg_plugin.engine.runner_setup import preflight
from mmhg_plugin.utils.errors import CheckpointFileError, DatasetFilesError

TRAIN_JSON = 'annotations/mpii_train.json'
VAL_JSON = 'annotations/mpii_val.json'
SIZE = (64, 64)
CODEC = dict(type='HourglassHeatmap', input_size=SIZE, heatmap_size=(16, 16),
             sigma=1.5)


CHECK = load_tool('tools/dataset_converters/check_mpii.py', 'check_mpii_tool')


# ------------------------------------------------------------------ helpers
@pytest.fixture
def root(synth_tiny: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny synthetic split (12 train, 6 val)."""
    return Path(shutil.copytree(synth_tiny, tmp_path / 'data'))


def anns(root: Path, rel: str = TRAIN_JSON) -> list:
    return json.loads((root / rel).read_text())


def save(root: Path, data: list, rel: str = TRAIN_JSON) -> None:
    (root / rel).write_text(json.dumps(data))  # NaN/Infinity allowed


def image_of(root: Path, index: int = 0, rel: str = TRAIN_JSON) -> Path:
    return root / 'images' / anns(root, rel)[index]['image']


def check(root: Path, capsys, *args: str) -> Tuple[int, List[str]]:
    """Run check_mpii.py's main; return (exit status, output lines)."""
    status = CHECK.main([str(root), *args])
    return status, capsys.readouterr().out.splitlines()


def has_line(lines: List[str], start: str, *parts: str) -> bool:
    return any(ln.startswith(start) and all(p in ln for p in parts)
               for ln in lines)


def dataset(root: Path, skip: bool = False, split: str = 'train', **kw):
    """MpiiDataset with the training crop, targets and packing."""
    from mmpose.datasets import MpiiDataset
    from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
    pipeline = [
        MPIITopdownAffine(SIZE, on_bad_sample='skip' if skip else 'raise'),
        GenerateTarget(encoder=CODEC),
        PackPoseInputs()
    ]
    return MpiiDataset(data_root=str(root), ann_file=f'annotations/mpii_'
                       f'{split}.json', data_prefix=dict(img='images/'),
                       pipeline=pipeline, **kw)


def weights(sample: dict) -> np.ndarray:
    return sample['data_samples'].gt_instance_labels.keypoint_weights.numpy()


def assert_loader_raises_or_skips(root: Path, match: str) -> None:
    """Sample 0 is bad: 'raise' names it, 'skip' counts and refetches."""
    with pytest.raises(BadSampleError, match=match) as err:
        dataset(root)[0]
    assert 'id=0' in str(err.value)
    ds = dataset(root, skip=True)
    with logged() as warnings:
        sample = ds[0]
    assert sample['inputs'].shape == (3, *SIZE)   # another index
    assert ds.pipeline.transforms[0].num_skipped == 1
    assert any('skipped bad sample (1 so far in process' in m and 'id=0' in m
               for m in warnings), warnings


def pre_check(root: Path) -> str:
    """tools/train.py's pre-check (``preflight``) on the demo config
    pointed at ``root``;
    return its error message ('' when it passes)."""
    cfg = Config.fromfile(REPO / 'configs' / 'demo_hg2_synth_mpii.py')
    cfg.merge_from_dict(data_roots(root, ('train', 'val')))
    cfg.work_dir, cfg.load_from, cfg.resume = str(root / 'wd'), None, False
    try:
        preflight(cfg, ('train_dataloader', 'val_dataloader'))
    except DatasetFilesError as e:
        return str(e)
    return ''


# ------------------------------------------------------------------ images
@pytest.mark.slow    # a subprocess that imports MMPose
def test_missing_image_file(root, capsys):
    img = image_of(root)
    img.unlink()
    status, lines = check(root, capsys)
    assert status == 1
    assert has_line(lines, f'{TRAIN_JSON}:0 image: error:', img.name,
                    'does not exist')
    assert lines[-1].startswith('FAILED')
    proc = run_tool(['tools/dataset_converters/check_mpii.py', str(root),
                     '--splits', 'train'], timeout=120)   # the real CLI
    assert proc.returncode == 1
    assert f'{TRAIN_JSON}:0 image: error: image file' in proc.stdout
    assert_loader_raises_or_skips(root, f'{img.name}.*id=0')


def test_truncated_jpeg(root, capsys):
    img = image_of(root)
    data = img.read_bytes()
    img.write_bytes(data[:len(data) // 2])
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON}:0 image: error:',
                                    img.name, 'truncated JPEG')
    assert_loader_raises_or_skips(root, 'truncated JPEG')


def test_corrupt_jpeg(root, capsys):
    img = image_of(root)
    data = img.read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, 600, np.uint8)
    img.write_bytes(data[:2] + noise.tobytes() + data[602:])  # EOI kept
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON}:0 image: error:',
                                    img.name, 'cannot decode')
    assert_loader_raises_or_skips(root, f'cannot decode image .*{img.name}')


def test_zero_byte_image(root, capsys):
    img = image_of(root)
    img.write_bytes(b'')
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON}:0 image: error:',
                                    img.name, 'empty (0 bytes)')
    assert_loader_raises_or_skips(root, 'empty')


@pytest.mark.parametrize('kind, convert, note', [
    ('grayscale', lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY),
     'is grayscale'),
    ('rgba', lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA), 'with alpha'),
    ('16bit', lambda im: im.astype(np.uint16) * 257, 'is 16-bit'),
], ids=['grayscale', 'rgba', '16bit'])
def test_grayscale_rgba_16bit_png_load_and_train(root, capsys, kind,
                                                 convert, note):
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmpose.registry import MODELS
    data = anns(root)
    for i in (0, 1):
        src = root / 'images' / data[i]['image']
        png = src.with_suffix('.png')
        cv2.imwrite(str(png), convert(cv2.imread(str(src))))
        src.unlink()
        data[i]['image'] = png.name
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 0, lines
    assert has_line(lines, f'{TRAIN_JSON}:0 image: note:', note,
                    'read as 8-bit BGR')
    ds = dataset(root)
    samples = [ds[0], ds[1]]
    for s in samples:
        assert s['inputs'].shape == (3, *SIZE)
        assert s['inputs'].dtype == torch.uint8
        assert s['inputs'].float().std() > 1
    model = MODELS.build(dict(
        type='StackedHourglassEstimator',
        data_preprocessor=dict(type='mmpose.PoseDataPreprocessor',
                               mean=[0.] * 3, std=[255.] * 3,
                               bgr_to_rgb=True),
        backbone=dict(type='StackedHourglass', num_stacks=1, feat_channels=8,
                      stem_channels=(8, 8), depth=1),
        head=dict(type='StackedHourglassHead', num_stacks=1, in_channels=16,
                  out_channels=16, decoder=CODEC,
                  loss=dict(type='StackedHeatmapMSELoss',
                            use_target_weight=True))))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log_vars = model.train_step(pseudo_collate(samples), optim)
    assert torch.isfinite(log_vars['loss']) and log_vars['loss'] > 0


# ------------------------------------------------------------ annotations
def test_wrong_number_of_joints(root, capsys):
    data = anns(root)
    data[3]['joints'] = data[3]['joints'][:15]
    data[3]['joints_vis'] = data[3]['joints_vis'][:15]
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 1
    assert has_line(lines, f'{TRAIN_JSON}:3 joints: error:',
                    'has 15 joints, expected 16')
    assert has_line(lines, f'{TRAIN_JSON}:3 joints_vis: error:', '15 entries')
    msg = pre_check(root)
    assert 'mpii_train.json:3 joints: error: has 15 joints' in msg
    assert 'check_mpii.py' in msg
    # without the pre-check, the transform names the sample
    with pytest.raises(BadSampleError, match=r'id=3 .*keypoints have shape '
                       r'\(1, 15, 2\), expected \(1, 16, 2\)'):
        dataset(root)[3]


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_nan_or_inf_coordinates_train_with_weight_zero(root, capsys, value):
    data = anns(root)
    vis = np.array(data[0]['joints_vis'])
    joint = int(np.flatnonzero(vis)[0])
    data[0]['joints'][joint] = [value, 10.]
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON}:0 joints: error:',
                                    f'non-finite coordinates at joints '
                                    f'[{joint}]')
    assert pre_check(root) == ''      # MMPose can parse it: no fail-fast
    w = weights(dataset(root)[0])
    assert w[0, joint] == 0            # the codec drops the joint ...
    assert (w[0] > 0).sum() >= 1 and np.isfinite(w).all()   # ... only it


@pytest.mark.parametrize('scale', [0., -1., float('nan')])
def test_scale_not_positive_or_nan(root, capsys, scale):
    data = anns(root)
    data[2]['scale'] = scale
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON}:2 scale: error:',
                                    f'must be > 0 and finite, got {scale}')
    ds = dataset(root)
    ids = [ds.get_data_info(i)['id'] for i in range(len(ds))]
    if scale <= 0:
        # MMPose drops boxes of size <= 0 while parsing, without a word
        assert 2 not in ids and len(ds) == len(data) - 1
        return
    assert ids == list(range(len(data)))   # NaN passes MMPose's filter ...
    with pytest.raises(BadSampleError, match=r'id=2 .*bad box'):
        ds[2]                               # ... and stops here
    ds = dataset(root, skip=True)
    assert ds[2]['inputs'].shape == (3, *SIZE)
    assert ds.pipeline.transforms[0].num_skipped == 1


def test_center_far_outside_the_image(root, capsys):
    data = anns(root)
    data[1]['center'] = [-5000., -5000.]
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 0, lines          # a warning only
    assert has_line(lines, f'{TRAIN_JSON}:1 center: warning:',
                    'lies outside the', 'every joint gets weight 0')
    sample = dataset(root)[1]          # loads: an empty crop, no supervision
    assert int(sample['inputs'].max()) == 0 and (weights(sample) == 0).all()


def test_every_joint_invisible(root, capsys):
    data = anns(root)
    data[4]['joints_vis'] = [0] * 16
    save(root, data)
    status, lines = check(root, capsys)
    assert status == 0
    assert has_line(lines, f'{TRAIN_JSON}:4 joints_vis: warning:',
                    'every joint is invisible')
    sample = dataset(root)[4]
    assert (weights(sample) == 0).all()
    assert float(sample['data_samples'].gt_fields.heatmaps.abs().sum()) == 0


@pytest.mark.slow    # a subprocess that imports MMPose
def test_malformed_json(root, capsys):
    (root / TRAIN_JSON).write_text('[{"image": "000000001.jpg", ')
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON} json: error:',
                                    'malformed JSON at line 1 column')
    # the real tool fails before MMPose parses anything: no traceback
    proc = run_tool(['tools/train.py', 'configs/demo_hg2_synth_mpii.py',
                     '--work-dir', str(root / 'wd'), '--cfg-options',
                     *data_options(root, ('train', 'val'))],
                    timeout=120)
    assert proc.returncode == 1
    assert 'mpii_train.json json: error: malformed JSON' in proc.stderr
    assert 'check_mpii.py' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_empty_annotation_list(root, capsys):
    save(root, [])
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{TRAIN_JSON} json: error:',
                                    'the annotation list is empty')
    assert 'mpii_train.json json: error: the annotation list is empty' in \
        pre_check(root)


# ------------------------------------------------------------ head boxes
def test_headbox_file_missing(root, capsys):
    (root / HEADBOX).unlink()
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{HEADBOX} file: error:',
                                    'head-box file does not exist')
    assert 'mpii_gt_val.mat file: error: head-box file does not exist' in \
        pre_check(root)


def _rewrite_mat(root: Path, edit) -> None:
    mat = scipy.io.loadmat(root / HEADBOX)
    mat = {k: v for k, v in mat.items() if not k.startswith('__')}
    edit(mat)
    scipy.io.savemat(root / HEADBOX, mat)


def test_headbox_wrong_shape(root, capsys):
    n = len(anns(root, VAL_JSON))
    _rewrite_mat(root, lambda m: m.update(
        headboxes_src=np.zeros((2, 3, n))))
    status, lines = check(root, capsys)
    assert status == 1 and has_line(lines, f'{HEADBOX} headboxes_src: error:',
                                    f'shape (2, 3, {n}), expected 2 x 2 x N')
    assert 'headboxes_src: error: shape' in pre_check(root)


def test_headbox_count_differs_from_annotations(root, capsys):
    n = len(anns(root, VAL_JSON))
    _rewrite_mat(root, lambda m: m.update(
        headboxes_src=m['headboxes_src'][..., :-1]))
    status, lines = check(root, capsys)
    assert status == 1 and has_line(
        lines, f'{HEADBOX} headboxes_src: error:',
        f'holds {n - 1} people but the annotation file has {n}')
    assert f'holds {n - 1} people' in pre_check(root)


# ------------------------------------------------------------ the rest
def test_clean_data_passes_and_skip_is_bounded(root, capsys):
    status, lines = check(root, capsys)
    assert status == 0 and lines == [
        f'OK: {root}, splits train, val: 0 errors, 0 warnings, 0 notes']
    assert pre_check(root) == ''
    for p in (root / 'images').glob('0*.jpg'):
        p.unlink()        # every train image gone: refetching gives up
    with pytest.raises(Exception, match='Cannot find valid image after 3'):
        dataset(root, skip=True, max_refetch=3)[0]
    with pytest.raises(ImageReadError):
        dataset(root)[5]


@pytest.mark.slow    # a subprocess that imports MMPose
def test_preflight_refuses_missing_or_truncated_checkpoint(tmp_path):
    cfg = Config(dict(work_dir=str(tmp_path / 'wd')))    # no dataloaders
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.)}}, good)
    preflight(cfg, (), str(good))                        # passes
    missing = tmp_path / 'missing.pth'
    with pytest.raises(CheckpointFileError,
                       match=f'checkpoint {missing} does not exist'):
        preflight(cfg, (), str(missing))
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointFileError,
                       match=f'cannot read checkpoint {cut} .truncated'):
        preflight(cfg, (), str(cut))
    # the tool turns the error into its message and exit status 1
    proc = run_tool(['tools/test.py', 'configs/demo_hg2_synth_mpii.py',
                     str(missing), '--work-dir', str(tmp_path / 'wd'),
                     '--cfg-options', 'test_dataloader=None'], timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == \
        f'error: checkpoint {missing} does not exist'
    assert 'Traceback' not in proc.stderr
