"""The plugin registers into MMPose's registries and works from plain configs."""
import json
import textwrap
import warnings

import pytest
import torch
from helpers import REPO, pose_samples, run_python
from mmengine.config import Config
from mmengine.registry import DefaultScope

# MMPose's own names that we must never shadow (from MMPose 1.3.2).
MMPOSE_NAMES = ['HourglassNet', 'CPMHead', 'HeatmapHead', 'KeypointMSELoss',
                'MSRAHeatmap', 'TopdownAffine', 'RandomBBoxTransform',
                'MpiiDataset', 'MpiiPCKAccuracy', 'PCKAccuracy']

SNAPSHOT = textwrap.dedent('''
    import json
    import mmpose.codecs, mmpose.datasets, mmpose.engine, mmpose.evaluation
    import mmpose.models, mmpose.visualization
    from mmpose.registry import (DATASETS, HOOKS, KEYPOINT_CODECS, METRICS,
                                 MODELS, TRANSFORMS, VISBACKENDS)
    regs = dict(MODELS=MODELS, KEYPOINT_CODECS=KEYPOINT_CODECS,
                TRANSFORMS=TRANSFORMS, METRICS=METRICS, DATASETS=DATASETS,
                HOOKS=HOOKS, VISBACKENDS=VISBACKENDS)
    before = {k: set(r.module_dict) for k, r in regs.items()}
    import mmhg_plugin
    after = {k: set(r.module_dict) for k, r in regs.items()}
    print(json.dumps({k: sorted(after[k] - before[k]) for k in regs}))
''')


@pytest.mark.slow    # a subprocess that imports MMPose
def test_plugin_adds_only_new_names():
    out = run_python(SNAPSHOT)
    added = json.loads(out.strip().splitlines()[-1])
    assert added['MODELS'] == sorted([
        'StackedHourglass', 'StackedHourglassHead', 'StackedHeatmapMSELoss',
        'StackedHourglassEstimator'])
    assert added['KEYPOINT_CODECS'] == ['HourglassHeatmap']
    assert added['METRICS'] == ['MPIIPCKh']
    assert added['TRANSFORMS'] == ['ChannelScaleJitter', 'MPIITopdownAffine']
    assert added['HOOKS'] == ['AtomicCheckpointHook', 'BestAndLastHook',
                              'HeapReuseHook', 'MPIIGroundTruthHook', 'NonFiniteLossGuard',
                              'PerEpochSeedHook']
    assert added['VISBACKENDS'] == ['SwitchableTensorboardVisBackend']
    assert added['DATASETS'] == []
    every = {n for names in added.values() for n in names}
    assert not every & set(MMPOSE_NAMES)


@pytest.mark.slow    # a subprocess that imports MMPose
def test_registration_does_not_import_the_synthetic_generator():
    """``import mmhg_plugin`` (what ``custom_imports`` runs) registers the
    plugin without loading the synthetic data generator."""
    out = run_python('''
        import json, sys
        import mmhg_plugin
        print(json.dumps(sorted(m for m in sys.modules
                                if m.startswith('mmhg_plugin'))))
    ''')
    loaded = json.loads(out.strip().splitlines()[-1])
    assert 'mmhg_plugin.datasets' in loaded   # the check sees our modules
    assert not [m for m in loaded
                if m.startswith('mmhg_plugin.datasets.synthetic')], loaded


@pytest.mark.slow    # a subprocess that imports MMPose
def test_custom_imports_then_scoped_type(tmp_path):
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(textwrap.dedent('''
        custom_imports = dict(imports=['mmhg_plugin'],
                              allow_failed_imports=False)
        backbone = dict(type='mmpose.StackedHourglass', num_stacks=2,
                        feat_channels=32)
    '''))
    script = textwrap.dedent(f'''
        import torch
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope
        cfg = Config.fromfile({str(cfg_file)!r})  # runs custom_imports
        init_default_scope('mmengine')   # another codebase's scope
        net = MODELS.build(cfg.backbone).eval()
        print(type(net).__name__, [tuple(o.shape) for o in net(
            torch.rand(1, 3, 64, 64))])
    ''')
    out = run_python(script)
    assert out.strip().splitlines()[-1] == \
        'StackedHourglass [(1, 16, 16, 16), (1, 16, 16, 16)]'


def test_example_config_drops_backbone_into_mmpose_coco_config():
    """configs/examples/coco_hg2_backbone_heatmaphead.py: MMPose's own COCO
    hourglass config with our backbone and MMPose's HeatmapHead; one
    training step and a flip-test prediction on COCO-shaped data."""
    from mmpose.datasets import CocoDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import MODELS
    cfg = Config.fromfile(
        REPO / 'configs/examples/coco_hg2_backbone_heatmaphead.py')
    assert cfg.dataset_type == 'CocoDataset'
    cfg.model.backbone.feat_channels = 32    # keep CI fast
    cfg.model.head.in_channels = 32
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "matched config file ... used"
        coco = parse_pose_metainfo(CocoDataset.METAINFO)
    samples = pose_samples(2, 64, coco['flip_indices'], targets=True)
    losses = model(torch.rand(2, 3, 64, 64), samples, mode='loss')
    losses['loss_kpt'].backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        preds = model(torch.rand(2, 3, 64, 64), samples, mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (
        1, coco['num_keypoints'], 2)
