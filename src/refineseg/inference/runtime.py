"""Exported models (ONNX Runtime, torch.export, TorchScript) behind the interface inference code expects.

``Segmenter`` and the evaluation loops only call ``model(x)`` and read ``.meta`` and
``.num_classes``, after ``model.to(device).eval()``; the wrappers here provide exactly that,
so a deployment can run an exported file without refineseg's model code or, for ONNX, without
PyTorch doing the computation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from .._errors import one_line
from .._extras import require
from ..models.base import ModelMeta
from .export_format import (
    METADATA_KEY,
    PRECISION_KEY,
    TORCH_EXPORT_METADATA_FILE,
    TORCHSCRIPT_METADATA_FILE,
    export_format_for,
    quiet_jit,
    read_export_metadata,
)

__all__ = ["ExportedModel", "OnnxRuntimeModel", "TorchExportModel", "TorchScriptModel", "load_exported"]

_EXPECTED = "expected a file written by 'refineseg export'"

_Model = TypeVar("_Model", bound="ExportedModel")


class ExportedModel:
    """What the exported backends share: meta from the file, CPU only, always in eval mode.

    Args:
        path: The exported file.

    Attributes:
        backend: The runtime's name (``onnxruntime``, ``torch_export``, ``torchscript``).
        training: Always ``False``: exported models are in eval mode.
        precision: What its arithmetic runs in: ``fp32``, or ``int8`` for a quantized ONNX file.
        path: The exported file.
        meta: Class names, palette and normalisation, from the file.
        arch: The architecture name from the file, or ``None``.
        num_classes: The number of classes, from the file.

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """

    backend = "exported"
    training = False
    precision = "fp32"  # what its arithmetic runs in; "int8" for a quantized ONNX file

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        self.meta = ModelMeta()
        self.arch: str | None = None
        self.num_classes = 0

    def _set_meta(self, text: str | bytes) -> None:
        info = read_export_metadata(text, source=str(self.path))
        self.meta, self.arch, self.num_classes = info.meta, info.arch, info.num_classes

    def _set_meta_file(self, extra: dict[str, Any], name: str, kind: str) -> None:
        """The meta from the archive's extra file ``name``, which an archive not written by refineseg lacks."""
        if not extra[name]:
            raise ValueError(f"{self.path}: {kind} without refineseg metadata ({name}); {_EXPECTED}")
        self._set_meta(extra[name])

    @property
    def device(self) -> torch.device:
        """Always the CPU."""
        return torch.device("cpu")

    def forward(self, x: Tensor) -> Tensor:
        """Run the backend; subclasses implement it, :meth:`__call__` checks the input first.

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            The logits (N, C, H, W).

        Raises:
            NotImplementedError: Always, in this base class.
        """
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        """Logits (N, C, H, W) on the CPU for a normalised float image batch (N, 3, H, W).

        Args:
            x: The batch, on any device and of any float dtype; it is moved to the CPU as float32.

        Returns:
            The logits, on the CPU.

        Raises:
            ValueError: ``x`` is not an (N, 3, H, W) batch.
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.path.name}: expected an image batch (N, 3, H, W), got {tuple(x.shape)}")
        return self.forward(x.detach().to("cpu", torch.float32))

    def eval(self: _Model) -> _Model:
        """Accepted so code written for PyTorch models runs unchanged; always in eval mode.

        Returns:
            The model itself.
        """
        return self

    def to(self: _Model, device: str | torch.device) -> _Model:
        """Accepted so code written for PyTorch models runs unchanged; only the CPU is possible.

        Args:
            device: The device; must be the CPU.

        Returns:
            The model itself.

        Raises:
            ValueError: ``device`` is not the CPU.
        """
        if torch.device(device).type != "cpu":
            raise ValueError(f"the {self.backend} backend runs on the CPU, not {device}")
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, arch={self.arch!r}, num_classes={self.num_classes})"


class OnnxRuntimeModel(ExportedModel):
    """An exported ``.onnx`` file run by ONNX Runtime on the CPU.

    Args:
        path: The ``.onnx`` file, written by ``refineseg export``.
        threads: ONNX Runtime's intra-op threads (default: ``torch.get_num_threads()``, so it
            uses what PyTorch would have).

    Raises:
        ImportError: ``onnxruntime`` is not installed.
        FileNotFoundError: ``path`` is not a file.
        ValueError: ``threads`` is below 1, or the file is not a valid ONNX model with
            refineseg metadata, one 4-d input and one output.
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        ort = require("onnxruntime", "onnx", purpose="running ONNX models")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        super().__init__(path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
            message = one_line(exc)
            raise ValueError(f"{self.path}: not a valid ONNX model ({message}); {_EXPECTED}") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        text = metadata.get(METADATA_KEY)
        if text is None:
            raise ValueError(f"{self.path}: an ONNX model without refineseg metadata ('{METADATA_KEY}'); {_EXPECTED}")
        self._set_meta(text)
        self.precision = "int8" if metadata.get(PRECISION_KEY) == "int8" else "fp32"
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) != 1:
            raise ValueError(f"{self.path}: expected one 4-d input and one output; {_EXPECTED}")
        self._input, self._output = inputs[0].name, outputs[0].name

    def forward(self, x: Tensor) -> Tensor:
        """Run the ONNX session.

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            The logits (N, C, H, W).
        """
        (logits,) = self.session.run([self._output], {self._input: x.contiguous().numpy()})
        return torch.from_numpy(logits)


class TorchScriptModel(ExportedModel):
    """An exported TorchScript archive (traced and frozen), run by PyTorch on the CPU.

    Args:
        path: The archive, written by ``refineseg export``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: The file is not a TorchScript archive, or has no refineseg metadata.
    """

    backend = "torchscript"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        extra: dict[str, Any] = {TORCHSCRIPT_METADATA_FILE: ""}
        try:
            with quiet_jit():
                self.module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
        except Exception as exc:  # torch.jit.load raises RuntimeError for anything unreadable
            message = one_line(exc)
            raise ValueError(f"{self.path}: not a TorchScript archive ({message}); {_EXPECTED}") from None
        self._set_meta_file(extra, TORCHSCRIPT_METADATA_FILE, "a TorchScript archive")

    def forward(self, x: Tensor) -> Tensor:
        """Run the TorchScript module without gradients.

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            The logits (N, C, H, W).
        """
        with torch.no_grad():
            return self.module(x)


class TorchExportModel(ExportedModel):
    """An exported ``torch.export`` program (``.pt2``), run by PyTorch on the CPU.

    The program is PyTorch's own graph of the model, with dynamic batch, height and width,
    run as ``program.module()``; it needs torch but no refineseg model code. Its guards are
    checked on every call: an input outside them (a side below 17 pixels for the shipped
    model and the ResNets, below 33 for MobileNet-v2) is a ``ValueError`` naming the file.
    It runs as exported, in fp32; it is not optimised further (``optimize_for_inference``
    applies to refineseg's models only).

    Trust: like TorchScript and unlike ONNX, a ``.pt2`` file may execute code when loaded.
    ``torch.export.load`` reads the graph from JSON, but it unpickles the tensors and
    constants it is told to with ``torch.load(..., weights_only=False)`` and ``pickle.loads``
    (``torch/export/pt2_archive/_package.py``), and PyTorch's documentation says to never
    load one from an untrusted source. Load only files you made or trust.

    Args:
        path: The ``.pt2`` file, written by ``refineseg export``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: The file is not a ``torch.export`` archive, or has no refineseg metadata.
    """

    backend = "torch_export"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        extra: dict[str, Any] = {TORCH_EXPORT_METADATA_FILE: ""}
        with _torch_export_log() as notes:
            try:
                with self.path.open("rb") as f:  # a file object: torch.export warns about names not ending in .pt2
                    program = torch.export.load(f, extra_files=extra)
            except Exception as exc:  # BadZipFile, RuntimeError, KeyError, ... for anything unreadable
                # torch.export.load logs the reason the archive failed and then raises a generic error
                cause = notes[0] if notes else exc
                raise ValueError(f"{self.path}: not a torch.export archive ({_reason(cause)}); {_EXPECTED}") from None
        self._set_meta_file(extra, TORCH_EXPORT_METADATA_FILE, "a torch.export archive")
        self.program = program
        self.module = program.module()

    def forward(self, x: Tensor) -> Tensor:
        """Run the program without gradients.

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            The logits (N, C, H, W).

        Raises:
            ValueError: ``x``'s shape is outside the program's guards (e.g. a side too small).
        """
        try:
            with torch.no_grad():
                return self.module(x)
        except (RuntimeError, AssertionError) as exc:
            message = one_line(exc)
            # the program's input checks and guards, which run before any computation
            if message.startswith(("Expected input", "Guard failed", "Unexpected number of dimensions")):
                raise ValueError(
                    f"{self.path.name}: an input of shape {tuple(x.shape)} is outside what this exported "
                    f"program accepts ({message})"
                ) from None
            raise


def load_exported(path: str | os.PathLike[str], *, threads: int | None = None) -> ExportedModel:
    """Open an exported file by its suffix: ``.onnx`` with ONNX Runtime, ``.pt2`` (torch.export) and
    ``.pt``/``.ts``/``.torchscript`` (TorchScript) with PyTorch.

    Args:
        path: The exported file.
        threads: ONNX Runtime's intra-op threads; ONNX only (the others use PyTorch's global
            thread count).

    Returns:
        The model, ready to call.

    Raises:
        ValueError: The suffix is unknown, or the file is not a valid export of that format.
        FileNotFoundError: ``path`` is not a file.
        ImportError: An ``.onnx`` file and ``onnxruntime`` is not installed.
    """
    fmt = export_format_for(path)
    if fmt == "onnx":
        return OnnxRuntimeModel(path, threads=threads)
    if fmt == "torch_export":
        return TorchExportModel(path)
    return TorchScriptModel(path)


# what PyTorch appends to the reason an archive is unreadable
_TORCH_BOILERPLATE = (" This is an internal miniz error", "  (Could this error message be improved?")


def _reason(exc: BaseException) -> str:
    text = one_line(exc)
    for marker in _TORCH_BOILERPLATE:
        text = text.split(marker, 1)[0]
    return text.rstrip()


@contextmanager
def _torch_export_log() -> Iterator[list[BaseException]]:
    """Keep ``torch.export.load``'s logged tracebacks off stderr; yield the exceptions they carry."""
    logger = logging.getLogger("torch.export")
    notes: list[BaseException] = []

    def keep(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and record.exc_info and record.exc_info[1] is not None:
            notes.append(record.exc_info[1])
        return record.levelno < logging.WARNING

    logger.addFilter(keep)
    try:
        yield notes
    finally:
        logger.removeFilter(keep)
