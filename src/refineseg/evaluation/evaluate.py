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
from ..inference.backends import BackendChoice
from ..inference.images import ImageLike
from ..inference.tta import predict_probabilities
from ..models import InferenceModel
from .metrics import SegmentationMetrics, confusion_matrix_metric, metrics_from_confusion

__all__ = ["EvaluationResult", "evaluate", "format_table", "save_confusion_png", "write_json"]


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured on one split.

    Attributes:
        metrics: mIoU, per-class IoU, pixel and mean accuracy, fwIoU.
        confusion: The ``KxK`` confusion matrix of pixel counts, rows the ground truth,
            columns the prediction.
        class_names: One name per class, in class-index order.
        num_images: How many images were evaluated.
        settings: How they were predicted: ``scales``, ``flip``, ``crop_size`` and the
            ``precision`` the model ran in.
    """

    metrics: SegmentationMetrics
    confusion: Tensor
    class_names: list[str]
    num_images: int
    settings: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready results: the metrics (per-class IoU by name), the image count and the settings.

        Returns:
            A flat dict; a NaN IoU (an absent class) is ``None``.
        """
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
    indices: Sequence[int] | None = None,
    backend: BackendChoice | None = None,
) -> EvaluationResult:
    """Run ``model`` on every image of ``dataset`` at full resolution and accumulate a confusion matrix.

    ``indices`` restricts it to those images (a process's share in a distributed evaluation,
    whose confusion matrices add up to the whole split's).

    Images are normalised with the model's own ``meta.mean``/``meta.std``. A PyTorch model
    runs through :func:`~refineseg.optimize_for_inference` unless ``optimize`` is false (the
    same predictions, faster); any other :class:`~refineseg.models.InferenceModel` (an ONNX
    Runtime session) runs as it is. ``precision`` ``"bf16"`` (or ``"auto"``) runs a PyTorch
    model in bf16 (see :mod:`refineseg.inference.precision`); ``"int8"`` quantizes it with
    ONNX Runtime, calibrated on the ``calibration`` images (take them from the training
    split, never from the split being evaluated).

    Args:
        model: A PyTorch model or an exported one; its classes must be the dataset's.
        dataset: The split to evaluate on, images at full resolution.
        scales: Image scales whose predictions are averaged (multi-scale testing).
        flip: Also average the horizontally flipped prediction.
        crop_size: Predict in sliding ``crop_size`` windows instead of on the whole image.
        device: Where the model runs.
        progress: Show a progress bar on stderr.
        optimize: Run a PyTorch model through :func:`~refineseg.optimize_for_inference`.
        precision: ``"fp32"``, ``"bf16"``, ``"int8"`` or ``"auto"``.
        calibration: The images that calibrate int8 (only with ``precision="int8"``).
        indices: Evaluate only these images of ``dataset`` (default: all of them).
        backend: What runs a PyTorch model (``"onnxruntime"``, ``"openvino"``: exported to ONNX
            first), ``"auto"`` (the fastest installed, measured once); ``None`` runs it in
            PyTorch, and an exported model with its own runtime.

    Returns:
        The metrics, the confusion matrix, the class names, the image count and the settings.

    Raises:
        ValueError: If the model and the dataset have different numbers of classes, or the
            precision and calibration do not go together (see
            :func:`~refineseg.inference.prepare.prepare_model`).
    """
    if model.num_classes != dataset.num_classes:
        raise ValueError(f"the model predicts {model.num_classes} classes, {dataset.name} has {dataset.num_classes}")
    from ..data import eval_transforms

    transform = eval_transforms(mean=model.meta.mean, std=model.meta.std)
    from ..inference.precision import precision_of
    from ..inference.prepare import prepare_model

    model = prepare_model(
        model, device=device, precision=precision, optimize=optimize, calibration=calibration, backend=backend
    )
    confusion = confusion_matrix_metric(dataset.num_classes, dataset.ignore_index).to(device)
    chosen = range(len(dataset)) if indices is None else indices
    from .._progress import progress_bar

    for i in progress_bar(chosen, show=progress, desc=f"evaluating {dataset.name}", unit="img"):
        image, mask = transform(*dataset[i])
        probs = predict_probabilities(model, image[None].to(device), scales=scales, flip=flip, crop_size=crop_size)
        confusion.update(probs.argmax(1), mask[None].to(device))
    matrix = confusion.compute().cpu()
    settings = {
        "scales": list(scales),
        "flip": flip,
        "crop_size": crop_size,
        "precision": precision_of(model),
        "backend": getattr(model, "backend", "pytorch"),  # what ran it; exported models name their runtime
    }
    return EvaluationResult(metrics_from_confusion(matrix), matrix, list(dataset.class_names), len(chosen), settings)


def format_table(result: EvaluationResult) -> str:
    """The per-class IoU table and the summary metrics, as plain text.

    Args:
        result: What :func:`evaluate` returned.

    Returns:
        One line per class (IoU in percent, ``n/a`` for an absent class), then the mIoU,
        pixel accuracy, mean accuracy and fwIoU.
    """
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
    """Write :meth:`EvaluationResult.as_dict` as indented JSON, atomically.

    Args:
        result: What :func:`evaluate` returned.
        path: The JSON file to write.
        **extra: More top-level keys (the weights, the dataset, ...); they override the result's.
    """
    text = json.dumps({**result.as_dict(), **extra}, indent=2)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text + "\n"))


def save_confusion_png(result: EvaluationResult, path: str | os.PathLike[str]) -> Path:
    """The row-normalised confusion matrix as a labelled heat map PNG, written atomically.

    Rows are the ground truth, columns the prediction, each cell the percentage of its row;
    the title gives the mIoU and the pixel accuracy. Needs matplotlib
    (``pip install 'refineseg[plot]'``).

    Args:
        result: What :func:`evaluate` returned.
        path: The PNG file to write.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    import numpy as np

    from .._plot import new_figure, require_matplotlib, save_png

    require_matplotlib("drawing the confusion matrix")
    counts = result.confusion.detach().cpu().double().numpy()
    totals = counts.sum(1, keepdims=True)
    percent = 100 * counts / np.maximum(totals, 1)
    names = list(result.class_names)
    n = len(names)
    # cells shrink with many classes (ADE20K's 150), and the labels with them, so the figure stays printable
    cell = min(0.45, max(0.08, 11.0 / max(n, 1)))
    font = min(9.0, cell * 72 * 0.75)
    label = max(len(name) for name in names) * font * 0.6 / 72 + 0.7
    figure = new_figure(n * cell + label + 1.4, n * cell + label + 0.9)
    ax = figure.add_subplot()
    image = ax.imshow(percent, cmap="Blues", vmin=0.0, vmax=100.0, interpolation="nearest")
    rows = [f"{name} (no pixels)" if totals[i, 0] == 0 else name for i, name in enumerate(names)]
    ax.set_xticks(range(n), names, rotation=60, ha="right", rotation_mode="anchor", fontsize=font)
    ax.set_yticks(range(n), rows, fontsize=font)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    if n <= 40:  # the numbers stay legible down to about this many classes
        for r, c in zip(*np.nonzero(percent >= 0.5), strict=True):
            value = percent[r, c]
            colour = "white" if value > 50 else "black"
            ax.text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=font * 0.85, color=colour)
    figure.colorbar(image, ax=ax, shrink=0.8, label="% of the ground-truth row")
    m = result.metrics
    scores = f"mIoU {100 * m.miou:.2f}%, pixel acc {100 * m.pixel_accuracy:.2f}%"
    ax.set_title(f"confusion matrix, {result.num_images} images: {scores}", fontsize=10)
    return save_png(figure, path)
