"""Datasets: MPII conventions and transforms (the synthetic MPII generator lives in
``mmhg_plugin.datasets.synthetic`` and is imported on demand)."""
from .transforms import ChannelScaleJitter, MPIITopdownAffine

__all__ = ['ChannelScaleJitter', 'MPIITopdownAffine']
