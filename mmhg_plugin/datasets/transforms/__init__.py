"""Data transforms."""
from .channel_scale_jitter import ChannelScaleJitter
from .mpii_topdown_affine import MPIITopdownAffine, crop_matrix

__all__ = ['ChannelScaleJitter', 'MPIITopdownAffine', 'crop_matrix']
