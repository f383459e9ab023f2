"""Several encoders, each on its own rescaled copy of the image (the 2-scale RefineNet)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .base import Backbone

__all__ = ["MultiScaleBackbone"]


class MultiScaleBackbone(Backbone):
    """Runs ``encoders[i]`` on the image resized by ``image_scales[i]``; concatenates features.

    The encoders do not share weights (the paper's 4-cascaded 2-scale RefineNet uses two
    independent ResNets at scales 1.2 and 0.6). Feature ``j`` of encoder ``i`` keeps its
    reduction; its scale is ``image_scales[i]``.

    Args:
        encoders: The encoders, one per image scale.
        image_scales: The factor each encoder's copy of the image is resized by.

    Raises:
        ValueError: If there is not exactly one scale per encoder, or no encoder.
    """

    def __init__(self, encoders: Sequence[Backbone], image_scales: Sequence[float]) -> None:
        super().__init__()
        if len(encoders) != len(image_scales) or not encoders:
            raise ValueError("need one image scale per encoder")
        self.encoders = nn.ModuleList(encoders)
        self.image_scales = tuple(float(s) for s in image_scales)
        self.channels = tuple(c for e in encoders for c in e.channels)
        self.reductions = tuple(r for e in encoders for r in e.reductions)
        self._scales = tuple(s for e, s in zip(encoders, self.image_scales, strict=True) for _ in e.channels)

    @property
    def scales(self) -> tuple[float, ...]:
        """The image scale of each feature: its encoder's ``image_scales`` entry."""
        return self._scales

    def forward(self, x: Tensor) -> list[Tensor]:
        """Run every encoder on its rescaled copy of the image.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            The features of every encoder, in encoder order, each encoder's finest first.
        """
        features: list[Tensor] = []
        height, width = x.shape[-2:]
        for encoder, scale in zip(self.encoders, self.image_scales, strict=True):
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            scaled = x if scale == 1.0 else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            features.extend(encoder(scaled))
        return features
