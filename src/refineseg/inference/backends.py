"""The one place that decides, from a weights argument, what runs it.

A name or a ``.safetensors`` file is a refineseg model rebuilt in PyTorch; ``.onnx``, ``.pt2``
and TorchScript files are exported programs, opened by :mod:`.runtime` (and an ``.onnx`` file
by :mod:`.openvino_runtime` with ``backend="openvino"``). ``predict``, ``evaluate``, ``serve``
and :class:`~refineseg.inference.segmenter.Segmenter` all ask here, so a suffix and a backend
mean the same everywhere. A refineseg model asked to run with ONNX Runtime or OpenVINO is
exported to ONNX when it is prepared (:func:`export_for`), in the precision asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .export_format import EXPORT_SUFFIXES, ExportFormat

if TYPE_CHECKING:
    from ..models import InferenceModel, SegmentationModel
    from .runtime import ExportedModel

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendChoice",
    "default_backend",
    "export_for",
    "exported_format",
    "open_model",
    "open_onnx",
]

Backend = Literal["pytorch", "onnxruntime", "openvino"]
BACKENDS: tuple[Backend, ...] = ("pytorch", "onnxruntime", "openvino")
# what users may ask for: a runtime, or "auto", the fastest one measured (refineseg.inference.auto_backend)
BackendChoice = Literal["auto", "pytorch", "onnxruntime", "openvino"]
BACKEND_CHOICES: tuple[BackendChoice, ...] = ("auto", *BACKENDS)


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
    backend: BackendChoice | None = None,
    threads: int | None = None,
    compile: bool = False,
) -> InferenceModel:
    """Open whatever ``weights`` names for the backend that will run it.

    A refineseg model (a name, a ``.safetensors`` file, an ``hf://`` repository) is rebuilt by
    :func:`~refineseg.weights.loading.load_model`, which downloads a published checkpoint once;
    whatever the backend, it stays a PyTorch model here, and
    :func:`~refineseg.inference.prepare.prepare_model` exports it for ONNX Runtime or OpenVINO
    in the precision asked. Exported files run as exported: ``.onnx`` with ONNX Runtime or
    OpenVINO, ``.pt2`` (torch.export) and TorchScript with PyTorch, on the CPU.

    Args:
        weights: A catalogue name (``"camvid"``), a refineseg ``.safetensors`` file, a Hugging
            Face Hub repository (``hf://ORG/NAME[@REVISION]``), or a file written by ``refineseg export`` (``.onnx``, ``.pt2``, ``.pt``/``.ts``/``.torchscript``).
        backend: ``None`` picks it from ``weights`` (:func:`default_backend`); so does
            ``"auto"`` for an exported file, while a refineseg model's runtime is measured when
            it is prepared (:mod:`refineseg.inference.auto_backend`).
        threads: The runtime's threads for an ``.onnx`` file (PyTorch uses its global setting).
        compile: Whether ``torch.compile`` will be asked for, which only PyTorch models take.

    Returns:
        A refineseg model in eval mode, or an exported model behind the same interface.

    Raises:
        FileNotFoundError: No such file or name.
        ValueError: An unknown backend, one that cannot run this kind of file, compile for an
            exported program or another backend, or a file that is not what its suffix says.
    """
    fmt = exported_format(weights)
    if backend not in (None, *BACKEND_CHOICES):
        raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, got {backend!r}")
    if backend == "auto" and fmt is None:
        backend = "pytorch" if compile else None  # chosen when the model is prepared
    backend = default_backend(weights) if backend in (None, "auto") else backend
    if compile and backend != "pytorch":
        raise ValueError(f"compile applies to the pytorch backend, not {backend}")
    if fmt in ("torch_export", "torchscript"):
        if backend != "pytorch":
            raise ValueError(
                f"{weights}: a {'torch.export' if fmt == 'torch_export' else 'TorchScript'} program runs with "
                "backend='pytorch' (--backend pytorch)"
            )
        if compile:
            raise ValueError(f"{weights}: compile applies to models built by refineseg, not an exported program")
    elif fmt == "onnx" and backend == "pytorch":
        raise ValueError(
            f"{weights}: an ONNX file runs with backend='onnxruntime' or 'openvino' (--backend onnxruntime)"
        )
    if fmt is None:
        from ..weights.loading import load_model

        return load_model(weights)
    if fmt == "onnx":
        return open_onnx(weights, backend, threads=threads)
    from .runtime import load_exported

    return load_exported(weights, threads=threads)


def export_for(
    model: SegmentationModel, backend: Backend, precision: str, *, threads: int | None = None
) -> InferenceModel:
    """``model``'s fp32 ONNX export (made once and cached) opened by ``backend`` to run in ``precision``.

    Args:
        model: A refineseg PyTorch model.
        backend: ``"onnxruntime"`` (fp32 only) or ``"openvino"`` (fp32 or bf16).
        precision: ``"fp32"`` or ``"bf16"`` (int8 is :func:`~refineseg.inference.quantize.int8_model`).
        threads: The runtime's threads.

    Returns:
        The exported model, opened.

    Raises:
        ValueError: A backend and precision that do not go together.
        ImportError: The backend's extra is not installed.
    """
    from .export_cache import cached_onnx

    if backend not in ("onnxruntime", "openvino"):
        raise ValueError(f"export_for runs onnxruntime or openvino, not {backend}")
    if backend == "onnxruntime" and precision != "fp32":
        raise ValueError(f"precision {precision} runs with the pytorch or openvino backend, not onnxruntime")

    try:
        return open_onnx(cached_onnx(model), backend, precision=precision, threads=threads)
    except ValueError:  # a damaged cache entry is made again rather than trusted
        return open_onnx(cached_onnx(model, fresh=True), backend, precision=precision, threads=threads)


def open_onnx(
    path: str | os.PathLike[str], backend: str, *, precision: str = "fp32", threads: int | None = None
) -> ExportedModel:
    """An ``.onnx`` file opened by the ONNX runtime ``backend`` names: the one place that picks between them.

    Args:
        path: The ``.onnx`` file.
        backend: ``"openvino"``, or anything else for ONNX Runtime.
        precision: OpenVINO's precision for a float file, ``"fp32"`` or ``"bf16"`` (ONNX Runtime
            runs the file as it is).
        threads: The runtime's threads.

    Returns:
        The opened model.

    Raises:
        ImportError: The runtime is not installed.
        ValueError: The file is not a refineseg ONNX export.
    """
    if backend == "openvino":
        from .openvino_runtime import OpenVinoModel

        return OpenVinoModel(path, precision="bf16" if precision == "bf16" else "fp32", threads=threads)
    from .runtime import OnnxRuntimeModel

    return OnnxRuntimeModel(path, threads=threads)
