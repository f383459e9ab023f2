"""The one home of applying weights to a model: ``load_model``, and the builders' ``weights=``.

:func:`apply_weights` reads weights, checks them against the builder and its explicit
arguments, builds the model and loads the tensors. Builders reach it through
:mod:`refineseg._weights_hook` (``refineseg/__init__.py`` installs it there), because
:mod:`refineseg.models` sits below this package and never imports it. :func:`load_model`
rebuilds a model from its weights alone; like ``Segmenter.from_pretrained``, it may download a
published checkpoint, which the builders only read (:mod:`.sources`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from ..models.base import SegmentationModel
from ..models.registry import get_model
from .io import WeightsFile
from .sources import read_weights

__all__ = ["apply_weights", "load_model"]


def apply_weights(
    arch: str,
    weights: str | os.PathLike[str] | WeightsFile,
    *,
    num_classes: int | None,
    options: dict[str, Any],
    build: Callable[[int, dict[str, Any]], SegmentationModel],
) -> SegmentationModel:
    """Build ``arch``'s model with the weights' class count and options, and load the tensors.

    The file's options are used where the caller gives none; an explicit argument that
    contradicts the file is an error rather than a silent mismatch (a builder default never
    is). The encoder's ImageNet weights are irrelevant and not loaded.

    Args:
        arch: The builder's registered name; the weights must have been saved from it.
        weights: A weights file, a catalogue name or ``hf://`` repository (read, not
            downloaded), or a file already read.
        num_classes: The caller's class count, or ``None`` for the file's.
        options: The caller's explicit architecture options.
        build: ``build(num_classes, options)``: the builder's model, its defaults under ``options``.

    Returns:
        The model, with the file's tensors and meta.

    Raises:
        ValueError: The file holds another architecture or contradicts an explicit argument.
        WeightsError: The file cannot be read or its tensors do not fit the model.
        FileNotFoundError: An unknown name, or catalogue weights that are not here.
    """
    file = read_weights(weights)
    if file.arch != arch:
        raise ValueError(f"{file.source}: holds a {file.arch!r} model, not {arch!r}")
    saved = dict(file.arch_kwargs)
    saved_classes = saved.pop("num_classes")
    conflicts = [k for k, v in options.items() if k in saved and saved[k] != v]
    if num_classes is not None and num_classes != saved_classes:
        conflicts.append("num_classes")
    if conflicts:
        raise ValueError(f"{file.source}: saved with different {', '.join(sorted(conflicts))}")
    model = build(saved_classes, {**saved, **options})
    file.load_into(model)
    return model


def load_model(weights: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> SegmentationModel:
    """Rebuild a model from its weights file alone, in eval mode.

    Args:
        weights: A ``.safetensors`` file, the name of shipped weights (``"camvid"``) or of a
            published checkpoint, which is downloaded and converted on first use when it is
            available, or a Hugging Face Hub repository (``hf://ORG/NAME[@REVISION]``).
        device: Where to put the model.

    Returns:
        The model, with the file's weights and meta, in eval mode on ``device``.

    Raises:
        WeightsError: The file cannot be read or does not fit its architecture.
        FileNotFoundError: An unknown name, or catalogue weights that are not here and cannot
            be downloaded.
    """
    file = read_weights(weights, download=True)
    model = get_model(file.arch, weights=file)
    return model.to(device).eval()
