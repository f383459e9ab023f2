"""The one place that decides, from a weights argument, what runs it.

A name or a ``.safetensors`` file is a refineseg model rebuilt in PyTorch; ``.onnx``, ``.pt2``
and TorchScript files are exported programs, opened by :mod:`.runtime`. ``predict``,
``evaluate``, ``serve`` and :class:`~refineseg.inference.segmenter.Segmenter` all ask here, so
a suffix means the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .export_format import EXPORT_SUFFIXES, ExportFormat

if TYPE_CHECKING:
    from ..models import InferenceModel

__all__ = ["BACKENDS", "Backend", "default_backend", "exported_format", "open_model"]

Backend = Literal["pytorch", "onnxruntime"]
BACKENDS: tuple[Backend, ...] = ("pytorch", "onnxruntime")


def exported_format(weights: str | os.PathLike[str]) -> ExportFormat | None:
    """The export format a weights argument names by its suffix.

    Args:
        weights: A weights name, a weights file or an exported file.

    Returns:
        ``"onnx"``, ``"torch_export"`` or ``"torchscript"`` for an exported file; ``None`` for a
        catalogue name, a refineseg weights file or a Hub repository (``hf://ORG/NAME``, whose
        name or revision may end in anything, ``.onnx`` included).
    """
    from ..weights.hub import is_hub_spec

    if isinstance(weights, str) and is_hub_spec(weights):
        return None
    return EXPORT_SUFFIXES.get(Path(weights).suffix.lower())


def default_backend(weights: str | os.PathLike[str]) -> Backend:
    """What runs ``weights`` when no backend is asked for.

    Args:
        weights: A weights name, a weights file or an exported file.

    Returns:
        ``"onnxruntime"`` for an ``.onnx`` file, else ``"pytorch"``.
    """
    return "onnxruntime" if exported_format(weights) == "onnx" else "pytorch"


def open_model(weights: str | os.PathLike[str], *, threads: int | None = None) -> InferenceModel:
    """Open whatever ``weights`` names, ready for inference on the CPU.

    Args:
        weights: A catalogue name (``"camvid"``), a refineseg ``.safetensors`` file, a Hugging
            Face Hub repository (``hf://ORG/NAME[@REVISION]``), or a file written by ``refineseg export`` (``.onnx``, ``.pt2``, ``.pt``/``.ts``/``.torchscript``).
        threads: ONNX Runtime's intra-op thread count (PyTorch uses its global setting).

    Returns:
        A refineseg model in eval mode, or an exported model behind the same interface.

    Raises:
        FileNotFoundError: No such file or name.
        ValueError: The file is not what its suffix says.
    """
    if exported_format(weights) is None:
        from ..weights import load_model

        return load_model(weights)
    from .runtime import load_exported

    return load_exported(weights, threads=threads)
