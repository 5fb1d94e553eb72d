"""Backbones."""
from .hourglass_blocks import Hourglass, PreActResidual
from .stacked_hourglass import StackedHourglass

__all__ = ['Hourglass', 'PreActResidual', 'StackedHourglass']
