"""``load_model``: a model rebuilt from a weights file, shipped weights or a published checkpoint."""

from __future__ import annotations

import os

import torch

from ..models.base import SegmentationModel
from ..models.registry import get_model
from .io import read_weights
from .published import PUBLISHED_WEIGHTS

__all__ = ["load_model"]


def load_model(weights: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> SegmentationModel:
    """Rebuild a model from its weights file alone, in eval mode.

    ``weights`` is a ``.safetensors`` file, the name of shipped weights (``"camvid"``) or of a
    published checkpoint, which is downloaded and converted on first use when it is available.
    """
    if isinstance(weights, str) and weights in PUBLISHED_WEIGHTS:  # a catalogue name, as weights.io reads it
        from .download import fetch_published_weights

        weights = fetch_published_weights(weights)
    file = read_weights(weights)
    model = get_model(file.arch, weights=file)
    return model.to(device).eval()
