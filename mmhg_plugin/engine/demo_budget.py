"""How long the demo may train on this machine.

``make demo`` promises two things: training (validations included) ends
within its budget (``DEMO_BUDGET_MIN``, 12 minutes by default), and the
whole run, from ``make demo`` on a fresh clone to the pictures, ends within
a deadline (``DEMO_TOTAL_MIN``, 20 minutes by default). Set-up and data
generation take what they take (minutes when mmcv is compiled, seconds
when everything is there), so the planner is given whichever is shorter:
the budget, or the time left before the deadline once the evaluation and
the pictures after training are set aside.
"""
from dataclasses import dataclass
from typing import Optional

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
