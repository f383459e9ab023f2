"""Export a trained model to ONNX, torch.export or TorchScript, proven equal to PyTorch before it is kept.

The file carries the model's meta as :mod:`.export_format` defines; by default it is checked
against the PyTorch model as :mod:`.export_check` does, and a file that does not match is
never put in place.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import one_line
from .._extras import require_all
from ..models.base import SegmentationModel
from .export_check import (
    ExportError,
    ExportReport,
    check_example_size,
    check_tolerance,
    compare_with_pytorch,
    describe,
    second_check_size,
    unchecked,
    write_checked,
)
from .export_format import (
    METADATA_KEY,
    TORCH_EXPORT_METADATA_FILE,
    TORCHSCRIPT_DEPRECATION,
    TORCHSCRIPT_METADATA_FILE,
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

    Batch, height and width are dynamic.

    Args:
        model: The model to export; not touched (a copy is put in eval mode on the CPU).
        path: The ``.onnx`` file to write; only a file that passed the check is put there.
        example_size: ``(H, W)``; only what the exporter traces with, and the size ``check``
            compares at first.
        opset: The ONNX opset; ``None``: the exporter's default.
        check: Load the file back with ONNX Runtime and compare it with PyTorch at two sizes.
        tolerance: The largest allowed logit difference, relative to the largest logit.

    Returns:
        What was written and how closely it matches PyTorch.

    Raises:
        ImportError: ``onnx``, ``onnxscript`` or ``onnxruntime`` is not installed.
        ValueError: ``example_size`` or ``tolerance`` is invalid.
        ExportError: The exporter failed, or the file does not match PyTorch.
    """
    start = time.perf_counter()
    _require_onnx()
    from torch.export import Dim

    size = check_example_size(example_size)
    check_tolerance(tolerance)
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
        raise ExportError(f"torch.onnx.export failed for {describe(model)}: {one_line(exc)}") from exc
    assert program is not None  # f=None and dynamo=True return the program
    program.model.metadata_props[METADATA_KEY] = export_metadata(model)

    def write(tmp: str) -> ExportReport:
        program.save(tmp, external_data=False)
        if not check:
            return unchecked(path, "onnx", start)
        from .runtime import OnnxRuntimeModel

        return compare_with_pytorch(OnnxRuntimeModel(tmp), work, path, "onnx", size, tolerance, start)

    return write_checked(path, write)


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
    second size.

    Deprecated (a ``FutureWarning``): PyTorch deprecates ``torch.jit`` in favour of
    ``torch.export``; use :func:`export_torch_export`.

    Args:
        model: The model to export; not touched.
        path: The file to write; only a file that passed the check is put there.
        example_size: ``(H, W)`` to trace with, and the first size ``check`` compares at.
        check: Load the file back and compare it with PyTorch at two sizes.
        tolerance: The largest allowed logit difference, relative to the largest logit.

    Returns:
        What was written and how closely it matches PyTorch.

    Raises:
        ValueError: ``example_size`` or ``tolerance`` is invalid.
        ExportError: Tracing failed, or the file does not match PyTorch.
    """
    warnings.warn(f"export_torchscript: {TORCHSCRIPT_DEPRECATION}", FutureWarning, stacklevel=2)
    start = time.perf_counter()
    size = check_example_size(example_size)
    check_tolerance(tolerance)
    work = _inference_copy(model)
    example = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), quiet_jit():
            # our own two-size check replaces the tracer's, which only re-runs the example size
            traced = torch.jit.trace(work, (example,), check_trace=False)
            frozen = torch.jit.freeze(traced)
    except Exception as exc:
        raise ExportError(f"torch.jit.trace failed for {describe(model)}: {one_line(exc)}") from exc
    extra = {TORCHSCRIPT_METADATA_FILE: export_metadata(model)}

    def write(tmp: str) -> ExportReport:
        with quiet_jit():
            torch.jit.save(frozen, tmp, _extra_files=extra)
        if not check:
            return unchecked(path, "torchscript", start)
        from .runtime import TorchScriptModel

        return compare_with_pytorch(TorchScriptModel(tmp), work, path, "torchscript", size, tolerance, start)

    return write_checked(path, write)


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
    the file.

    Args:
        model: The model to export; not touched.
        path: The ``.pt2`` file to write; only a file that passed the check is put there.
        example_size: ``(H, W)`` to trace with (at batch 2), and the first size ``check``
            compares at.
        check: Load the program back and compare it with PyTorch at batch 1 and 2, two sizes.
        tolerance: The largest allowed logit difference, relative to the largest logit.

    Returns:
        What was written and how closely it matches PyTorch.

    Raises:
        ValueError: ``example_size`` or ``tolerance`` is invalid.
        ExportError: ``torch.export`` failed, or the program does not match PyTorch.
    """
    start = time.perf_counter()
    from torch.export import Dim

    size = check_example_size(example_size)
    check_tolerance(tolerance)
    work = _inference_copy(model)
    # batch 2: torch.export specialises a dimension whose example is 0 or 1 to that value
    example = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    dims = ({0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO},)
    try:
        with torch.no_grad():
            program = torch.export.export(_with_foldable_padding(work), (example,), dynamic_shapes=dims)
    except Exception as exc:
        raise ExportError(f"torch.export.export failed for {describe(model)}: {one_line(exc)}") from exc
    program.example_inputs = None  # a random batch that would only make the file larger
    extra = {TORCH_EXPORT_METADATA_FILE: export_metadata(model)}

    def write(tmp: str) -> ExportReport:
        with open(tmp, "wb") as f:  # a file object: torch.export warns about a file name not ending in .pt2
            torch.export.save(program, f, extra_files=extra)
        if not check:
            return unchecked(path, "torch_export", start)
        from .runtime import TorchExportModel

        return compare_with_pytorch(TorchExportModel(tmp), work, path, "torch_export", size, tolerance, start)

    return write_checked(path, write)


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
    require_all({name: name for name in ("onnx", "onnxscript", "onnxruntime")}, "onnx", purpose="ONNX export")


def _inference_copy(model: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode without gradients, so the caller's model keeps its state."""
    work = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    work.requires_grad_(False)
    return work
