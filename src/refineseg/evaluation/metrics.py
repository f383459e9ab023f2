"""Confusion-matrix segmentation metrics (the standard benchmark definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..data.labels import IGNORE_INDEX

if TYPE_CHECKING:
    from torchmetrics.classification import MulticlassConfusionMatrix

__all__ = ["SegmentationMetrics", "confusion_matrix_metric", "metrics_from_confusion"]


def confusion_matrix_metric(num_classes: int, ignore_index: int = IGNORE_INDEX) -> MulticlassConfusionMatrix:
    """A torchmetrics confusion matrix (rows: ground truth, columns: prediction) that
    skips ignored pixels and reduces across processes in distributed runs.

    Args:
        num_classes: Number of classes.
        ignore_index: Label value of pixels left out (:data:`~refineseg.data.labels.IGNORE_INDEX`).

    Returns:
        The metric; ``update(preds, target)`` with class-index tensors, ``compute()`` gives the
            ``(num_classes, num_classes)`` counts.
    """
    from torchmetrics.classification import MulticlassConfusionMatrix

    return MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index, validate_args=False)


@dataclass
class SegmentationMetrics:
    """Fractions in 0..1. Classes absent from both ground truth and prediction have no
    IoU (NaN) and do not count in the means.

    Attributes:
        miou: Mean intersection over union over the classes present.
        per_class_iou: IoU of each class, NaN where the class is absent.
        pixel_accuracy: Correct pixels / labelled pixels.
        mean_accuracy: Mean over the classes in the ground truth of their per-class recall.
        fwiou: Frequency-weighted IoU (each class's IoU weighted by its pixel share).
    """

    miou: float
    per_class_iou: list[float]
    pixel_accuracy: float
    mean_accuracy: float
    fwiou: float

    def as_dict(self, class_names: Sequence[str]) -> dict[str, object]:
        """JSON-ready metrics, per-class IoU by class name (NaN as ``None``).

        Args:
            class_names: One name per class, in class-index order.

        Returns:
            A dict with the fields of this class.
        """
        return {
            "miou": self.miou,
            "per_class_iou": {name: _json_float(v) for name, v in zip(class_names, self.per_class_iou, strict=True)},
            "pixel_accuracy": self.pixel_accuracy,
            "mean_accuracy": self.mean_accuracy,
            "fwiou": self.fwiou,
        }


def _json_float(value: float) -> float | None:
    return None if value != value else value  # NaN -> null in JSON


def metrics_from_confusion(confusion: Tensor) -> SegmentationMetrics:
    """The benchmark metrics of a confusion matrix.

    Args:
        confusion: Pixel counts, ``(C, C)``, rows ground truth, columns prediction.

    Returns:
        The metrics; means are 0.0 when no class is present at all.
    """
    cm = confusion.double()
    tp = cm.diag()
    gt = cm.sum(1)
    pred = cm.sum(0)
    total = cm.sum()
    union = gt + pred - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    accuracy = torch.where(gt > 0, tp / gt.clamp(min=1), torch.full_like(tp, float("nan")))
    freq = gt / total.clamp(min=1)
    return SegmentationMetrics(
        miou=float(iou.nanmean()) if (union > 0).any() else 0.0,
        per_class_iou=[float(v) for v in iou],
        pixel_accuracy=float(tp.sum() / total.clamp(min=1)),
        mean_accuracy=float(accuracy.nanmean()) if (gt > 0).any() else 0.0,
        fwiou=float((freq[union > 0] * iou[union > 0]).sum()),
    )
