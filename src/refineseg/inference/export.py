"""Export a trained model to ONNX, torch.export or TorchScript, proven equal to PyTorch before it is kept.

The file carries the model's meta as :mod:`.export_format` defines. Exporters fail silently in ways that only show at other input sizes
(a shape baked in as a constant), so by default the written file is loaded back and compared
with the PyTorch model at the example size and at a second, odd size, with a batch of 2;
a file that does not match is never put in place.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._io import atomic_write
from ..models.base import SegmentationModel
from .export_format import (
    METADATA_KEY,
    ONNX_INSTALL_HINT,
    TORCH_EXPORT_METADATA_FILE,
    TORCHSCRIPT_DEPRECATION,
    TORCHSCRIPT_METADATA_FILE,
    ExportFormat,
    export_metadata,
    quiet_jit,
)

__all__ = [
    "ExportError",
    "ExportReport",
    "export_onnx",
    "export_torch_export",
    "export_torchscript",
    "second_check_size",
]

MIN_ARGMAX_AGREEMENT = 0.9999
SECOND_SIZE_FACTOR = 0.7


class ExportError(ValueError):
    """An export that failed, or whose output does not match the PyTorch model."""


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely it matches PyTorch (``nan`` figures: not checked)."""

    path: Path
    format: ExportFormat
    sizes: tuple[tuple[int, int], ...]  # (H, W) checked: batch 1 at the first, batch 2 at the second
    max_diff: float  # worst max|exported - PyTorch| / max|PyTorch logit| over the sizes
    argmax_agreement: float  # worst fraction of pixels whose class is the same
    seconds: float

    @property
    def checked(self) -> bool:
        return bool(self.sizes)

    def summary(self) -> str:
        """One line for the command line: where, what, how long, and how close."""
        head = f"exported {self.path} ({self.format}, dynamic batch/height/width) in {self.seconds:.1f} s"
        if not self.checked:
            return f"{head}; not checked against PyTorch"
        sizes = " and ".join(f"{h}x{w}" for h, w in self.sizes)
        # floor, so a single differing pixel never shows as 100.0000%
        percent = math.floor(self.argmax_agreement * 1e6) / 1e4
        return (
            f"{head}; checked against PyTorch at {sizes}: max |diff| {self.max_diff:.1e} of the largest logit, "
            f"argmax identical on {percent:.4f}% of pixels"
        )


def export_onnx(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    example_size: Sequence[int] = (512, 512),
    opset: int | None = None,
    check: bool = True,
    tolerance: float = 1e-3,
) -> ExportReport:
    """Write ``model`` as ONNX: input ``image`` (N, 3, H, W), output ``logits`` (N, C, H, W).

    Batch, height and width are dynamic; ``example_size`` is only what the exporter traces
    with, and the size ``check`` compares at first. ``opset`` defaults to the exporter's.
    ``model`` itself is not touched (a copy is put in eval mode on the CPU).
    """
    start = time.perf_counter()
    _require_onnx()
    from torch.export import Dim

    size = _check_size(example_size)
    _check_tolerance(tolerance)
    work = _inference_copy(model)
    example = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    dims = ({0: Dim("batch"), 2: Dim("height"), 3: Dim("width")},)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals; the check below is what counts
            program = torch.onnx.export(
                work,
                (example,),
                dynamo=True,
                input_names=["image"],
                output_names=["logits"],
                dynamic_shapes=dims,
                opset_version=opset,
                external_data=False,
                verbose=False,  # otherwise it prints its progress on stdout
            )
    except ImportError:
        raise
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed for {_describe(model)}: {_first_line(exc)}") from exc
    assert program is not None  # f=None and dynamo=True return the program
    program.model.metadata_props[METADATA_KEY] = export_metadata(model)

    def write(tmp: str) -> ExportReport:
        program.save(tmp, external_data=False)
        if not check:
            return _unchecked(path, "onnx", start)
        from .runtime import OnnxRuntimeModel

        return _compare(OnnxRuntimeModel(tmp), work, path, "onnx", size, tolerance, start)

    return _write(path, write)


def export_torchscript(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    example_size: Sequence[int] = (512, 512),
    check: bool = True,
    tolerance: float = 1e-3,
) -> ExportReport:
    """Write ``model`` as a traced, frozen TorchScript archive with the meta as an extra file.

    Tracing records shapes symbolically for this model family (resizes take their size from
    the input's shape), so batch, height and width stay dynamic; ``check`` proves it at a
    second size. ``model`` itself is not touched.

    Deprecated (a ``FutureWarning``): PyTorch deprecates ``torch.jit`` in favour of
    ``torch.export``; use :func:`export_torch_export`.
    """
    warnings.warn(f"export_torchscript: {TORCHSCRIPT_DEPRECATION}", FutureWarning, stacklevel=2)
    start = time.perf_counter()
    size = _check_size(example_size)
    _check_tolerance(tolerance)
    work = _inference_copy(model)
    example = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), quiet_jit():
            # our own two-size check replaces the tracer's, which only re-runs the example size
            traced = torch.jit.trace(work, (example,), check_trace=False)
            frozen = torch.jit.freeze(traced)
    except Exception as exc:
        raise ExportError(f"torch.jit.trace failed for {_describe(model)}: {_first_line(exc)}") from exc
    extra = {TORCHSCRIPT_METADATA_FILE: export_metadata(model)}

    def write(tmp: str) -> ExportReport:
        with quiet_jit():
            torch.jit.save(frozen, tmp, _extra_files=extra)
        if not check:
            return _unchecked(path, "torchscript", start)
        from .runtime import TorchScriptModel

        return _compare(TorchScriptModel(tmp), work, path, "torchscript", size, tolerance, start)

    return _write(path, write)


def export_torch_export(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    example_size: Sequence[int] = (512, 512),
    check: bool = True,
    tolerance: float = 1e-3,
) -> ExportReport:
    """Write ``model`` as a ``torch.export`` program (``.pt2``) with the meta as an extra file.

    Batch, height and width are ``Dim.AUTO``. Named dimensions (``Dim("height")``, even with
    ``min=17``, as the ONNX exporter takes them) are refused with "constraints violated": the
    strided encoder and the decoder's resizes give guards no plain range states (a side of at
    least 17 pixels; ``ceil(side / 32) != 1``). ``Dim.AUTO`` keeps each dimension dynamic
    with the guards the model needs, and the saved program checks its input range on every
    call: at least 17 pixels a side for the ResNet and EfficientNet-Lite models (sides of
    17-32 pixels run and match PyTorch), 33 for MobileNet-v2. The example is a batch of 2,
    since a dimension traced at 1 is specialised to 1; ``check`` still runs batch 1 and 2,
    and a dimension the exporter made static anyway fails it at the second size.

    EfficientNet-Lite's TensorFlow "same" padding is traced in an equal form whose sizes fold
    (see :class:`_FoldableSamePad2d`): as written, its shape expressions double at every
    stride, and the shipped model's file then took a minute to load instead of seconds. The
    check compares the program with the model as it is. The example inputs are not stored in
    the file. ``model`` itself is not touched.
    """
    start = time.perf_counter()
    from torch.export import Dim

    size = _check_size(example_size)
    _check_tolerance(tolerance)
    work = _inference_copy(model)
    # batch 2: torch.export specialises a dimension whose example is 0 or 1 to that value
    example = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    dims = ({0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO},)
    try:
        with torch.no_grad():
            program = torch.export.export(_with_foldable_padding(work), (example,), dynamic_shapes=dims)
    except Exception as exc:
        raise ExportError(f"torch.export.export failed for {_describe(model)}: {_first_line(exc)}") from exc
    program.example_inputs = None  # a random batch that would only make the file larger
    extra = {TORCH_EXPORT_METADATA_FILE: export_metadata(model)}

    def write(tmp: str) -> ExportReport:
        with open(tmp, "wb") as f:  # a file object: torch.export warns about a file name not ending in .pt2
            torch.export.save(program, f, extra_files=extra)
        if not check:
            return _unchecked(path, "torch_export", start)
        from .runtime import TorchExportModel

        return _compare(TorchExportModel(tmp), work, path, "torch_export", size, tolerance, start)

    return _write(path, write)


def second_check_size(size: Sequence[int]) -> tuple[int, int]:
    """About 0.7x each side, odd, and different from ``size`` in both dimensions."""
    out = []
    for d in size:
        s = max(1, round(d * SECOND_SIZE_FACTOR)) | 1
        out.append(s if s != d else d + 2)
    return out[0], out[1]


class _FoldableSamePad2d(nn.Module):
    """EfficientNet-Lite's TensorFlow "same" padding at stride 2, as ``TFSamePad2d`` pads, for torch.export.

    ``TFSamePad2d`` pads the near side by ``(k - 3) // 2 + size % 2``, so a side becomes
    ``(size + size % 2) // 2`` after each stride: an expression that holds the previous one
    twice, 32 times over at 1/32, which ``torch.export.load`` parses for a minute. Here
    ``size % 2`` is written ``2 * ceil(size / 2) - size``, the same integer, and the side
    becomes ``ceil(size / 2)``, which folds (``ceil(ceil(s / 2) / 2) = ceil(s / 4)``).
    """

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        near, far = (self.kernel_size - 3) // 2, (self.kernel_size - 1) // 2
        height, width = x.shape[-2], x.shape[-1]
        return F.pad(x, (near + 2 * -(-width // 2) - width, far, near + 2 * -(-height // 2) - height, far))


def _with_foldable_padding(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with each ``TFSamePad2d`` replaced by :class:`_FoldableSamePad2d` (or ``model`` if none)."""
    from ..backbones.efficientnet_lite import TFSamePad2d

    if not any(isinstance(m, TFSamePad2d) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, TFSamePad2d) and child.stride == 2:
                setattr(parent, name, _FoldableSamePad2d(child.kernel_size))
    return model


def _require_onnx() -> None:
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"ONNX export needs {', '.join(missing)}: {ONNX_INSTALL_HINT}")


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    if len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size):
        raise ValueError(f"example_size must be two positive integers (H, W), got {tuple(size)}")
    return size[0], size[1]


def _check_tolerance(tolerance: float) -> None:
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")


def _inference_copy(model: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode without gradients, so the caller's model keeps its state."""
    work = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    work.requires_grad_(False)
    return work


def _describe(model: nn.Module) -> str:
    return getattr(model, "arch", None) or type(model).__name__


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _write(path: str | os.PathLike[str], write: Callable[[str], ExportReport]) -> ExportReport:
    """Write and check the temporary file; only a file that passed is renamed into place."""
    result: list[ExportReport] = []
    atomic_write(path, lambda tmp: result.append(write(tmp)))
    return result[0]


def _unchecked(path: str | os.PathLike[str], fmt: ExportFormat, start: float) -> ExportReport:
    return ExportReport(Path(path), fmt, (), math.nan, math.nan, time.perf_counter() - start)


def _compare(
    exported: Callable[[Tensor], Tensor],
    model: nn.Module,
    path: str | os.PathLike[str],
    fmt: ExportFormat,
    size: tuple[int, int],
    tolerance: float,
    start: float,
) -> ExportReport:
    """Run both on random inputs at ``size`` (batch 1) and a second odd size (batch 2)."""
    generator = torch.Generator().manual_seed(1)
    sizes = (size, second_check_size(size))
    worst_diff, worst_agreement = 0.0, 1.0
    problems = []
    for batch, (h, w) in zip((1, 2), sizes, strict=True):
        x = torch.randn(batch, 3, h, w, generator=generator)
        with torch.no_grad():
            expected = model(x)
            got = exported(x)
        if got.shape != expected.shape:
            raise ExportError(
                f"{fmt} export of {_describe(model)}: output {tuple(got.shape)} for input {tuple(x.shape)}, "
                f"PyTorch gives {tuple(expected.shape)}"
            )
        scale = expected.abs().max().item()
        diff = (got - expected).abs().max().item()
        relative = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
        if math.isnan(relative):
            relative = math.inf
        agreement = (got.argmax(1) == expected.argmax(1)).sum().item() / (batch * h * w)
        worst_diff, worst_agreement = max(worst_diff, relative), min(worst_agreement, agreement)
        # written so that NaN fails
        if not relative <= tolerance or not agreement >= MIN_ARGMAX_AGREEMENT:
            problems.append(
                f"at {batch}x3x{h}x{w}: max |diff| {diff:.3g} = {relative:.3g} of the largest logit "
                f"(tolerance {tolerance:g}), argmax agrees on {agreement:.4%} of pixels "
                f"(needs {MIN_ARGMAX_AGREEMENT:.2%})"
            )
    if problems:
        raise ExportError(
            f"{fmt} export of {_describe(model)} does not match PyTorch, not written: " + "; ".join(problems)
        )
    return ExportReport(Path(path), fmt, sizes, worst_diff, worst_agreement, time.perf_counter() - start)
