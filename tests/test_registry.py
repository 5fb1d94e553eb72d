"""The plugin registers into MMPose's registries and works from plain configs."""
import json
import textwrap

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData, PixelData
from mmpose.structures import PoseDataSample

from helpers import run_python

# MMPose's own names that we must never shadow (from MMPose 1.3.2).
MMPOSE_NAMES = ['HourglassNet', 'CPMHead', 'HeatmapHead', 'KeypointMSELoss',
                'MSRAHeatmap', 'TopdownAffine', 'RandomBBoxTransform',
                'MpiiDataset', 'MpiiPCKAccuracy', 'PCKAccuracy']

SNAPSHOT = textwrap.dedent('''
    import json
    import mmpose.codecs, mmpose.datasets, mmpose.evaluation, mmpose.models
    from mmpose.registry import (DATASETS, KEYPOINT_CODECS, METRICS, MODELS,
                                 TRANSFORMS)
    regs = dict(MODELS=MODELS, KEYPOINT_CODECS=KEYPOINT_CODECS,
                TRANSFORMS=TRANSFORMS, METRICS=METRICS, DATASETS=DATASETS)
    before = {k: set(r.module_dict) for k, r in regs.items()}
    import mmhg_plugin
    after = {k: set(r.module_dict) for k, r in regs.items()}
    print(json.dumps({k: sorted(after[k] - before[k]) for k in regs}))
''')


def test_plugin_adds_only_new_names():
    out = run_python(SNAPSHOT)
    added = json.loads(out.strip().splitlines()[-1])
    assert added['MODELS'] == sorted([
        'StackedHourglass', 'StackedHourglassHead', 'StackedHeatmapMSELoss',
        'StackedHourglassEstimator'])
    assert added['KEYPOINT_CODECS'] == ['HourglassHeatmap']
    assert added['METRICS'] == ['MPIIPCKh']
    assert 'MPIITopdownAffine' in added['TRANSFORMS']
    every = {n for names in added.values() for n in names}
    assert not every & set(MMPOSE_NAMES)


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


def test_backbone_with_mmpose_heatmap_head_on_coco():
    from mmpose.registry import MODELS
    cfg = Config(dict(model=dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor',
                               mean=[0, 0, 0], std=[255, 255, 255]),
        backbone=dict(type='mmpose.StackedHourglass', num_stacks=2,
                      feat_channels=32, num_keypoints=None, out_indices=(1, )),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17,
                  deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=dict(type='MSRAHeatmap', input_size=(64, 64),
                               heatmap_size=(16, 16), sigma=2)))))
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    samples = []
    for _ in range(2):
        ds = PoseDataSample()
        ds.gt_fields = PixelData(heatmaps=torch.rand(17, 16, 16))
        ds.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 17))
        samples.append(ds)
    losses = model(torch.rand(2, 3, 64, 64), samples, mode='loss')
    losses['loss_kpt'].backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.head.final_layer.out_channels == 17
