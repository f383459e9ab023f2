"""Proof that an exported file computes what the PyTorch model computes, before it is kept.

Exporters fail silently in ways that only show at other input sizes (a shape baked in as a
constant), so the written file is loaded back and compared with the PyTorch model at the
example size (batch 1) and at a second, odd size (batch 2); a file that does not match is
never put in place (:func:`write_checked`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .._io import atomic_write
from .export_format import ExportFormat

__all__ = [
    "MIN_ARGMAX_AGREEMENT",
    "SECOND_SIZE_FACTOR",
    "ExportError",
    "ExportReport",
    "check_example_size",
    "check_tolerance",
    "compare_with_pytorch",
    "describe",
    "second_check_size",
    "unchecked",
    "write_checked",
]

MIN_ARGMAX_AGREEMENT = 0.9999
SECOND_SIZE_FACTOR = 0.7


class ExportError(ValueError):
    """An export that failed, or whose output does not match the PyTorch model."""


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely it matches PyTorch (``nan`` figures: not checked).

    Attributes:
        path: The exported file.
        format: Its format: ``onnx``, ``torch_export`` or ``torchscript``.
        sizes: The ``(H, W)`` sizes checked: batch 1 at the first, batch 2 at the second;
            empty when not checked.
        max_diff: The worst ``max|exported - PyTorch| / max|PyTorch logit|`` over the sizes.
        argmax_agreement: The worst fraction of pixels whose class is the same.
        seconds: How long the export (and check) took.
    """

    path: Path
    format: ExportFormat
    sizes: tuple[tuple[int, int], ...]  # (H, W) checked: batch 1 at the first, batch 2 at the second
    max_diff: float  # worst max|exported - PyTorch| / max|PyTorch logit| over the sizes
    argmax_agreement: float  # worst fraction of pixels whose class is the same
    seconds: float

    @property
    def checked(self) -> bool:
        """Whether the file was compared with the PyTorch model."""
        return bool(self.sizes)

    def summary(self) -> str:
        """One line for the command line: where, what, how long, and how close.

        Returns:
            The summary line.
        """
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


def second_check_size(size: Sequence[int]) -> tuple[int, int]:
    """About 0.7x each side, odd, and different from ``size`` in both dimensions.

    Args:
        size: The first check size ``(H, W)``.

    Returns:
        The second check size ``(H, W)``.
    """
    out = []
    for d in size:
        s = max(1, round(d * SECOND_SIZE_FACTOR)) | 1
        out.append(s if s != d else d + 2)
    return out[0], out[1]


def check_example_size(size: Sequence[int]) -> tuple[int, int]:
    """Validate an exporter's ``example_size``.

    Args:
        size: The size given, expected ``(H, W)``.

    Returns:
        ``size`` as a pair.

    Raises:
        ValueError: ``size`` is not two positive integers.
    """
    if len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size):
        raise ValueError(f"example_size must be two positive integers (H, W), got {tuple(size)}")
    return size[0], size[1]


def check_tolerance(tolerance: float) -> None:
    """Validate an exporter's ``tolerance``.

    Args:
        tolerance: The allowed logit difference, relative to the largest logit.

    Raises:
        ValueError: ``tolerance`` is not positive (or is NaN).
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")


def describe(model: nn.Module) -> str:
    """The model's name for error messages.

    Args:
        model: The model.

    Returns:
        Its ``arch`` if it has one, else its class name.
    """
    return getattr(model, "arch", None) or type(model).__name__


def write_checked(path: str | os.PathLike[str], write: Callable[[str], ExportReport]) -> ExportReport:
    """Write and check the temporary file; only a file that passed is renamed into place.

    Args:
        path: The final file.
        write: Writes the export to the temporary file it is given, checks it and returns
            the report; raising (:class:`ExportError`) leaves ``path`` as it was.

    Returns:
        The report ``write`` returned.
    """
    result: list[ExportReport] = []
    atomic_write(path, lambda tmp: result.append(write(tmp)))
    return result[0]


def unchecked(path: str | os.PathLike[str], fmt: ExportFormat, start: float) -> ExportReport:
    """The report of an export written without the check.

    Args:
        path: The exported file.
        fmt: Its format.
        start: When the export started (``time.perf_counter()``).

    Returns:
        A report with no sizes and ``nan`` figures.
    """
    return ExportReport(Path(path), fmt, (), math.nan, math.nan, time.perf_counter() - start)


def compare_with_pytorch(
    exported: Callable[[Tensor], Tensor],
    model: nn.Module,
    path: str | os.PathLike[str],
    fmt: ExportFormat,
    size: tuple[int, int],
    tolerance: float,
    start: float,
) -> ExportReport:
    """Run both on random inputs at ``size`` (batch 1) and a second odd size (batch 2).

    Args:
        exported: The exported file, loaded back as a callable from images to logits.
        model: The PyTorch model it was exported from (eval mode, CPU, float32).
        path: The final file name, for the report.
        fmt: The export format.
        size: The first check size ``(H, W)``; the second is :func:`second_check_size`'s.
        tolerance: The largest allowed ``max|diff|``, relative to the largest PyTorch logit.
        start: When the export started (``time.perf_counter()``).

    Returns:
        The report, with the worst difference and argmax agreement over both sizes.

    Raises:
        ExportError: The output shapes differ, the difference exceeds ``tolerance``, or the
            argmax agrees on fewer than :data:`MIN_ARGMAX_AGREEMENT` of the pixels.
    """
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
                f"{fmt} export of {describe(model)}: output {tuple(got.shape)} for input {tuple(x.shape)}, "
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
            f"{fmt} export of {describe(model)} does not match PyTorch, not written: " + "; ".join(problems)
        )
    return ExportReport(Path(path), fmt, sizes, worst_diff, worst_agreement, time.perf_counter() - start)
