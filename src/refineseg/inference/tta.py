"""Class probabilities for an image batch: single scale, multi-scale with flips (test-time
augmentation), sliding windows. Prediction and evaluation both run models through these."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["OFFICIAL_SCALES", "predict_probabilities", "sliding_window_probabilities"]

# the RefineNet evaluation protocol averages softmax over these image scales
OFFICIAL_SCALES = (0.4, 0.6, 0.8, 1.0, 1.2)


def sliding_window_probabilities(
    model: Callable[[Tensor], Tensor], image: Tensor, crop_size: int, stride: int | None = None
) -> Tensor:
    """Softmax over overlapping ``crop_size`` windows, averaged where they overlap.

    Memory stays bounded by one window whatever the image size. Images smaller than a
    window are padded with zeros (the normalised mean colour) and the padding cropped off.

    Args:
        model: Maps a normalised ``Nx3xhxw`` batch to logits at the same size.
        image: A normalised ``Nx3xHxW`` batch.
        crop_size: The side of the square windows.
        stride: The step between windows (default: two thirds of ``crop_size``).

    Returns:
        The averaged class probabilities, ``NxCxHxW``.
    """
    stride = stride or max(1, crop_size * 2 // 3)
    batch, _, height, width = image.shape
    pad_h, pad_w = max(0, crop_size - height), max(0, crop_size - width)
    padded = F.pad(image, (0, pad_w, 0, pad_h))
    full_h, full_w = padded.shape[-2:]
    rows = _starts(full_h, crop_size, stride)
    cols = _starts(full_w, crop_size, stride)
    total: Tensor | None = None
    counts = torch.zeros((1, 1, full_h, full_w), device=image.device)
    for top in rows:
        for left in cols:
            window = padded[..., top : top + crop_size, left : left + crop_size]
            probs = model(window).softmax(1)
            if total is None:
                total = torch.zeros((batch, probs.shape[1], full_h, full_w), device=image.device)
            total[..., top : top + crop_size, left : left + crop_size] += probs
            counts[..., top : top + crop_size, left : left + crop_size] += 1
    assert total is not None
    return (total / counts)[..., :height, :width]


def _starts(length: int, window: int, stride: int) -> list[int]:
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    return [*starts, length - window]


@torch.no_grad()
def predict_probabilities(
    model: Callable[[Tensor], Tensor],
    image: Tensor,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop_size: int | None = None,
) -> Tensor:
    """Average class probabilities over ``scales`` (and horizontal flips) at the image's size.

    Args:
        model: Maps a normalised ``Nx3xhxw`` batch to logits at the same size.
        image: A normalised ``Nx3xHxW`` batch of same-size images.
        scales: The factors the image is resized by, e.g. :data:`OFFICIAL_SCALES`.
        flip: Also run each scale mirrored horizontally.
        crop_size: If set, each scaled image larger than the crop is processed by sliding
            windows of this size.

    Returns:
        The averaged class probabilities, ``NxCxHxW``.

    Raises:
        ValueError: ``image`` is not an ``Nx3xHxW`` tensor.
    """
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"expected images as an Nx3xHxW tensor, got shape {tuple(image.shape)}")
    height, width = image.shape[-2:]
    total: Tensor | None = None
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = image if scale == 1.0 else F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        for mirrored in (False, True) if flip else (False,):
            x = scaled.flip(-1) if mirrored else scaled
            if crop_size is not None and max(x.shape[-2:]) > crop_size:
                probs = sliding_window_probabilities(model, x, crop_size)
            else:
                probs = model(x).softmax(1)
            if mirrored:
                probs = probs.flip(-1)
            if probs.shape[-2:] != (height, width):
                probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
            total = probs if total is None else total + probs
    assert total is not None
    return total / (len(scales) * (2 if flip else 1))
