"""How long the demo may train on this machine.

``make demo`` promises two things: training (validations included) ends
within its budget (``DEMO_BUDGET_MIN``, 12 minutes by default), and the
whole run, from ``make demo`` on a fresh clone to the pictures, ends within
a deadline (``DEMO_TOTAL_MIN``, 20 minutes by default). Set-up and data
generation take what they take (minutes when mmcv is compiled, seconds
when everything is there), so the planner is given whichever is shorter:
the budget, or the time left before the deadline once the evaluation and
the pictures after training are set aside (:func:`training_budget`).

Where the deadline leaves too little for any recipe to reach its target
but the budget does not, the target comes first: :func:`plan_demo` plans
the shortest schedule that reaches it, and says by how much the run will
miss the deadline (a first set-up that compiles mmcv on a slow CPU can
leave only minutes).
"""
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

from .demo_planner import HEADROOM, PerRecipe, Plan, plan_schedule
from .demo_recipe import Recipe

#: Seconds after training besides one validation pass: the evaluation
#: tool's start, the three picture tools (each imports torch and MMPose)
#: and the summary; an estimate with margin (about 30 s on 2 cores).
AFTER_TRAINING_S = 45.
#: The least training time planned, however little the deadline leaves.
MIN_TRAINING_S = 60.


@dataclass(frozen=True)
class TrainingBudget:
    """The training time planned and why.

    Args:
        seconds (float): Training time allowed, validations included.
        limited_by_deadline (bool): Whether the deadline, not the budget,
            set it.
        reason (str): One line for the plan's printout.
    """
    seconds: float
    limited_by_deadline: bool
    reason: str


def training_budget(budget_s: float,
                    deadline_left_s: Optional[float] = None,
                    val_s: float = 0.,
                    after_training_s: float = AFTER_TRAINING_S
                    ) -> TrainingBudget:
    """The shorter of the training budget and what the deadline leaves.

    Args:
        budget_s (float): The training budget, seconds (> 0).
        deadline_left_s (float, optional): Seconds left now before the
            clone-to-pictures deadline; None: no deadline.
        val_s (float): Seconds of the final evaluation (one validation pass
            of the chosen recipe, flip test as configured).
        after_training_s (float): Seconds of the rest after training.

    Returns:
        TrainingBudget: At least :data:`MIN_TRAINING_S` (then the deadline
        is missed, and the reason says by how much).
    """
    if budget_s <= 0:
        raise ValueError(f'the training budget must be > 0 s, got {budget_s}')
    if val_s < 0 or after_training_s < 0:
        raise ValueError(f'negative times: val_s={val_s}, '
                         f'after_training_s={after_training_s}')
    own = f'the {budget_s / 60:.1f}-min training budget'
    if deadline_left_s is None:
        return TrainingBudget(budget_s, False, f'{own} (no deadline)')
    after = val_s + after_training_s
    left = deadline_left_s - after
    where = (f'{deadline_left_s / 60:.1f} min left before the deadline, '
             f'less {after:.0f} s for evaluation and pictures')
    if left >= budget_s:
        return TrainingBudget(budget_s, False, f'{own} ({where}: '
                                               f'{left / 60:.1f} min)')
    if left >= MIN_TRAINING_S:
        return TrainingBudget(left, True, f'{left / 60:.1f} min: {where}, '
                                          f'shorter than {own}')
    return TrainingBudget(
        MIN_TRAINING_S, True,
        f'{MIN_TRAINING_S / 60:.1f} min, the least planned: {where} leave '
        f'{left / 60:.1f} min; the deadline will be missed by about '
        f'{(MIN_TRAINING_S - left) / 60:.1f} min')


def plan_demo(recipes: Sequence[Recipe],
              measured_s_per_iter: Mapping[str, float],
              iters_per_epoch: PerRecipe, val_s: PerRecipe, budget_s: float,
              native_bf16: bool, deadline_left_s: Optional[float] = None,
              force_precision: Optional[str] = None) -> Tuple[Plan, str]:
    """Plan the demo's training within the budget and, if it can, the
    deadline.

    The schedule first gets :func:`training_budget`. Where no candidate
    reaches its target in that time because the deadline shortened it,
    but one does within the whole budget, the run is planned for the
    shortest time that recipe needs to reach its target instead (the
    deadline is then missed, and the line says by about how much).

    Args:
        recipes, measured_s_per_iter, iters_per_epoch, val_s, native_bf16,
        force_precision: As :func:`~.demo_planner.plan_schedule`.
        budget_s (float): The training budget, seconds.
        deadline_left_s (float, optional): Seconds left now before the
            clone-to-pictures deadline; None: no deadline.

    Returns:
        tuple[Plan, str]: The plan and one line on the training time
        planned and why.
    """
    final_val_s = (max(val_s.values()) if isinstance(val_s, Mapping)
                   else val_s)
    budget = training_budget(budget_s, deadline_left_s, final_val_s)

    def plan(seconds: float) -> Plan:
        return plan_schedule(recipes, measured_s_per_iter, iters_per_epoch,
                             val_s, budget_s=seconds, native_bf16=native_bf16,
                             force_precision=force_precision)

    within = plan(budget.seconds)
    if within.reaches_target or not budget.limited_by_deadline:
        return within, budget.reason
    whole = plan(budget_s)
    if not whole.reaches_target:
        return within, budget.reason
    fit = next(f for f in whole.fits if f.recipe == whole.recipe)
    need = fit.predicted_s(fit.recipe.epochs_to_target) / (1 - HEADROOM)
    need = min(budget_s, need * (1 + 1e-9))   # float rounding at the edge
    return plan(need), (
        f'{need / 60:.1f} min, what {fit.recipe.name} needs to reach PCKh '
        f'{fit.recipe.target_pckh:g}; the deadline leaves '
        f'{budget.seconds / 60:.1f} min of training, too little for any '
        'target, and the target comes first: the run will end about '
        f'{(need - budget.seconds) / 60:.1f} min after the deadline')
