"""Models: backbone, head, loss and pose estimator."""
from .backbones import StackedHourglass
from .heads import StackedHourglassHead
from .losses import StackedHeatmapMSELoss
from .pose_estimators import StackedHourglassEstimator

__all__ = [
    'StackedHourglass', 'StackedHourglassHead', 'StackedHeatmapMSELoss',
    'StackedHourglassEstimator'
]
