"""Datasets: MPII facts (``mpii_conventions``), MPII files (``mpii_io``),
checks and transforms. The synthetic MPII generator
(``mmhg_plugin.datasets.synthetic``) is imported on demand, never by the
plugin's registration."""
from .transforms import ChannelScaleJitter, MPIITopdownAffine

__all__ = ['ChannelScaleJitter', 'MPIITopdownAffine']
