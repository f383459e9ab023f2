"""Joint image+mask augmentation with ``torchvision.transforms.v2``.

The published recipes: random scale 0.5-2.0, random crop padded where the scaled image is
smaller than the crop (image with the mean colour, so padding normalises to zero; mask
with the ignore label, so padding never counts), horizontal flip. v2 resizes masks with
nearest-neighbour and leaves them out of normalisation by itself. Randomness comes from
torch's generator: seeding it (Lightning seeds every dataloader worker) reproduces a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..models.base import IMAGENET_MEAN, IMAGENET_STD
from .datasets import IGNORE_INDEX

__all__ = ["RandomScale", "eval_transforms", "train_transforms"]


class RandomScale(v2.Transform):
    """Resize by a factor drawn uniformly from ``scale_range`` (the same for image and mask).

    Args:
        scale_range: ``(low, high)`` bounds of the factor.

    Raises:
        ValueError: Unless ``0 < low <= high``.
    """

    def __init__(self, scale_range: tuple[float, float] = (0.5, 2.0)) -> None:
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must be 0 < low <= high, got {scale_range}")
        self.scale_range = (float(low), float(high))

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw the factor once for all inputs of a call.

        Args:
            flat_inputs: The call's inputs (image and mask).

        Returns:
            ``{"size": [height, width]}``, the scaled size (at least 1x1).
        """
        height, width = v2.query_size(flat_inputs)
        low, high = self.scale_range
        factor = low + (high - low) * torch.rand(()).item()
        return {"size": [max(1, round(height * factor)), max(1, round(width * factor))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Resize one input (masks with nearest neighbour, as v2 does for them).

        Args:
            inpt: An image or mask.
            params: From :meth:`make_params`.

        Returns:
            The resized input.
        """
        return self._call_kernel(TF.resize, inpt, size=params["size"], antialias=True)


def _normalize(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True), v2.Normalize(mean, std)]


def train_transforms(
    crop_size: int | tuple[int, int],
    *,
    scale_range: tuple[float, float] = (0.5, 2.0),
    flip: bool = True,
    color_jitter: float = 0.0,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    ignore_index: int = IGNORE_INDEX,
) -> v2.Compose:
    """Scale, crop (padding as above), flip, jitter colours, then to float and normalise.

    Args:
        crop_size: Crop size, ``size`` or ``(height, width)``.
        scale_range: Bounds of the random scale factor.
        flip: Whether to flip horizontally with probability 0.5.
        color_jitter: Strength of the random brightness, contrast and saturation factors
            (each drawn from ``[1 - s, 1 + s]``; v2 leaves masks alone); 0 for none.
        mean: Normalisation mean (RGB in [0, 1]); also the padding colour.
        std: Normalisation standard deviation.
        ignore_index: The mask value of padding.

    Returns:
        A transform called as ``transform(image, mask)``.
    """
    fill = {tv_tensors.Image: tuple(round(255 * m) for m in mean), tv_tensors.Mask: ignore_index}
    steps: list[v2.Transform] = []
    if color_jitter:
        # before the crop, so that its padding stays the mean colour (zero once normalised)
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    steps += [RandomScale(scale_range), v2.RandomCrop(crop_size, pad_if_needed=True, fill=fill)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps + _normalize(mean, std))


def eval_transforms(*, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> v2.Compose:
    """Only to float and normalise: evaluation sees the full image.

    Args:
        mean: Normalisation mean (RGB in [0, 1]).
        std: Normalisation standard deviation.

    Returns:
        A transform called as ``transform(image, mask)``.
    """
    return v2.Compose(_normalize(mean, std))
