"""Evaluate a model on a dataset split and report the standard metrics."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._io import atomic_write
from ..data import SegmentationDataset
from ..inference.images import ImageLike
from ..inference.tta import predict_probabilities
from ..models import InferenceModel
from .metrics import SegmentationMetrics, confusion_matrix_metric, metrics_from_confusion

__all__ = ["EvaluationResult", "evaluate", "format_table", "save_confusion_png", "write_json"]


@dataclass
class EvaluationResult:
    metrics: SegmentationMetrics
    confusion: Tensor
    class_names: list[str]
    num_images: int
    settings: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics.as_dict(self.class_names), "num_images": self.num_images, **self.settings}

    @property
    def empty_classes(self) -> list[str]:
        """Classes with no ground-truth pixel: their IoU is n/a and the mIoU averages the others."""
        return [name for name, row in zip(self.class_names, self.confusion, strict=True) if int(row.sum()) == 0]


@torch.no_grad()
def evaluate(
    model: InferenceModel,
    dataset: SegmentationDataset,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    optimize: bool = True,
    precision: str = "fp32",
    calibration: Sequence[ImageLike] | None = None,
) -> EvaluationResult:
    """Run ``model`` on every image of ``dataset`` at full resolution and accumulate a confusion matrix.

    Images are normalised with the model's own ``meta.mean``/``meta.std``. A PyTorch model
    runs through :func:`~refineseg.optimize_for_inference` unless ``optimize`` is false (the
    same predictions, faster); any other :class:`~refineseg.models.InferenceModel` (an ONNX
    Runtime session) runs as it is. ``precision`` ``"bf16"`` (or ``"auto"``) runs a PyTorch
    model in bf16 (see :mod:`refineseg.inference.precision`); ``"int8"`` quantizes it with
    ONNX Runtime, calibrated on the ``calibration`` images (take them from the training
    split, never from the split being evaluated).
    """
    if model.num_classes != dataset.num_classes:
        raise ValueError(f"the model predicts {model.num_classes} classes, {dataset.name} has {dataset.num_classes}")
    from ..data import eval_transforms

    transform = eval_transforms(mean=model.meta.mean, std=model.meta.std)
    from ..inference.precision import precision_of
    from ..inference.prepare import prepare_model

    model = prepare_model(model, device=device, precision=precision, optimize=optimize, calibration=calibration)
    confusion = confusion_matrix_metric(dataset.num_classes, dataset.ignore_index).to(device)
    indices: Any = range(len(dataset))
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=f"evaluating {dataset.name}", unit="img")
    for i in indices:
        image, mask = transform(*dataset[i])
        probs = predict_probabilities(model, image[None].to(device), scales=scales, flip=flip, crop_size=crop_size)
        confusion.update(probs.argmax(1), mask[None].to(device))
    matrix = confusion.compute().cpu()
    settings = {"scales": list(scales), "flip": flip, "crop_size": crop_size, "precision": precision_of(model)}
    return EvaluationResult(metrics_from_confusion(matrix), matrix, list(dataset.class_names), len(dataset), settings)


def format_table(result: EvaluationResult) -> str:
    width = max(len(n) for n in result.class_names)
    lines = [f"{'class':<{width}}  IoU (%)"]
    for name, iou in zip(result.class_names, result.metrics.per_class_iou, strict=True):
        lines.append(f"{name:<{width}}  {'n/a' if iou != iou else f'{100 * iou:6.2f}'}")
    m = result.metrics
    lines += [
        "",
        f"mIoU {100 * m.miou:.2f}  pixel acc {100 * m.pixel_accuracy:.2f}  "
        f"mean acc {100 * m.mean_accuracy:.2f}  fwIoU {100 * m.fwiou:.2f}  ({result.num_images} images)",
    ]
    return "\n".join(lines)


def write_json(result: EvaluationResult, path: str | os.PathLike[str], **extra: Any) -> None:
    text = json.dumps({**result.as_dict(), **extra}, indent=2)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text + "\n"))


def save_confusion_png(result: EvaluationResult, path: str | os.PathLike[str], cell: int = 28) -> None:
    """Row-normalised confusion matrix (rows: ground truth) as a labelled heat map."""
    from PIL import Image, ImageDraw

    cm = result.confusion.double()
    rows = cm / cm.sum(1, keepdim=True).clamp(min=1)
    n = len(result.class_names)
    margin = 8 + 7 * max(len(name) for name in result.class_names)
    size = margin + n * cell + 8
    canvas = Image.new("RGB", (size, size + 20), "white")
    draw = ImageDraw.Draw(canvas)
    for r in range(n):
        draw.text((4, margin + r * cell + cell // 3), result.class_names[r], fill="black")
        for c in range(n):
            value = float(rows[r, c])
            shade = int(255 * (1 - value))
            box = (margin + c * cell, margin + r * cell, margin + (c + 1) * cell - 1, margin + (r + 1) * cell - 1)
            draw.rectangle(box, fill=(shade, shade, 255))
            if value >= 0.005:
                draw.text(
                    (box[0] + 3, box[1] + cell // 3), f"{round(100 * value)}", fill="white" if value > 0.5 else "black"
                )
    for c in range(n):
        draw.text((margin + c * cell + 2, margin - 14), result.class_names[c][:4], fill="black")
    draw.text((4, size), "rows: ground truth, columns: prediction, % of row", fill="black")
    atomic_write(Path(path), lambda tmp: canvas.save(tmp, format="PNG"))
