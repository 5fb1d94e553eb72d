"""Model config mistakes are refused when the model is built, with a
message naming the config keys (not at the first training step)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS


def model_cfg(backbone: dict = None, head: dict = None,
              input_size=(64, 64)) -> dict:
    """A tiny estimator (2 stacks, 64 px, depth 2) with overrides."""
    codec = dict(type='HourglassHeatmap', input_size=input_size,
                 heatmap_size=(input_size[0] // 4, input_size[1] // 4),
                 sigma=1.5)
    return dict(
        type='StackedHourglassEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0.] * 3,
                               std=[255.] * 3, bgr_to_rgb=True),
        backbone={**dict(type='StackedHourglass', num_stacks=2,
                         feat_channels=16, stem_channels=(8, 16), depth=2),
                  **(backbone or {})},
        head={**dict(type='StackedHourglassHead', num_stacks=2,
                     in_channels=16, out_channels=16, decoder=codec),
              **(head or {})})


def build(cfg: dict):
    init_default_scope('mmpose')
    return MODELS.build(cfg)


def test_consistent_config_builds_and_runs():
    model = build(model_cfg()).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64), None, mode='tensor')
    assert [tuple(t.shape) for t in out] == [(1, 16, 16, 16)] * 2


@pytest.mark.parametrize('backbone, head, input_size, message', [
    (dict(num_stacks=8), {}, (64, 64),
     'model.head.num_stacks (2) != the number of stacks the backbone '
     'returns (8: model.backbone.num_stacks=8, out_indices=all)'),
    (dict(num_stacks=2, out_indices=(1, )), {}, (64, 64),
     'model.head.num_stacks (2) != the number of stacks the backbone '
     'returns (1: model.backbone.num_stacks=2, out_indices=(1,))'),
    (dict(num_keypoints=8), {}, (64, 64),
     'model.head.in_channels (16) != the channels of the backbone outputs '
     '(8: model.backbone.num_keypoints)'),
    (dict(feat_channels=0), {}, (64, 64),
     'model.backbone.feat_channels must be a positive even number, got 0'),
    (dict(feat_channels=15), {}, (64, 64),
     'model.backbone.feat_channels must be a positive even number, got 15'),
    (dict(depth=0), {}, (64, 64),
     'model.backbone.depth must be >= 1, got 0'),
    (dict(depth=5), {}, (64, 64),
     'model.backbone.depth=5 is too deep for the input size 64x64 '
     '(model.head.decoder.input_size): the stem (4x) and 5 hourglass '
     'levels (2**5) need height and width divisible by 128'),
    (dict(depth=4), {}, (96, 96),
     'model.backbone.depth=4 is too deep for the input size 96x96 '
     '(model.head.decoder.input_size): the stem (4x) and 4 hourglass '
     'levels (2**4) need height and width divisible by 64'),
], ids=['stacks', 'out_indices', 'channels', 'feat_0', 'feat_odd', 'depth_0',
        'depth_64px', 'depth_96px'])
def test_model_config_mistake_is_refused_at_build(backbone, head,
                                                   input_size, message):
    with pytest.raises(ValueError) as err:
        build(model_cfg(backbone, head, input_size))
    assert message in str(err.value)
