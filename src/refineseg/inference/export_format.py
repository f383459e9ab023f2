"""The contract of an exported file, shared by the exporters and the runtimes that read them.

An exported file must be usable without refineseg's model code, yet still know what its
outputs mean, so the model's meta (class names, palette, normalisation) travels inside it as
JSON: in the ONNX ``metadata_props`` under ``refineseg``, in a ``torch.export`` archive
(``.pt2``) and in a TorchScript archive as the extra file ``refineseg.json``. This module
says how; :mod:`.export` writes such files and :mod:`.runtime` runs them, and neither needs
the other for it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from ..models.base import ModelMeta

if TYPE_CHECKING:
    from ..models.base import SegmentationModel

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "EXPORT_SUFFIXES",
    "METADATA_KEY",
    "PRECISION_KEY",
    "TORCHSCRIPT_DEPRECATION",
    "TORCHSCRIPT_METADATA_FILE",
    "TORCH_EXPORT_METADATA_FILE",
    "ExportFormat",
    "ExportedMeta",
    "export_format_for",
    "export_metadata",
    "quiet_jit",
    "read_export_metadata",
]

ExportFormat = Literal["onnx", "torch_export", "torchscript"]

METADATA_KEY = "refineseg"  # ONNX metadata_props key
PRECISION_KEY = "refineseg.precision"  # ONNX metadata_props key of a quantized file: "int8"
TORCHSCRIPT_METADATA_FILE = "refineseg.json"  # TorchScript extra file
TORCH_EXPORT_METADATA_FILE = "refineseg.json"  # torch.export (.pt2) extra file: the same JSON as TorchScript's
EXPORT_FORMAT_VERSION = 1
TORCHSCRIPT_DEPRECATION = (
    "TorchScript export is deprecated (PyTorch deprecates torch.jit in favour of torch.export); "
    "write a .pt2 file (torch.export) instead"
)
EXPORT_SUFFIXES: dict[str, ExportFormat] = {
    ".onnx": "onnx",
    ".pt2": "torch_export",
    ".pt": "torchscript",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
}


@dataclass(frozen=True)
class ExportedMeta:
    """The meta an exported file carries: enough to use it without refineseg's model code.

    Attributes:
        meta: Class names, palette and normalisation.
        arch: The architecture name, or ``None`` if the model had none.
        num_classes: The number of output channels (classes).
    """

    meta: ModelMeta
    arch: str | None
    num_classes: int


def export_format_for(path: str | os.PathLike[str]) -> ExportFormat:
    """The format an output or input file name implies (``.onnx``; ``.pt2``; ``.pt``, ``.ts``, ``.torchscript``).

    Args:
        path: The file name; only its suffix (any case) counts.

    Returns:
        ``onnx``, ``torch_export`` or ``torchscript``.

    Raises:
        ValueError: The suffix is none of :data:`EXPORT_SUFFIXES`.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        known = ", ".join(EXPORT_SUFFIXES)
        raise ValueError(f"{path}: cannot tell the export format from the suffix {suffix!r}; expected one of {known}")
    return EXPORT_SUFFIXES[suffix]


def export_metadata(model: SegmentationModel) -> str:
    """The model's meta as the JSON stored in exported files (encoded as weights files encode it).

    Args:
        model: The model being exported.

    Returns:
        The JSON text: format version, ``arch``, ``num_classes`` and the meta's fields.
    """
    meta = model.meta
    info = {
        "format": "refineseg-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "arch": getattr(model, "arch", None),
        "num_classes": int(model.num_classes),
        **meta.to_json(),
    }
    return json.dumps(info, default=str)


def read_export_metadata(text: str | bytes, *, source: str) -> ExportedMeta:
    """Parse :func:`export_metadata`'s JSON.

    Args:
        text: The stored JSON.
        source: What it was read from (a file name), for the error message.

    Returns:
        The meta, architecture and number of classes.

    Raises:
        ValueError: ``text`` is not that JSON (or another format version); the message names
            ``source``.
    """
    try:
        info = json.loads(text)
        if not isinstance(info, dict):
            raise TypeError("not a JSON object")
        version = info.get("format_version")
        if version != EXPORT_FORMAT_VERSION:
            raise ValueError(f"format version {version!r}, expected {EXPORT_FORMAT_VERSION}")
        num_classes = info["num_classes"]
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes {num_classes!r}")
        meta = ModelMeta.from_json(info)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{source}: corrupt refineseg export metadata ({exc})") from None
    return ExportedMeta(meta, info.get("arch"), num_classes)


@contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence what TorchScript always says: it is deprecated, and traces may not generalise.

    The latter is exactly what the two-size check verifies, so the warning adds nothing.

    Yields:
        Nothing; the warnings are filtered inside the ``with`` block.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield
