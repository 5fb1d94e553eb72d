"""Evaluation."""
from .metrics import MPIIPCKh

__all__ = ['MPIIPCKh']
