"""Evaluation: confusion-matrix metrics, single/multi-scale and sliding-window inference."""

from ..inference.tta import OFFICIAL_SCALES, predict_probabilities, sliding_window_probabilities
from .evaluate import EvaluationResult, evaluate, format_table, save_confusion_png, write_json
from .metrics import SegmentationMetrics, confusion_matrix_metric, metrics_from_confusion

__all__ = [
    "OFFICIAL_SCALES",
    "EvaluationResult",
    "SegmentationMetrics",
    "confusion_matrix_metric",
    "evaluate",
    "format_table",
    "metrics_from_confusion",
    "predict_probabilities",
    "save_confusion_png",
    "sliding_window_probabilities",
    "write_json",
]
