"""Pose estimators."""
from .stacked_hourglass_estimator import StackedHourglassEstimator

__all__ = ['StackedHourglassEstimator']
