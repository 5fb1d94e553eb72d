"""Plan the demo's training for the machine it runs on, from measurements.

``make demo`` must end its training within a stated budget (12 minutes by
default) on any machine. ``tools/misc/plan_demo.py`` times a few training
iterations and two validation batches of each candidate recipe on the
machine;
:func:`plan_schedule` (pure: numbers in, decision out) then picks the recipe
and sizes its schedule:

- candidates: a recipe that computes in bfloat16 is one only where bfloat16
  is native (without hardware support it is tens of times slower: a
  question of feasibility, so such a recipe is not even measured); a forced
  precision keeps only the recipes of that precision;
- epochs: as many as fit in the budget with their validations, less a
  :data:`HEADROOM` share, capped at the recipe's ``max_epochs``, at least 1;
- choice: the first recipe, in the order given, whose epochs reach its
  calibrated ``epochs_to_target``. The order is the preference (best final
  accuracy first): a recipe that reaches the target with fewer spare epochs
  still ends higher when it is the better recipe (the measured final
  accuracies: docs/results.md). Where none reaches it, the one closest to
  its target (planned / needed epochs), with a warning in the reason;
- validations: :data:`NUM_VALIDATIONS`, evenly spread, the last at the final
  epoch; the cosine decay lasts the planned epochs.

A recipe is a config file with a top-level ``demo_recipe`` dict, its
calibration measured on a reference run
(:class:`~mmhg_plugin.engine.demo_recipe.Recipe`).
"""
import math
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from .demo_recipe import PRECISIONS, Recipe

#: Validations in a planned run (fewer when it has fewer epochs).
NUM_VALIDATIONS = 4
#: Share of the budget held back for what the measurement does not see: the
#: runner's start, checkpoint saving, the jitter of a shared machine.
HEADROOM = 0.05

PerRecipe = Union[float, Mapping[str, float]]


@dataclass(frozen=True)
class Fit:
    """How one measured candidate fits the budget.

    Args:
        recipe (Recipe): The candidate.
        s_per_iter (float): Measured seconds a training iteration, loading
            included.
        iters_per_epoch (int): Training iterations an epoch.
        val_s (float): Predicted seconds of one validation.
        fitting_epochs (int): Epochs that fit in the budget, uncapped (0
            when not even one does).
    """
    recipe: Recipe
    s_per_iter: float
    iters_per_epoch: int
    val_s: float
    fitting_epochs: int

    @property
    def epochs(self) -> int:
        """Planned epochs: those that fit, capped, at least 1."""
        return max(1, min(self.fitting_epochs, self.recipe.max_epochs))

    @property
    def progress(self) -> float:
        """Planned epochs / epochs to target (0 if never reached)."""
        need = self.recipe.epochs_to_target
        return 0. if need is None else self.epochs / need

    @property
    def reaches_target(self) -> bool:
        """Whether the planned epochs reach the calibrated target."""
        return self.fitting_epochs >= 1 and self.progress >= 1

    def predicted_s(self, epochs: int) -> float:
        """Seconds of training and validation for ``epochs`` epochs."""
        return predicted_seconds(epochs, self.s_per_iter,
                                 self.iters_per_epoch, self.val_s)

    def describe(self) -> str:
        """One line: measurements, what fits, where the target is."""
        r = self.recipe
        need = ('never measured to reach it' if r.epochs_to_target is None
                else f'needs {r.epochs_to_target} ({self.progress:.2f}x)')
        return (f'{r.name} ({r.precision}): {1000 * self.s_per_iter:.0f} '
                f'ms/iter x {self.iters_per_epoch} iters/epoch = '
                f'{self.s_per_iter * self.iters_per_epoch:.0f} s/epoch, '
                f'{self.val_s:.0f} s a validation -> {self.fitting_epochs} '
                f'epochs fit, {self.epochs} planned (max {r.max_epochs}); '
                f'PCKh {r.target_pckh:g}: {need}')


@dataclass(frozen=True)
class Plan:
    """The chosen recipe and its schedule.

    Args:
        recipe (Recipe): The chosen recipe.
        epochs (int): Training epochs; the cosine decay lasts as long.
        val_epochs (tuple[int]): Validated epochs, increasing, the last one
            ``epochs``.
        predicted_s (float): Predicted seconds of training with validation.
        budget_s (float): The budget.
        reaches_target (bool): Whether the epochs reach the recipe's target.
        fits (tuple[Fit]): Every measured candidate.
        reason (str): Why, for people: each candidate's ms/iter and fitting
            epochs, the choice, and a warning where the target is missed.
    """
    recipe: Recipe
    epochs: int
    val_epochs: Tuple[int, ...]
    predicted_s: float
    budget_s: float
    reaches_target: bool
    fits: Tuple[Fit, ...]
    reason: str

    @property
    def cosine_epochs(self) -> int:
        """Length of the cosine decay: the planned epochs."""
        return self.epochs

    def to_dict(self) -> dict:
        """JSON-ready summary (``plan.json``)."""
        return dict(
            recipe=self.recipe.name, config=self.recipe.config,
            precision=self.recipe.precision, epochs=self.epochs,
            val_epochs=list(self.val_epochs),
            cosine_epochs=self.cosine_epochs,
            predicted_s=round(self.predicted_s, 1), budget_s=self.budget_s,
            target_pckh=self.recipe.target_pckh,
            reaches_target=self.reaches_target, reason=self.reason,
            candidates=[dict(recipe=f.recipe.name,
                             precision=f.recipe.precision,
                             ms_per_iter=round(1000 * f.s_per_iter, 1),
                             iters_per_epoch=f.iters_per_epoch,
                             val_s=round(f.val_s, 1),
                             fitting_epochs=f.fitting_epochs,
                             epochs_to_target=f.recipe.epochs_to_target)
                        for f in self.fits])


def validation_epochs(epochs: int,
                      num: int = NUM_VALIDATIONS) -> Tuple[int, ...]:
    """``num`` (at most ``epochs``) evenly spread epochs ending at ``epochs``.

    The i-th is ceil(i * epochs / num), e.g. 12 -> (3, 6, 9, 12),
    10 -> (3, 5, 8, 10), 3 -> (1, 2, 3).
    """
    n = min(num, epochs)
    return tuple(-(-i * epochs // n) for i in range(1, n + 1))


def predicted_seconds(epochs: int, s_per_iter: float, iters_per_epoch: int,
                      val_s: float) -> float:
    """Seconds of ``epochs`` epochs of training with their validations."""
    return (epochs * iters_per_epoch * s_per_iter +
            len(validation_epochs(epochs)) * val_s)


def fitting_epochs(s_per_iter: float, iters_per_epoch: int, val_s: float,
                   usable_s: float) -> int:
    """The most epochs whose :func:`predicted_seconds` is <= ``usable_s``."""
    epoch_s = s_per_iter * iters_per_epoch
    many = math.floor((usable_s - NUM_VALIDATIONS * val_s) / epoch_s)
    if many >= NUM_VALIDATIONS:   # one validation per epoch below that
        epochs = many
    else:
        epochs = max(0, min(NUM_VALIDATIONS - 1,
                            math.floor(usable_s / (epoch_s + val_s))))
    while epochs > 0 and predicted_seconds(epochs, s_per_iter,
                                           iters_per_epoch, val_s) > usable_s:
        epochs -= 1   # float rounding at the boundary
    return epochs


def candidate_recipes(
        recipes: Sequence[Recipe], native_bf16: bool,
        force_precision: Optional[str] = None
) -> Tuple[List[Recipe], List[str]]:
    """The recipes worth measuring here, and why the others are not.

    Raises:
        ValueError: On a forced precision that no recipe has, or 'bf16'
            forced where bfloat16 is not native.
    """
    if force_precision is not None and force_precision not in PRECISIONS:
        raise ValueError(f'force_precision must be one of {PRECISIONS}')
    if force_precision == 'bf16' and not native_bf16:
        raise ValueError('bf16 forced, but this machine has no native '
                         'bfloat16 (tens of times slower than float32)')
    keep, skipped = [], []
    for r in recipes:
        if force_precision is not None and r.precision != force_precision:
            skipped.append(f'{r.name} ({r.precision}): {force_precision} '
                           'forced')
        elif r.needs_native_bf16 and not native_bf16:
            skipped.append(f'{r.name} ({r.precision}): no native bfloat16 '
                           'here (AMX / AVX512-BF16 / GPU), where it is tens '
                           'of times slower; not measured')
        else:
            keep.append(r)
    if not keep:
        raise ValueError('no candidate recipe: ' + '; '.join(skipped))
    if len({r.target_pckh for r in keep}) > 1:
        raise ValueError('the candidates are calibrated to different '
                         f'targets: {[(r.name, r.target_pckh) for r in keep]}')
    return keep, skipped


def _per_recipe(value: PerRecipe, name: str, what: str) -> float:
    if isinstance(value, Mapping):
        if name not in value:
            raise ValueError(f'no {what} for the candidate {name}')
        return value[name]
    return value


def plan_schedule(recipes: Sequence[Recipe],
                  measured_s_per_iter: Mapping[str, float],
                  iters_per_epoch: PerRecipe, val_s: PerRecipe,
                  budget_s: float, native_bf16: bool,
                  force_precision: Optional[str] = None,
                  headroom: float = HEADROOM) -> Plan:
    """Choose a recipe and size its schedule to end within ``budget_s``.

    Args:
        recipes (Sequence[Recipe]): All recipes, in order of preference.
        measured_s_per_iter (Mapping[str, float]): Seconds a training
            iteration (loading included) of each candidate, by name.
        iters_per_epoch (int | Mapping[str, int]): Training iterations an
            epoch, one for all or by name.
        val_s (float | Mapping[str, float]): Seconds of one validation.
        budget_s (float): Training time allowed, validations included.
        native_bf16 (bool): Whether the machine computes bfloat16 natively.
        force_precision (str | None): Keep only recipes of this precision.
        headroom (float): Share of the budget not planned.

    Returns:
        Plan: Its ``predicted_s`` is <= ``budget_s`` unless not even one
        epoch of any candidate fits (then 1 epoch, and the reason says so).
    """
    cands, skipped = candidate_recipes(recipes, native_bf16, force_precision)
    usable = budget_s * (1 - headroom)
    fits = []
    for r in cands:
        s_iter = _per_recipe(measured_s_per_iter, r.name, 'time an iteration')
        n_iter = int(_per_recipe(iters_per_epoch, r.name, 'iters per epoch'))
        v_s = _per_recipe(val_s, r.name, 'validation time')
        if s_iter <= 0 or n_iter < 1 or v_s < 0:
            raise ValueError(f'{r.name}: bad measurement: {s_iter} s/iter, '
                             f'{n_iter} iters/epoch, {v_s} s/validation')
        fits.append(Fit(r, s_iter, n_iter, v_s,
                        fitting_epochs(s_iter, n_iter, v_s, usable)))
    reaching = [f for f in fits if f.reaches_target]
    best = reaching[0] if reaching else max(fits, key=lambda f: f.progress)
    epochs = best.epochs
    val_at = validation_epochs(epochs)
    target = f'PCKh {best.recipe.target_pckh:g}'
    lines = [f'budget {budget_s / 60:.1f} min ({usable / 60:.1f} planned, '
             f'{headroom:.0%} headroom); native bfloat16: '
             f'{"yes" if native_bf16 else "no"}'
             + (f'; {force_precision} forced' if force_precision else '')]
    lines += ['  ' + f.describe() for f in fits]
    lines += [f'  skipped {s}' for s in skipped]
    why = (f'the first candidate listed that reaches {target}' if reaching
           else 'the closest to its target')
    lines.append(f'chosen: {best.recipe.name} ({best.recipe.precision}), '
                 f'{epochs} epochs (cosine over {epochs}), validation at '
                 f'epochs {", ".join(map(str, val_at))}, predicted '
                 f'{best.predicted_s(epochs) / 60:.1f} min: {why}')
    if not reaching:
        lines.append(f'WARNING: no candidate reaches {target} within '
                     f'{budget_s / 60:.1f} min on this machine; '
                     f'{best.recipe.name} will end below it')
    if best.fitting_epochs == 0:
        lines.append(f'WARNING: not even one epoch fits the budget; 1 epoch '
                     f'takes {best.predicted_s(1) / 60:.1f} min')
    return Plan(recipe=best.recipe, epochs=epochs,
                val_epochs=val_at,
                predicted_s=best.predicted_s(epochs), budget_s=budget_s,
                reaches_target=best.reaches_target, fits=tuple(fits),
                reason='\n'.join(lines))
