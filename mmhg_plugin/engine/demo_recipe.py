"""A candidate recipe of the demo: a config and its calibration.

Each demo config that may be planned (``tools/misc/plan_demo.py``) carries
a top-level dict next to the recipe it describes, e.g.::

    demo_recipe = dict(name='hg2_128px_bf16', precision='bf16',
                       target_pckh=85., epochs_to_target=3, max_epochs=12)

with the epochs its reference run needed to reach the target PCKh@0.5
Mean, so that every calibration number lives in one place.
"""
from dataclasses import dataclass
from typing import Optional

from mmengine.config import Config

#: Precision names of ``demo_recipe['precision']``.
PRECISIONS = ('bf16', 'fp32')
#: The keys of a config's ``demo_recipe`` dict.
RECIPE_KEYS = ('name', 'precision', 'target_pckh', 'epochs_to_target',
               'max_epochs')


@dataclass(frozen=True)
class Recipe:
    """A candidate demo recipe: a config and its calibration.

    Args:
        name (str): Short name, unique among the candidates.
        config (str): Path of the config file.
        precision (str): 'bf16' (bfloat16 autocast) or 'fp32'.
        target_pckh (float): The PCKh@0.5 Mean the calibration refers to.
        epochs_to_target (int | None): Epochs the reference run needed to
            reach ``target_pckh``; None if no run has reached it.
        max_epochs (int): The most epochs a plan gives it (its cosine
            schedule was calibrated up to this length).
    """
    name: str
    config: str
    precision: str
    target_pckh: float
    epochs_to_target: Optional[int]
    max_epochs: int

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f'recipe {self.name}: precision must be one of '
                             f'{PRECISIONS}, got {self.precision!r}')
        if self.max_epochs < 1 or (self.epochs_to_target is not None
                                   and self.epochs_to_target < 1):
            raise ValueError(f'recipe {self.name}: max_epochs and '
                             'epochs_to_target must be >= 1')

    @property
    def needs_native_bf16(self) -> bool:
        """Whether it is a candidate only where bfloat16 is native."""
        return self.precision == 'bf16'

    @classmethod
    def from_config(cls, path: str) -> 'Recipe':
        """Read the ``demo_recipe`` dict of a config file.

        Raises:
            ValueError: When the dict is missing or its keys are not
                exactly :data:`RECIPE_KEYS`.
        """
        spec = Config.fromfile(path).get('demo_recipe')
        if spec is None or set(spec) != set(RECIPE_KEYS):
            raise ValueError(f'{path}: needs a top-level demo_recipe dict with '
                             f'the keys {RECIPE_KEYS}, got {spec}')
        return cls(config=str(path), **dict(spec))
