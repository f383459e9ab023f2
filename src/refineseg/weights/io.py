"""The refineseg weights file: one safetensors file that can rebuild its model alone.

Tensors are the model's ``state_dict``; the safetensors metadata (string to string) holds
``format``, ``format_version``, ``arch`` and JSON-encoded ``arch_kwargs``, ``class_names``,
``palette``, ``mean``, ``std`` and ``provenance``. safetensors holds no code, so loading a
file from anywhere is safe.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .._io import atomic_write
from ..models.base import ModelMeta, SegmentationModel

__all__ = ["FORMAT", "WeightsError", "WeightsFile", "read_weights_file", "save_model", "strict_load"]

FORMAT = "refineseg"
FORMAT_VERSION = "1"


class WeightsError(ValueError):
    """A weights file that cannot be read, or whose tensors do not fit the model."""


@dataclass
class WeightsFile:
    """A weights file as read by :func:`read_weights_file`: what is needed to rebuild its model.

    Attributes:
        source: Where it was read from, for error messages.
        arch: The refineseg builder that built the model (``refinenet_efficientnet_lite0``, ...).
        arch_kwargs: The builder's keyword arguments beyond the defaults.
        meta: Class names, palette, normalisation and provenance.
        state_dict: The model's tensors.
    """

    source: str
    arch: str
    arch_kwargs: dict[str, Any]
    meta: ModelMeta
    state_dict: dict[str, Tensor] = field(repr=False)

    def load_into(self, model: SegmentationModel) -> None:
        """Load the tensors (all or none, see :func:`strict_load`) and the meta into ``model``.

        Args:
            model: A model built by ``arch`` with ``arch_kwargs``.

        Raises:
            WeightsError: The tensors do not fit the model.
        """
        strict_load(model, self.state_dict, source=self.source)
        model.meta = self.meta


def strict_load(model: nn.Module, state_dict: dict[str, Tensor], *, source: str) -> None:
    """Load every tensor or none: one error lists missing, unexpected and mis-shaped keys.

    Args:
        model: The model to load into.
        state_dict: The tensors, by ``state_dict`` key.
        source: Where they come from, for the error message.

    Raises:
        WeightsError: Keys are missing or unexpected, or shapes differ from the model's.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if state_dict[k].shape != expected[k].shape
    )
    problems = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)):
        if items:
            shown = ", ".join(items[:10]) + (f", ... ({len(items) - 10} more)" if len(items) > 10 else "")
            problems.append(f"{len(items)} {title}: {shown}")
    if problems:
        raise WeightsError(f"{source}: weights do not fit the model: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def save_model(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (built by a refineseg builder) to ``path`` atomically.

    Args:
        model: A model built by a refineseg builder (it has ``arch`` and ``arch_kwargs``).
        path: The ``.safetensors`` file to write.
        provenance: Notes merged into the meta's provenance (dataset, recipe, ...).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: ``model`` was not built by a refineseg builder.
        WeightsError: A tensor holds a NaN or infinite value (the message names it); nothing
            is written.
    """
    from safetensors.torch import save_file

    arch = getattr(model, "arch", None)
    if arch is None:
        raise ValueError("save_model needs a model built by a refineseg builder (get_model or refinenet_*)")
    path = Path(path)
    meta = model.meta
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": json.dumps(model.arch_kwargs),
    }
    fields = meta.to_json()
    fields["provenance"] = {**meta.provenance, **(provenance or {})}
    info.update({key: json.dumps(value) for key, value in fields.items()})
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    # a diverged model must never become a file that loads and predicts garbage without a word
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        raise WeightsError(f"{path}: not written: tensor {broken[0]}{more} holds NaN or infinite values")
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=info))


def read_weights_file(path: Path) -> WeightsFile:
    """Read and validate the weights file at ``path`` (names are resolved by :mod:`.sources`).

    Args:
        path: A refineseg ``.safetensors`` file.

    Returns:
        The file's architecture, meta and tensors.

    Raises:
        WeightsError: No such file, not a readable safetensors file, not a refineseg weights
            file, another format version, or corrupt metadata.
    """
    from safetensors import safe_open

    source = str(path)
    if not path.is_file():
        raise WeightsError(f"{source}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            info = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except Exception as exc:
        raise WeightsError(
            f"{source}: not a readable safetensors weights file ({exc}); "
            "third-party .pth checkpoints must be converted first with 'refineseg convert'"
        ) from None
    if info.get("format") != FORMAT or "arch" not in info:
        raise WeightsError(f"{source}: a safetensors file, but not a refineseg weights file (no 'arch' metadata)")
    if info.get("format_version") != FORMAT_VERSION:
        raise WeightsError(
            f"{source}: weights format version {info.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    try:
        arch_kwargs = json.loads(info["arch_kwargs"])
        meta = ModelMeta.from_json({key: json.loads(info[key]) for key in ModelMeta().to_json() if key in info})
    except (KeyError, ValueError, TypeError) as exc:
        raise WeightsError(f"{source}: corrupt refineseg metadata ({exc})") from None
    return WeightsFile(source, info["arch"], arch_kwargs, meta, state)
