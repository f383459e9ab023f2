"""How unsure a model is of its segmentation: per-pixel uncertainty, per-image confidence, ranking.

Active learning labels first the images the model is least sure of. Two measures of a pixel's
softmax probabilities ``p`` over ``C`` classes, both in [0, 1], higher = less sure:

* ``entropy``: ``-sum_c p_c log p_c / log C``, the normalised Shannon entropy: 0 for a one-hot
  pixel, 1 for a uniform one; it counts every class.
* ``margin``: ``1 - (p_top1 - p_top2)``: 0 when the first class has all the probability, 1 when
  the first two are tied; it looks only at the two classes the pixel is torn between.

An image's uncertainty is the mean over its pixels; :func:`confidence` is one minus that, the
score a Label Studio ML backend gives its predictions (Label Studio's uncertainty sampling
shows the lowest score first). :func:`rank_images` orders images not yet labelled, most
uncertain first, and :func:`write_ranking_csv` writes that order for ``refineseg rank``.
"""

from __future__ import annotations

import csv
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._io import atomic_write
from .._progress import progress_bar
from .images import ImageReadError, read_image_file
from .segmenter import Segmenter

__all__ = ["MEASURES", "RankedImage", "confidence", "rank_images", "uncertainty_map", "write_ranking_csv"]

MEASURES = ("entropy", "margin")
"""The uncertainty measures: ``"entropy"`` (normalised Shannon entropy) and ``"margin"`` (one minus the top-2 gap)."""


def _check_measure(by: str) -> None:
    if by not in MEASURES:
        raise ValueError(f"unknown uncertainty measure {by!r}: choose from {', '.join(MEASURES)}")


def _as_probabilities(probabilities: Tensor | np.ndarray) -> Tensor:
    """``probabilities`` as a float tensor (float64 stays float64, anything else becomes float32)."""
    probs = torch.as_tensor(probabilities)
    if probs.dim() not in (3, 4):
        raise ValueError(f"expected CxHxW or NxCxHxW probabilities, got shape {tuple(probs.shape)}")
    return probs if probs.dtype == torch.float64 else probs.float()


def uncertainty_map(probabilities: Tensor | np.ndarray, by: str = "entropy") -> Tensor:
    """Per-pixel uncertainty of softmax probabilities, in [0, 1], higher = less sure.

    ``entropy`` is ``-sum_c p log p / log C`` (a class of probability 0 adds 0); ``margin`` is
    ``1 - (p_top1 - p_top2)``. A model with one class is never unsure: zeros.

    Args:
        probabilities: ``NxCxHxW`` (or ``CxHxW``) softmax probabilities, a tensor or an array.
        by: The measure, one of :data:`MEASURES`.

    Returns:
        ``NxHxW`` (or ``HxW``) uncertainties, float32 (float64 for float64 input), on the
        input's device.

    Raises:
        ValueError: ``by`` is not one of :data:`MEASURES`, or the input is not 3-d or 4-d.
    """
    _check_measure(by)
    probs = _as_probabilities(probabilities)
    axis = probs.dim() - 3  # the class axis
    classes = probs.shape[axis]
    if classes <= 1:
        return torch.zeros_like(probs.sum(axis))
    if by == "entropy":
        # clamped before the log: a probability of 0 gives 0 * log(tiny) = 0, never 0 * -inf = nan
        tiny = torch.finfo(probs.dtype).tiny
        plogp = probs.clamp(min=tiny).log_().mul_(probs)  # one CxHxW temporary
        result = plogp.sum(axis).neg_().div_(math.log(classes))
    else:
        top2 = probs.topk(2, dim=axis).values
        result = 1.0 - (top2.select(axis, 0) - top2.select(axis, 1))
    return result.clamp_(0.0, 1.0)  # rounding (or probabilities summing slightly off 1) stays in range


def confidence(probabilities: Tensor | np.ndarray, by: str = "entropy") -> Tensor | float:
    """One minus the mean uncertainty of each image: how sure the model is of it, in [0, 1].

    This is the score for a Label Studio prediction: its uncertainty sampling shows the tasks
    with the lowest score first.

    Args:
        probabilities: ``NxCxHxW`` (or ``CxHxW``) softmax probabilities, a tensor or an array.
        by: The measure, one of :data:`MEASURES`.

    Returns:
        A float for ``CxHxW`` input; a length-``N`` tensor, on the input's device, for ``NxCxHxW``.

    Raises:
        ValueError: ``by`` is not one of :data:`MEASURES`, or the input is not 3-d or 4-d.
    """
    uncertainty = uncertainty_map(probabilities, by)
    if uncertainty.dim() == 2:
        return 1.0 - float(uncertainty.mean())
    return 1.0 - uncertainty.flatten(1).mean(1)


@dataclass(frozen=True)
class RankedImage:
    """One image of a ranking, with what the model made of it.

    Attributes:
        path: The image file.
        score: Its mean uncertainty by the ranking's measure, in [0, 1]: higher = label sooner.
        mean_entropy: Its mean normalised entropy, in [0, 1].
        mean_margin: Its mean gap between the two most probable classes, in [0, 1] (higher =
            surer; the ``margin`` score is one minus it).
        class_shares: The share of its pixels predicted as each class, for every class of the
            model, in the model's class order.
    """

    path: Path
    score: float
    mean_entropy: float
    mean_margin: float
    class_shares: dict[str, float]


def _summaries(
    labels: Sequence[np.ndarray], probs: Tensor, class_names: Sequence[str]
) -> list[tuple[float, float, dict[str, float]]]:
    """Mean entropy, mean top-2 gap and class shares of each image (its labels, ``NxCxHxW`` probabilities)."""
    entropy = uncertainty_map(probs, "entropy").flatten(1).mean(1).tolist()
    gap = (1.0 - uncertainty_map(probs, "margin").flatten(1).mean(1)).tolist()
    results = []
    for i, image_labels in enumerate(labels):
        counts = np.bincount(image_labels.ravel(), minlength=len(class_names)).tolist()
        total = max(image_labels.size, 1)
        shares = {name: counts[c] / total for c, name in enumerate(class_names)}
        results.append((float(entropy[i]), float(gap[i]), shares))
    return results


def rank_images(
    segmenter: Segmenter,
    paths: Sequence[str | os.PathLike[str]],
    *,
    by: str = "entropy",
    batch_size: int = 4,
    progress: bool = True,
    on_error: Callable[[str], None] | None = None,
) -> list[RankedImage]:
    """Segment each image and order them by the model's uncertainty, the most uncertain first.

    Images are read one batch ahead on a thread and only a few numbers per image are kept, so
    memory stays a few batches whatever the number of images.

    Args:
        segmenter: The model, as it will be trained further on the labels.
        paths: Image files.
        by: The measure that orders them, one of :data:`MEASURES`.
        batch_size: Images of one size segmented together.
        progress: Show a progress bar.
        on_error: Called with one line naming each image that cannot be read, which is then
            left out; ``None`` raises instead.

    Returns:
        The images by ``score``, highest first; equal scores by path.

    Raises:
        ValueError: ``by`` is not one of :data:`MEASURES` or ``batch_size`` is below 1.
        ImageReadError: An image cannot be read and ``on_error`` is ``None``.
    """
    _check_measure(by)
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    files = [Path(p) for p in paths]
    ranked: list[RankedImage] = []
    batch: list[tuple[Path, np.ndarray]] = []
    bar = progress_bar(total=len(files), show=progress, unit="image", desc="ranking")

    def flush() -> None:
        if not batch:
            return
        # the labels predict gives (arg-max of the logits), so the shares are those of its label images
        labels, probs = segmenter.batch_labels_and_probabilities([rgb for _, rgb in batch])
        summaries = _summaries(labels, probs, segmenter.class_names)
        for (path, _), (entropy, gap, shares) in zip(batch, summaries, strict=True):
            score = entropy if by == "entropy" else 1.0 - gap
            ranked.append(RankedImage(path, score, entropy, gap, shares))
        bar.update(len(batch))
        batch.clear()

    def read(path: Path) -> np.ndarray:
        return read_image_file(path, max_pixels=segmenter.max_pixels)

    lookahead = 2 * batch_size
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="read") as reader:
            reads: deque[Future[np.ndarray]] = deque(reader.submit(read, p) for p in files[:lookahead])
            for index, path in enumerate(files):
                future = reads.popleft()
                if index + lookahead < len(files):
                    reads.append(reader.submit(read, files[index + lookahead]))
                try:
                    rgb = future.result()
                except ImageReadError as exc:
                    if on_error is None:
                        for pending in reads:
                            pending.cancel()
                        raise
                    on_error(str(exc))
                    bar.update(1)
                    continue
                if batch and (rgb.shape != batch[0][1].shape or len(batch) >= batch_size):
                    flush()
                batch.append((path, rgb))
            flush()
    finally:
        bar.close()
    ranked.sort(key=lambda r: (-r.score, str(r.path)))
    return ranked


def write_ranking_csv(
    ranking: Sequence[RankedImage], path: str | os.PathLike[str], *, class_names: Sequence[str] | None = None
) -> None:
    """Write a ranking as CSV, atomically: a reader never sees half a file.

    The columns are ``rank`` (1 first), ``image``, ``score``, ``mean_entropy``, ``mean_margin``
    and ``share_<class>`` for each class, numbers with 6 decimals, one row per image in the
    ranking's order.

    Args:
        ranking: The images, as :func:`rank_images` orders them.
        path: The CSV file (its folder is created if missing).
        class_names: The classes' names for the ``share_`` columns; ``None`` takes those of the
            ranking's first image (no ``share_`` columns for an empty ranking).
    """
    names = list(ranking[0].class_shares) if ranking else []
    if class_names is not None:
        names = list(class_names)
    header = ["rank", "image", "score", "mean_entropy", "mean_margin", *(f"share_{name}" for name in names)]

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for rank, image in enumerate(ranking, start=1):
                numbers = [image.score, image.mean_entropy, image.mean_margin]
                numbers += [image.class_shares.get(name, 0.0) for name in names]
                writer.writerow([rank, str(image.path), *(f"{x:.6f}" for x in numbers)])

    atomic_write(path, write)
