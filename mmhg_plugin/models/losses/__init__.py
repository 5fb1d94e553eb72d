"""Losses."""
from .stacked_heatmap_mse_loss import StackedHeatmapMSELoss

__all__ = ['StackedHeatmapMSELoss']
