"""Keypoint codecs."""
from .hourglass_heatmap import HourglassHeatmap, decode_heatmaps

__all__ = ['HourglassHeatmap', 'decode_heatmaps']
