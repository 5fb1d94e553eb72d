"""Metrics."""
from .mpii_pckh import MPIIPCKh

__all__ = ['MPIIPCKh']
