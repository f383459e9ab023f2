"""``load_model``: a model rebuilt from a weights file, shipped weights or a published checkpoint."""

from __future__ import annotations

import os

import torch

from ..models.base import SegmentationModel
from ..models.registry import get_model
from .catalogue import CATALOGUE, PublishedWeights
from .io import read_weights

__all__ = ["load_model"]


def load_model(weights: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> SegmentationModel:
    """Rebuild a model from its weights file alone, in eval mode.

    Args:
        weights: A ``.safetensors`` file, the name of shipped weights (``"camvid"``) or of a
            published checkpoint, which is downloaded and converted on first use when it is
            available.
        device: Where to put the model.

    Returns:
        The model, with the file's weights and meta, in eval mode on ``device``.

    Raises:
        WeightsError: The file cannot be read or does not fit its architecture.
        FileNotFoundError: An unknown name, or catalogue weights that are not here and cannot
            be downloaded.
    """
    if isinstance(weights, str) and isinstance(CATALOGUE.get(weights), PublishedWeights):  # as weights.io reads it
        from .download import fetch_published_weights

        weights = fetch_published_weights(weights)
    file = read_weights(weights)
    model = get_model(file.arch, weights=file)
    return model.to(device).eval()
