"""Visualisation backends."""
from .switchable_tensorboard import SwitchableTensorboardVisBackend

__all__ = ['SwitchableTensorboardVisBackend']
