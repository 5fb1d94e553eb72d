"""Every shipped config loads, builds, trains one iteration and validates."""
from pathlib import Path

import pytest
from helpers import REPO, data_roots, run_python
from mmengine.config import Config

CONFIGS = sorted(p.name for p in (REPO / 'configs').glob('*.py'))
# The *_port_weights configs are hg2/hg8 with an explicit preprocessor (tested
# with converted weights in test_port_checkpoint.py): no second training run.
TRAINED = [c for c in CONFIGS if not c.endswith('_port_weights.py')]


def data_overrides(root: Path, batch: int = 2) -> dict:
    """Point a config at a small synthetic split."""
    return {
        **data_roots(root, ('train', 'val')),
        'train_dataloader.batch_size': batch,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.batch_size': 4,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
    }


def test_all_configs_are_found():
    assert {'hg1_mpii_256.py', 'hg2_mpii_256.py', 'hg4_mpii_256.py',
            'hg8_mpii_256.py', 'demo_hg2_synth_mpii.py',
            'demo_hg1_synth_mpii_fp32.py'} <= set(CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_recipe_and_flags(name):
    cfg = Config.fromfile(REPO / 'configs' / name)
    assert cfg.default_scope == 'mmpose'
    assert cfg.custom_imports.imports == ['mmhg_plugin']
    stacks = cfg.model.backbone.num_stacks
    assert cfg.model.head.num_stacks == stacks
    # flip test flags are explicit, and exact for our codec (no shift)
    assert cfg.model.test_cfg == dict(flip_test=True, flip_mode='heatmap',
                                      shift_heatmap=False,
                                      flip_batch='auto',
                                      output_heatmaps=False)
    assert cfg.default_hooks.checkpoint.save_best == 'PCKh/Mean'
    assert cfg.val_evaluator.type == 'MPIIPCKh'
    assert cfg.val_dataloader.sampler.round_up is False
    if name.startswith('hg'):
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.alpha, opt.eps, opt.momentum,
                opt.weight_decay) == ('RMSprop', 2.5e-4, 0.99, 1e-8, 0., 0.)
        assert cfg.train_dataloader.batch_size == 6
        assert cfg.auto_scale_lr.base_batch_size == 6
        assert cfg.train_cfg.max_epochs == 100
        assert cfg.param_scheduler[0].milestones == [90]
        assert 2.5e-4 * cfg.param_scheduler[0].gamma == pytest.approx(5e-5)
        assert cfg.model.backbone.feat_channels == 256
        assert cfg.train_dataloader.dataset.type == 'MpiiDataset'
        assert cfg.train_dataloader.dataset.data_root == 'data/mpii'


@pytest.mark.slow    # trains every config (one iteration each)
@pytest.mark.parametrize('name', TRAINED)
def test_config_trains_one_iteration_and_validates(name, synth_tiny,
                                                   tmp_path):
    cfg = Config.fromfile(REPO / 'configs' / name)
    small_input = cfg.model.backbone.num_stacks >= 4   # keep CI fast
    opts = data_overrides(synth_tiny)
    # 2 train images at batch 2 -> exactly one iteration per epoch
    opts['train_dataloader.dataset.indices'] = [0, 1]
    code = f'''
        import sys, json
        from mmengine.config import Config
        from mmengine.runner import Runner
        cfg = Config.fromfile({str(REPO / 'configs' / name)!r})
        cfg.merge_from_dict({opts!r})
        cfg.work_dir = {str(tmp_path)!r}
        cfg.train_cfg.max_epochs = 1
        cfg.train_cfg.val_interval = 1
        cfg.param_scheduler = []
        cfg.default_hooks.logger.interval = 1
        if {small_input}:
            # the 4- and 8-stack nets at 128 px: same layers, less time
            size = (128, 128)
            for p in (cfg.train_dataloader.dataset.pipeline,
                      cfg.val_dataloader.dataset.pipeline):
                p[0]['input_size'] = size
            cfg.train_dataloader.dataset.pipeline[2].encoder.input_size = size
            cfg.train_dataloader.dataset.pipeline[2].encoder.heatmap_size = (32, 32)
            cfg.model.head.decoder.input_size = size
            cfg.model.head.decoder.heatmap_size = (32, 32)
            cfg.model.backbone.depth = 3
        runner = Runner.from_cfg(cfg)
        runner.train()
        scores = runner.message_hub.get_scalar('val/PCKh/Mean').current()
        loss = runner.message_hub.get_scalar('train/loss').current()
        print(json.dumps(dict(pckh=float(scores), loss=float(loss),
                              iters=runner.iter)))
    '''
    out = run_python(code, timeout=600)
    import json
    res = json.loads(out.strip().splitlines()[-1])
    assert res['iters'] == 1
    assert res['loss'] > 0 and 0 <= res['pckh'] <= 100


def test_mpii_configs_score_against_the_mat_and_keep_the_report_hooks():
    for name in CONFIGS:
        cfg = Config.fromfile(REPO / 'configs' / name)
        assert cfg.val_evaluator.gt_file == 'headbox_file', name
        hooks = [h['type'] for h in cfg.custom_hooks]
        assert {'MPIIGroundTruthHook', 'BestAndLastHook'} <= set(hooks), name


def test_lua_config_builds_with_the_lua_switches():
    """configs/hg8_mpii_256_lua.py: hg8 with the Lua original's scale law,
    unmasked loss and Torch7 BatchNorm initialisation, all else as hg8."""
    import torch
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS, TRANSFORMS

    from mmhg_plugin.datasets.transforms.augment_laws import LUA_SCALE_CLIP, LUA_SCALE_SIGMA
    lua = Config.fromfile(REPO / 'configs' / 'hg8_mpii_256_lua.py')
    hg8 = Config.fromfile(REPO / 'configs' / 'hg8_mpii_256.py')
    with DefaultScope.overwrite_default_scope('mmpose'):
        crop = TRANSFORMS.build(lua.train_dataloader.dataset.pipeline[0])
        model = MODELS.build(lua.model)
    assert (crop.scale_law, crop.scale_range, crop.scale_sigma,
            crop.scale_clip) == ('lua', None, LUA_SCALE_SIGMA, LUA_SCALE_CLIP)
    assert model.head.loss_module.mask_invisible is False
    assert model.backbone.norm_init == 'torch7'
    weights = torch.cat([m.weight.detach().flatten()
                         for m in model.backbone.modules()
                         if isinstance(m, torch.nn.BatchNorm2d)])
    assert 0 <= float(weights.min()) and float(weights.max()) <= 1
    assert abs(float(weights.mean()) - 0.5) < 0.01     # U(0, 1), not 1
    # nothing else differs from hg8
    for cfg in (lua, hg8):
        cfg.train_dataloader.dataset.pipeline[0].pop('scale_range')
        for key in ('scale_law', 'scale_sigma', 'scale_clip'):
            cfg.train_dataloader.dataset.pipeline[0].pop(key, None)
        cfg.model.backbone.pop('norm_init', None)
        cfg.model.head.loss.pop('mask_invisible', None)
        cfg.train_pipeline = cfg.train_dataloader.dataset.pipeline
    assert lua.to_dict() == hg8.to_dict()
