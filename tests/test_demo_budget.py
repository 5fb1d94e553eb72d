"""The demo's training time: its budget, or what the deadline leaves."""
import pytest

from mmhg_plugin.engine.demo_budget import (
    AFTER_TRAINING_S,
    MIN_TRAINING_S,
    plan_demo,
    training_budget,
)
from mmhg_plugin.engine.demo_planner import HEADROOM, plan_schedule
from mmhg_plugin.engine.demo_recipe import Recipe


def test_no_deadline_gives_the_budget():
    b = training_budget(720.)
    assert b.seconds == 720. and not b.limited_by_deadline
    assert '12.0-min training budget' in b.reason


def test_a_far_deadline_keeps_the_budget():
    # 15 min left, 20 s of validation: 15 * 60 - 20 - 45 = 835 s > 720 s.
    b = training_budget(720., deadline_left_s=900., val_s=20.)
    assert b.seconds == 720. and not b.limited_by_deadline


def test_a_near_deadline_shortens_training_by_what_comes_after():
    # 12 min left (set-up took 8 of the 20): evaluation (one validation,
    # 20 s) and the pictures are set aside.
    b = training_budget(720., deadline_left_s=720., val_s=20.)
    assert b.limited_by_deadline
    assert b.seconds == pytest.approx(720. - 20. - AFTER_TRAINING_S)
    assert 'shorter than the 12.0-min training budget' in b.reason


def test_a_passed_deadline_still_plans_the_least_and_says_it_misses():
    b = training_budget(720., deadline_left_s=30., val_s=20.)
    assert b.seconds == MIN_TRAINING_S and b.limited_by_deadline
    assert 'missed' in b.reason


@pytest.mark.parametrize('kwargs', [dict(budget_s=0.),
                                    dict(budget_s=60., val_s=-1.),
                                    dict(budget_s=60., after_training_s=-5.)])
def test_bad_times_are_refused(kwargs):
    with pytest.raises(ValueError):
        training_budget(**kwargs)


def test_the_shortened_budget_plans_fewer_epochs_that_fit():
    """End to end with the planner: what the deadline leaves is what the
    planned schedule fits in."""
    recipe = Recipe(name='r', config='r.py', precision='fp32',
                    target_pckh=85., epochs_to_target=4, max_epochs=12)
    full = plan_schedule([recipe], {'r': 0.1}, 500, 10.,
                         budget_s=training_budget(720.).seconds,
                         native_bf16=False)
    short = training_budget(720., deadline_left_s=400., val_s=10.)
    cut = plan_schedule([recipe], {'r': 0.1}, 500, 10.,
                        budget_s=short.seconds, native_bf16=False)
    assert cut.epochs < full.epochs
    assert cut.predicted_s <= short.seconds
    assert cut.predicted_s + 10. + AFTER_TRAINING_S <= 400.


RECIPE = Recipe(name='r', config='r.py', precision='fp32', target_pckh=85.,
                epochs_to_target=5, max_epochs=12)


def test_a_deadline_too_near_for_the_target_gives_way_to_it():
    """A first set-up that compiled mmcv left 4 min: the target (5 epochs of
    100 s and their validations) comes first, within the 12-min budget."""
    plan, line = plan_demo([RECIPE], {'r': 0.1}, 1000, 10., budget_s=720.,
                           native_bf16=False, deadline_left_s=240.)
    assert plan.reaches_target and plan.epochs == 5
    need = 5 * 100. + 4 * 10.
    assert need <= plan.predicted_s <= need + 1e-6
    assert plan.predicted_s <= plan.budget_s * (1 - HEADROOM) + 1e-6
    assert plan.budget_s <= 720.
    late = need / (1 - HEADROOM) - (240. - 10. - AFTER_TRAINING_S)
    assert f'about {late / 60:.1f} min after the deadline' in line


def test_a_deadline_that_leaves_the_target_is_kept():
    plan, line = plan_demo([RECIPE], {'r': 0.05}, 1000, 10., budget_s=720.,
                           native_bf16=False, deadline_left_s=500.)
    assert plan.reaches_target
    assert plan.predicted_s + 10. + AFTER_TRAINING_S <= 500.
    assert 'after the deadline' not in line


def test_a_target_out_of_the_budget_keeps_the_deadline():
    """Where even the whole budget cannot reach the target, the deadline
    still shortens the run (no reason to be late)."""
    plan, line = plan_demo([RECIPE], {'r': 0.3}, 1000, 10., budget_s=720.,
                           native_bf16=False, deadline_left_s=400.)
    assert not plan.reaches_target
    assert plan.predicted_s + 10. + AFTER_TRAINING_S <= 400.
    assert 'after the deadline' not in line
