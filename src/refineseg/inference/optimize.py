"""``optimize_for_inference``: the same model, rearranged to run fast on a CPU.

Nothing here changes what the network computes, only how: batch norm is folded into the
convolution before it, weights and activations use the channels-last layout that oneDNN's
convolution and pooling kernels are fastest in, activations run in place, and the 5x5
stride-1 max-pooling of chained residual pooling (a third of Light-Weight RefineNet's CPU
time in the usual layout) becomes two separable 1-D passes that give bit-identical results.
``compile=True`` adds ``torch.compile`` on top, which fuses the element-wise work into the
convolutions; it pays for many images of one size, not for a few (compiling takes tens of
seconds, and again for every new input size). ``benchmarks/inference_speed.py`` measures all
of it against the plain model and the reference implementations.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import sys
from collections.abc import Iterator
from typing import TypeVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .precision import convert_to_bf16, resolve_precision

__all__ = ["OptimizationError", "SeparableMaxPool2d", "fold_batch_norms", "optimize_for_inference"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

_log = logging.getLogger(__name__)

FP32_TOLERANCE = 1e-3  # of the largest logit: reordered fp32 arithmetic
# bf16 keeps 8 mantissa bits (relative steps of 2**-8), compounded over a deep network
BF16_TOLERANCE = 5e-2


class OptimizationError(ValueError):
    """The optimised model's outputs differ from the original's beyond the tolerance."""


class SeparableMaxPool2d(nn.Module):
    """Stride-1 ``k x k`` max-pooling with ``k // 2`` padding as a column pass then a row pass.

    The maximum over a square window is the maximum over its rows of the maximum over its
    columns, so the result equals :class:`torch.nn.MaxPool2d` exactly. Each pass takes the
    running maximum of shifted views by doubling (windows of 2, 4, then ``k``), about
    ``2 log2 k`` element-wise operations instead of ``k * k`` comparisons, without the
    indices ``max_pool2d`` computes on the CPU. Works in any memory layout, keeps it.

    Args:
        kernel_size: The window's side ``k``; a positive odd number.

    Raises:
        ValueError: ``kernel_size`` is not a positive odd number.
    """

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        """Max-pool ``x`` over ``k x k`` windows, keeping its size.

        Args:
            x: A ``NxCxHxW`` tensor, in any memory layout.

        Returns:
            The pooled tensor, same shape and layout as ``x``.
        """
        return _running_max(_running_max(x, -2, self.kernel_size), -1, self.kernel_size)

    def extra_repr(self) -> str:
        """The kernel size, for the module's ``repr``.

        Returns:
            ``kernel_size=k``.
        """
        return f"kernel_size={self.kernel_size}"


def _running_max(x: Tensor, dim: int, k: int) -> Tensor:
    """``out[i] = max(x[i - k//2 : i + k//2 + 1])`` along ``dim``, treating outside as -inf."""
    if k == 1:
        return x
    pad = [0, 0] * (-dim - 1) + [k // 2, k // 2]
    padded = F.pad(x, pad, value=float("-inf"))
    n = x.shape[dim]
    window, acc = 1, padded
    while 2 * window <= k:  # acc[i] = max(padded[i : i + window]), doubling the window
        acc = torch.maximum(
            acc.narrow(dim, 0, acc.shape[dim] - window), acc.narrow(dim, window, acc.shape[dim] - window)
        )
        window *= 2
    if window == k:
        return acc.narrow(dim, 0, n)
    # cover the remaining k - window positions with a second, overlapping window-sized span
    return torch.maximum(acc.narrow(dim, 0, n), acc.narrow(dim, k - window, n))


def _conv_bn_pairs(module: nn.Module) -> Iterator[tuple[str, str]]:
    """Attribute names ``(conv, bn)`` of ``module``'s children where the conv feeds only the batch norm.

    Only structures whose forward is known qualify: consecutive children of an
    ``nn.Sequential`` (torchvision's ``Conv2dNormActivation``, ResNet downsampling), the
    ``convN``/``bnN`` pairs of torchvision's ResNet blocks and of refineseg's residual conv
    units, and the ResNet encoder's stem.
    """
    from ..backbones import ResNetBackbone
    from ..blocks import ResidualConvUnit

    # a model holding torchvision's ResNet blocks imported torchvision to build them; any other
    # model need not pay the seconds of importing it here
    resnet = sys.modules.get("torchvision.models.resnet")
    blocks = (resnet.BasicBlock, resnet.Bottleneck) if resnet is not None else ()

    if isinstance(module, nn.Sequential):
        yield from itertools.pairwise(module._modules)
    elif isinstance(module, (*blocks, ResNetBackbone, ResidualConvUnit)):
        for i in (1, 2, 3):
            if hasattr(module, f"conv{i}") and hasattr(module, f"bn{i}"):
                yield f"conv{i}", f"bn{i}"


def fold_batch_norms(model: nn.Module) -> int:
    """Fold every eval-mode batch norm into the convolution that feeds it, in place.

    The folded convolution computes ``bn(conv(x))`` in one pass (its bias absorbs the
    shift); the batch norm becomes ``nn.Identity``.

    Args:
        model: The model to modify in place.

    Returns:
        How many batch norms were folded.
    """
    folded = 0
    for module in list(model.modules()):
        for conv_name, bn_name in list(_conv_bn_pairs(module)):
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            if type(conv) is not nn.Conv2d or type(bn) is not nn.BatchNorm2d or not bn.track_running_stats:
                continue
            setattr(module, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
            setattr(module, bn_name, nn.Identity())
            folded += 1
    return folded


def _separable_pools(model: nn.Module) -> int:
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if (
                type(child) is nn.MaxPool2d
                and child.stride in (1, (1, 1))
                and child.dilation in (1, (1, 1))
                and not child.ceil_mode
                and isinstance(child.kernel_size, int)
                and child.kernel_size % 2 == 1
                and child.padding in (child.kernel_size // 2, (child.kernel_size // 2,) * 2)
            ):
                setattr(module, name, SeparableMaxPool2d(child.kernel_size))
                replaced += 1
    return replaced


def _inplace_activations(model: nn.Module) -> None:
    """Activations in a ``Sequential`` that follow a convolution (directly, or through the
    ``Identity`` a folded batch norm left) run in place: they overwrite a fresh convolution
    output that nothing else reads, never the ``Sequential``'s own input."""
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module)
        for i, child in enumerate(children):
            if not isinstance(child, (nn.ReLU, nn.ReLU6, nn.Hardtanh)):
                continue
            before = children[:i]
            while before and isinstance(before[-1], nn.Identity):
                before.pop()
            if before and isinstance(before[-1], nn.Conv2d):
                child.inplace = True


def optimize_for_inference(
    model: ModuleT,
    *,
    precision: str = "fp32",
    channels_last: bool = True,
    compile: bool = False,
    check_size: tuple[int, int] | None = (64, 64),
    tolerance: float | None = None,
) -> ModuleT:
    """A copy of ``model`` for fast inference; ``model`` itself is left untouched.

    Folds batch norms, swaps the decoder's max-pooling for :class:`SeparableMaxPool2d`, runs
    activations in place and converts to channels-last. The result has no gradients and
    stays in eval mode. int8 is not a rearranged PyTorch model but an ONNX Runtime one built
    from calibration images: :func:`refineseg.inference.quantize.int8_model`, or
    ``Segmenter(precision="int8", calibration=...)``.

    Args:
        model: The model to optimise; not modified.
        precision: ``"fp32"``, ``"bf16"`` (weights converted to bf16 once, the model still
            taking and returning fp32) or ``"auto"`` (bf16 on a CPU with native bf16, see
            :mod:`refineseg.inference.precision`; a model whose bf16 outputs fail the check
            runs in fp32 instead, logged).
        channels_last: Convert weights and activations to the channels-last layout.
        compile: Wrap the result in ``torch.compile`` with weight freezing.
        check_size: Run both models on one random image of this ``(height, width)`` and
            compare their logits; ``None`` skips the check.
        tolerance: The largest allowed logit difference, as a fraction of the largest logit
            (default: 1e-3 in fp32, 5e-2 in bf16).

    Returns:
        The optimised copy (a ``torch.compile`` wrapper with ``compile=True``).

    Raises:
        ValueError: ``precision`` is unknown, or is ``"int8"``.
        OptimizationError: The optimised model's logits differ by more than ``tolerance``.
    """
    device = next(model.parameters()).device
    resolved = resolve_precision(precision, device)
    if resolved == "int8":
        raise ValueError(
            "precision int8 needs calibration images and runs with ONNX Runtime: use "
            "refineseg.inference.quantize.int8_model(model, images) or Segmenter(..., precision='int8', calibration=images)"
        )
    if precision == "auto" and resolved == "bf16" and check_size is not None:
        options = {"channels_last": channels_last, "compile": compile, "check_size": check_size}
        try:
            return optimize_for_inference(model, precision="bf16", tolerance=tolerance, **options)  # type: ignore[arg-type]
        except OptimizationError as exc:
            _log.info("precision auto: bf16 moves this model's outputs too far (%s); running fp32", exc)
            return optimize_for_inference(model, precision="fp32", **options)  # type: ignore[arg-type]
    optimized = copy.deepcopy(model).eval()
    for p in optimized.parameters():
        p.requires_grad_(False)
    fold_batch_norms(optimized)
    _separable_pools(optimized)
    _inplace_activations(optimized)
    if channels_last:
        optimized = optimized.to(memory_format=torch.channels_last)
    bf16 = resolved == "bf16"
    if bf16:
        convert_to_bf16(optimized)
    if check_size is not None:
        if tolerance is None:
            tolerance = BF16_TOLERANCE if bf16 else FP32_TOLERANCE
        _check_same_outputs(model, optimized, check_size, tolerance)
    if compile:
        # the compiled wrapper forwards attribute access (meta, num_classes...) to the model
        return cast(ModuleT, torch.compile(optimized, options={"freezing": True}))
    return optimized


def _check_same_outputs(original: nn.Module, optimized: nn.Module, size: tuple[int, int], tolerance: float) -> None:
    device = next(original.parameters()).device
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0)).to(device)
    was_training = original.training
    original.eval()
    try:
        with torch.inference_mode(), _ieee_fp32_convolutions(device):
            expected, got = original(x), optimized(x)
    finally:
        original.train(was_training)
    scale = expected.abs().max().item()
    diff = (got - expected).abs().max().item()
    if diff > tolerance * max(scale, 1e-12):
        raise OptimizationError(
            f"the optimised model's logits differ by {diff:.3g} (largest logit {scale:.3g}); "
            f"allowed {tolerance:g} of the largest logit"
        )


@contextlib.contextmanager
def _ieee_fp32_convolutions(device: str | torch.device) -> Iterator[None]:
    """Float32 convolutions in full float32 on a CUDA ``device`` while the block runs; elsewhere nothing changes.

    cuDNN runs float32 convolutions in TF32 (10 mantissa bits) on Ampere and later GPUs by
    default. That moves a deep model's logits by about 2e-3 of the largest (the shipped model and
    RefineNet-101, measured by rounding every convolution's operands to TF32 on a CPU): past
    :data:`FP32_TOLERANCE`, which the rearranged model meets by far in float32 (about 1e-6). The
    optimisation check compares in true float32 under this, as on a CPU; the models run in TF32 after.

    Args:
        device: The device the models run on.

    Yields:
        Nothing; the previous setting is restored on exit.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # torch >= 2.9, whose legacy flag must not be mixed in
        before = conv.fp32_precision
        conv.fp32_precision = "ieee"
        try:
            yield
        finally:
            conv.fp32_precision = before
        return
    allowed = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = allowed
