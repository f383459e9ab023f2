"""The one place that decides, from a weights argument, what runs it.

A name or a ``.safetensors`` file is a refineseg model rebuilt in PyTorch; ``.onnx``, ``.pt2``
and TorchScript files are exported programs, opened by :mod:`.runtime`. ``predict``,
``evaluate``, ``serve`` and :class:`~refineseg.inference.segmenter.Segmenter` all ask here, so
a suffix means the same everywhere.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .export_format import EXPORT_SUFFIXES, ExportFormat

if TYPE_CHECKING:
    from ..models import InferenceModel, SegmentationModel

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


def open_model(
    weights: str | os.PathLike[str],
    *,
    backend: Backend | None = None,
    threads: int | None = None,
    precision: str | None = None,
    compile: bool = False,
) -> InferenceModel:
    """Open whatever ``weights`` names with the backend that runs it, ready for inference.

    A refineseg model (a name, a ``.safetensors`` file, an ``hf://`` repository) is rebuilt by
    :func:`~refineseg.weights.loading.load_model`, which downloads a published checkpoint once;
    with ``backend="onnxruntime"`` it is exported to a temporary ONNX file and run from that.
    Exported files run as exported: ``.onnx`` with ONNX Runtime, ``.pt2`` (torch.export) and
    TorchScript with PyTorch, on the CPU, in fp32, without further optimisation.

    Args:
        weights: A catalogue name (``"camvid"``), a refineseg ``.safetensors`` file, a Hugging
            Face Hub repository (``hf://ORG/NAME[@REVISION]``), or a file written by ``refineseg export`` (``.onnx``, ``.pt2``, ``.pt``/``.ts``/``.torchscript``).
        backend: ``None`` picks it from ``weights`` (:func:`default_backend`).
        threads: ONNX Runtime's intra-op thread count for an ``.onnx`` file (PyTorch uses its
            global setting).
        precision: What the model will run in (:class:`~refineseg.inference.segmenter.Segmenter`'s
            ``precision``): ``"int8"`` keeps a refineseg model in PyTorch with
            ``backend="onnxruntime"``, since its quantization runs in ONNX Runtime itself.
        compile: Whether ``torch.compile`` will be asked for, which an exported program refuses.

    Returns:
        A refineseg model in eval mode, or an exported model behind the same interface.

    Raises:
        FileNotFoundError: No such file or name.
        ValueError: An unknown backend, one that cannot run this kind of file, compile for an
            exported program, or a file that is not what its suffix says.
    """
    fmt = exported_format(weights)
    backend = backend or default_backend(weights)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if fmt in ("torch_export", "torchscript"):
        if backend != "pytorch":
            raise ValueError(
                f"{weights}: a {'torch.export' if fmt == 'torch_export' else 'TorchScript'} program runs with "
                "backend='pytorch' (--backend pytorch)"
            )
        if compile:
            raise ValueError(f"{weights}: compile applies to models built by refineseg, not an exported program")
    elif fmt == "onnx" and backend != "onnxruntime":
        raise ValueError(f"{weights}: an ONNX file runs with backend='onnxruntime' (--backend onnxruntime)")
    if fmt is None:
        from ..weights.loading import load_model

        model = load_model(weights)
        if backend == "onnxruntime" and precision != "int8":
            return _as_onnx(model)
        return model
    from .runtime import load_exported

    return load_exported(weights, threads=threads)


def _as_onnx(model: SegmentationModel) -> InferenceModel:
    """``model`` exported to ONNX in fp32 and opened with ONNX Runtime."""
    from .export import export_onnx
    from .runtime import OnnxRuntimeModel

    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = Path(tmp) / "model.onnx"
        export_onnx(model, onnx_file)
        return OnnxRuntimeModel(onnx_file)  # the session holds the model; the file may go
