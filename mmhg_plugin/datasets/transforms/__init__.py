"""Data transforms."""
from .channel_scale_jitter import ChannelScaleJitter
from .crop_geometry import crop_matrix
from .mpii_topdown_affine import MPIITopdownAffine

__all__ = ['ChannelScaleJitter', 'MPIITopdownAffine', 'crop_matrix']
