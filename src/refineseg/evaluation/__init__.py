"""Evaluation: confusion-matrix metrics, single/multi-scale and sliding-window inference."""

from .metrics import SegmentationMetrics, confusion_matrix_metric, metrics_from_confusion

__all__ = ["SegmentationMetrics", "confusion_matrix_metric", "metrics_from_confusion"]
