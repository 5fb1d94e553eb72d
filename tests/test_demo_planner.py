"""The demo's planner: recipe choice and schedule from measured speeds
(mmhg_plugin/engine/demo_planner.py, planned_config.py), and
tools/misc/plan_demo.py measuring for real on a tiny split."""
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import REPO, load_tool, run_tool
from mmengine.config import Config
from mmengine.runner.loops import EpochBasedTrainLoop

from mmhg_plugin.engine.demo_planner import (
    HEADROOM,
    NUM_VALIDATIONS,
    candidate_recipes,
    fitting_epochs,
    plan_schedule,
    validation_epochs,
)
from mmhg_plugin.engine.demo_recipe import Recipe
from mmhg_plugin.engine.planned_config import (
    planned_config_text,
    planned_param_scheduler,
    val_loop_settings,
)
from mmhg_plugin.models.utils.autocast import has_native_bf16

TOOL = REPO / 'tools' / 'misc' / 'plan_demo.py'
BUDGET = 12 * 60.
ITERS = 625            # the 4000-image synthetic split at batch 8
#: The shipped recipes' iterations an epoch (the fp32 one runs batch 4).
RECIPE_ITERS = {'hg2_128px_bf16': ITERS, 'hg1_128px_b4_fp32': 2 * ITERS}
VAL_S = {'hg2_128px_bf16': 25., 'hg1_128px_b4_fp32': 18.}
#: The training time a plan may fill: the budget less the headroom.
USABLE = BUDGET * (1 - HEADROOM)


def _tool():
    return load_tool(TOOL, 'plan_demo')


@pytest.fixture(scope='module')
def demo_recipes():
    """The shipped candidates, in the tool's order (bf16 128 px first)."""
    return [Recipe.from_config(str(REPO / c)) for c in _tool().DEMO_RECIPES]


def expected_choice(recipes, s_iter, native):
    """The first measured recipe (in order of preference) whose epochs that
    fit reach its calibration; else the one closest to it."""
    progress = {}
    for r in recipes:
        if r.name not in s_iter or (r.precision == 'bf16' and not native):
            continue
        epochs = min(r.max_epochs, brute_force_epochs(
            s_iter[r.name], RECIPE_ITERS[r.name], VAL_S[r.name], USABLE))
        if epochs >= r.epochs_to_target:
            return r.name
        progress[r.name] = epochs / r.epochs_to_target
    return max(progress, key=progress.get)


def _s_iter_for(recipe, epochs, fits):
    """Seconds an iteration at which ``epochs`` epochs of ``recipe`` (and
    its validations) just fit the budget (``fits``) or just miss it."""
    name = recipe.name
    s = ((USABLE - min(epochs, NUM_VALIDATIONS) * VAL_S[name])
         / (epochs * RECIPE_ITERS[name]))
    return s * (0.99 if fits else 1.01)


def test_slow_machine_prefers_the_recipe_that_reaches_the_target(
        demo_recipes):
    # bfloat16 native but slow: the two-stack recipe fits one epoch short of
    # its calibration, the float32 one exactly its own
    bf16, fp32 = demo_recipes
    s_iter = {bf16.name: _s_iter_for(bf16, bf16.epochs_to_target, False),
              fp32.name: _s_iter_for(fp32, fp32.epochs_to_target, True)}
    assert brute_force_epochs(s_iter[bf16.name], RECIPE_ITERS[bf16.name],
                              VAL_S[bf16.name], USABLE) == (
                                  bf16.epochs_to_target - 1)
    plan = plan_schedule(demo_recipes, s_iter, RECIPE_ITERS, VAL_S, BUDGET,
                         native_bf16=True)
    fits = {f.recipe.name: f for f in plan.fits}
    assert not fits[bf16.name].reaches_target
    assert fits[fp32.name].reaches_target
    assert fits[fp32.name].epochs == fp32.epochs_to_target
    assert (plan.recipe.name, plan.reaches_target) == (fp32.name, True)
    assert 'WARNING' not in plan.reason


def brute_force_epochs(s_iter, iters, val_s, usable):
    """The most epochs (<= 3000) whose training and validations fit."""
    best = 0
    for e in range(1, 3001):
        if e * iters * s_iter + min(e, NUM_VALIDATIONS) * val_s <= usable:
            best = e
    return best


def test_demo_configs_carry_their_calibration(demo_recipes):
    bf16, fp32 = demo_recipes
    assert (bf16.name, bf16.precision, bf16.needs_native_bf16) == (
        'hg2_128px_bf16', 'bf16', True)
    # the fp32 config inherits the bf16 one: its recipe has its own
    # calibration (docs/results.md), not the 2-stack bfloat16 one
    assert (fp32.name, fp32.precision, fp32.needs_native_bf16) == (
        'hg1_128px_b4_fp32', 'fp32', False)
    assert fp32.epochs_to_target is not None
    assert "demo_recipe = dict(_delete_=True, name='hg1_128px_b4_fp32'" in (
        Path(fp32.config).read_text())
    assert bf16.target_pckh == fp32.target_pckh == 85.
    assert Config.fromfile(bf16.config).model.autocast == 'auto'
    assert Config.fromfile(fp32.config).model.autocast is None


def test_recipe_rejects_bad_calibration(tmp_path):
    cfg = tmp_path / 'r.py'
    cfg.write_text("demo_recipe = dict(name='x', precision='bf16', max_epochs=3)\n")
    with pytest.raises(ValueError, match='demo_recipe'):
        Recipe.from_config(str(cfg))
    with pytest.raises(ValueError, match='precision'):
        Recipe('x', 'c.py', 'fp16', 85., 3, 5)
    with pytest.raises(ValueError, match='>= 1'):
        Recipe('x', 'c.py', 'fp32', 85., 0, 5)


@pytest.mark.parametrize('s_iter,iters,val_s', [
    (0.11, 625, 25.), (0.3, 625, 60.), (1.2, 625, 100.), (0.05, 31, 4.),
    (0.7, 31, 4.7), (3., 625, 10.), (0.001, 625, 0.)])
def test_fitting_epochs_is_the_most_that_fit(s_iter, iters, val_s):
    assert fitting_epochs(s_iter, iters, val_s, USABLE) == brute_force_epochs(
        s_iter, iters, val_s, USABLE)


@pytest.mark.parametrize('native', [True, False])
@pytest.mark.parametrize('s_iter', [
    dict(hg2_128px_bf16=0.08, hg1_128px_b4_fp32=0.04),     # fast machine
    dict(hg2_128px_bf16=0.11, hg1_128px_b4_fp32=0.046),    # the AMX Xeon
    dict(hg2_128px_bf16=0.16, hg1_128px_b4_fp32=0.10),     # slow machine
])
def test_planned_schedule_fits_the_budget(demo_recipes, native, s_iter):
    if not native:   # the bf16 recipe is not measured there
        s_iter = dict(hg1_128px_b4_fp32=s_iter['hg1_128px_b4_fp32'])
    plan = plan_schedule(demo_recipes, s_iter, RECIPE_ITERS, VAL_S, BUDGET,
                         native)
    name = plan.recipe.name
    assert name == expected_choice(demo_recipes, s_iter, native)
    spent = (plan.epochs * RECIPE_ITERS[name] * s_iter[name] +
             len(plan.val_epochs) * VAL_S[name])
    assert plan.predicted_s == pytest.approx(spent)
    assert spent <= USABLE
    assert plan.epochs == min(plan.recipe.max_epochs, brute_force_epochs(
        s_iter[name], RECIPE_ITERS[name], VAL_S[name], USABLE))
    assert plan.cosine_epochs == plan.epochs
    assert plan.val_epochs[-1] == plan.epochs
    assert f'{1000 * s_iter[name]:.0f} ms/iter' in plan.reason
    if not native:
        assert plan.recipe.precision == 'fp32'


def test_fp32_recipe_where_bf16_is_not_native(demo_recipes):
    picked, skipped = candidate_recipes(demo_recipes, native_bf16=False)
    assert [r.precision for r in picked] == ['fp32']
    assert len(skipped) == 1 and 'not measured' in skipped[0]
    # even a (hypothetical) faster bf16 measurement does not make it a candidate
    plan = plan_schedule(demo_recipes,
                         dict(hg2_128px_bf16=0.01, hg1_128px_b4_fp32=0.2),
                         RECIPE_ITERS, VAL_S, BUDGET, native_bf16=False)
    assert plan.recipe.name == 'hg1_128px_b4_fp32'
    assert [f.recipe.name for f in plan.fits] == ['hg1_128px_b4_fp32']
    # 0.2 s an iteration leaves too few epochs for its target: said loudly
    assert not plan.reaches_target and 'WARNING' in plan.reason


def test_choice_is_by_measurement_not_by_flags():
    fast = Recipe('bf16_big', 'a.py', 'bf16', 85., 7, 12)
    small = Recipe('fp32_small', 'b.py', 'fp32', 85., 6, 12)
    times = dict(bf16_big=0.11, fp32_small=0.1)
    both = plan_schedule([fast, small], times, ITERS, 20., BUDGET, True)
    assert both.recipe is fast   # both reach 85: the first listed
    # a bf16 machine where bf16 is measured slow: 0.2 s -> 4 epochs < 7
    slow = plan_schedule([fast, small], dict(times, bf16_big=0.2), ITERS, 20.,
                         BUDGET, True)
    assert slow.recipe is small and slow.reaches_target
    assert 'needs 7 (0.57x)' in slow.reason


def test_forced_precision(demo_recipes):
    times = dict(hg2_128px_bf16=0.11, hg1_128px_b4_fp32=0.15)
    plan = plan_schedule(demo_recipes, times, ITERS, VAL_S, BUDGET, True,
                         force_precision='fp32')
    assert plan.recipe.precision == 'fp32' and len(plan.fits) == 1
    assert 'fp32 forced' in plan.reason
    plan = plan_schedule(demo_recipes, times, ITERS, VAL_S, BUDGET, True,
                         force_precision='bf16')
    assert plan.recipe.precision == 'bf16'
    with pytest.raises(ValueError, match='no native'):
        candidate_recipes(demo_recipes, False, force_precision='bf16')


def test_too_slow_machine_gets_the_closest_recipe_with_a_warning():
    a = Recipe('a', 'a.py', 'fp32', 85., 10, 12)
    b = Recipe('b', 'b.py', 'fp32', 85., 6, 12)
    plan = plan_schedule([a, b], dict(a=0.3, b=0.4), ITERS, 20., BUDGET, False)
    # a: 3 epochs fit of the 10 it needs (0.3x); b: 2 of 6 (0.33x)
    assert [f.epochs for f in plan.fits] == [3, 2]
    assert plan.recipe is b and not plan.reaches_target
    assert 'WARNING: no candidate reaches PCKh 85' in plan.reason
    # not even one epoch fits: one epoch, said so
    plan = plan_schedule([a], dict(a=5.), ITERS, 20., BUDGET, False)
    assert plan.epochs == 1 and plan.predicted_s > BUDGET
    assert 'not even one epoch' in plan.reason


@pytest.mark.parametrize('epochs', range(1, 31))
def test_validation_epochs_spread_to_the_end(epochs):
    val = validation_epochs(epochs)
    assert len(val) == min(NUM_VALIDATIONS, epochs)
    assert val[-1] == epochs and list(val) == sorted(set(val))
    gaps = [b - a for a, b in zip((0,) + val, val)]
    assert max(gaps) - min(gaps) <= 1


def _validated_by_mmengine(max_epochs, settings):
    """Epochs after which MMEngine's EpochBasedTrainLoop validates."""
    done = []

    class Loader(list):
        dataset = SimpleNamespace(metainfo={})

    runner = SimpleNamespace(call_hook=lambda *a, **k: None, visualizer=SimpleNamespace(),
                             model=SimpleNamespace(train=lambda: None))
    loop = EpochBasedTrainLoop(runner, Loader(), max_epochs, **settings)
    runner.val_loop = SimpleNamespace(run=lambda: done.append(loop.epoch))
    loop.run()
    return tuple(done)


@pytest.mark.parametrize('epochs', [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 17, 24])
def test_val_loop_settings_validate_exactly_there(epochs):
    val = validation_epochs(epochs)
    settings = val_loop_settings(val)
    assert _validated_by_mmengine(epochs, settings) == val
    even = all(v == val[0] * (i + 1) for i, v in enumerate(val))
    assert (settings['dynamic_intervals'] is None) == even


def test_cosine_lasts_the_planned_epochs():
    sched = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
             dict(type='CosineAnnealingLR', by_epoch=True, begin=0, T_max=12, end=12,
                  eta_min=1e-5)]
    out = planned_param_scheduler(sched, 7)
    assert out[0] == sched[0] and sched[1]['T_max'] == 12   # input untouched
    assert out[1] == dict(sched[1], T_max=7, end=7)
    with pytest.raises(ValueError, match='CosineAnnealingLR'):
        planned_param_scheduler(sched[:1], 7)


@pytest.mark.parametrize('native,s_iter', [(True, 0.125), (False, 0.15)])
def test_generated_config_loads_with_the_plan(demo_recipes, tmp_path, native, s_iter):
    times = dict(hg2_128px_bf16=s_iter, hg1_128px_b4_fp32=s_iter)
    plan = plan_schedule(demo_recipes, times, ITERS, VAL_S, BUDGET, native)
    assert plan.epochs % NUM_VALIDATIONS   # uneven validations: dynamic intervals
    path = tmp_path / 'demo_planned.py'
    path.write_text(planned_config_text(plan, data_root='/data/x'))
    cfg, base = Config.fromfile(str(path)), Config.fromfile(plan.recipe.config)
    assert cfg.train_cfg.max_epochs == cfg.max_epochs == plan.epochs
    assert _validated_by_mmengine(plan.epochs, dict(
        val_begin=cfg.train_cfg.val_begin, val_interval=cfg.train_cfg.val_interval,
        dynamic_intervals=cfg.train_cfg.dynamic_intervals)) == plan.val_epochs
    linear, cosine = cfg.param_scheduler
    assert linear == base.param_scheduler[0]
    assert cosine == dict(base.param_scheduler[1], T_max=plan.epochs)
    assert cfg.default_hooks.checkpoint.interval == plan.val_epochs[0]
    assert cfg.default_hooks.checkpoint.save_best == 'PCKh/Mean'   # inherited
    assert cfg.model.autocast == ('bf16' if native else None)
    assert cfg.model.head.decoder == base.model.head.decoder
    assert cfg.train_dataloader.batch_size == base.train_dataloader.batch_size
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == '/data/x'
    assert cfg.test_dataloader.dataset.headbox_file == '/data/x/annotations/mpii_gt_val.mat'
    assert cfg.demo_plan['recipe'] == plan.recipe.name
    assert cfg.demo_plan['precision'] == plan.recipe.precision


@pytest.mark.slow
def test_plan_demo_measures_and_writes_the_plan(synth_tiny, tmp_path):
    """plan_demo.py for real, fp32 forced (possible on a bf16 machine too)."""
    work = tmp_path / 'work'
    proc = run_tool([str(TOOL), '--data-root', str(synth_tiny), '--work-dir', str(work),
                     '--budget-min', '0.5', '--force-precision', 'fp32',
                     '--warmup', '1', '--iters', '2'], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    plan = json.loads((work / 'plan.json').read_text())
    assert plan['native_bf16'] == has_native_bf16(torch.device(plan['device']))
    assert list(plan['measurements']) == ['hg1_128px_b4_fp32']   # bf16 not measured
    assert (plan['recipe'], plan['precision']) == ('hg1_128px_b4_fp32', 'fp32')
    m = plan['measurements']['hg1_128px_b4_fp32']
    # the recipe's batch of the training people; the few validation people
    # in one batch of 32
    batch = Config.fromfile(plan['config']).train_dataloader.batch_size
    assert m['iters_per_epoch'] == math.ceil(_train_people(synth_tiny) / batch)
    assert m['val_batches'] == 1 and len(m['val_batch_s']) == 1
    epochs = min(12, max(1, brute_force_epochs(m['s_per_iter'], m['iters_per_epoch'],
                                               m['val_s'], 30 * (1 - HEADROOM))))
    assert plan['epochs'] == plan['cosine_epochs'] == epochs
    assert plan['val_epochs'] == list(validation_epochs(epochs))
    cfg = Config.fromfile(plan['planned_config'])
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[-1].T_max == epochs
    assert cfg.train_dataloader.dataset.data_root == str(synth_tiny.resolve())
    assert f'chosen: hg1_128px_b4_fp32 (fp32), {epochs} epochs' in proc.stdout
    assert f'{1000 * m["s_per_iter"]:.0f} ms/iter' in proc.stdout


def _train_people(root):
    return len(json.loads((root / 'annotations' / 'mpii_train.json').read_text()))
