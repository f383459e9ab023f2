"""Which number format a model runs in, and what this CPU can do fast.

fp32 is exact and the default. bf16 keeps fp32's range with 8 bits of mantissa; on CPUs with
native bf16 matrix instructions (AVX512-BF16, AMX) oneDNN runs its convolutions several
times faster than fp32, elsewhere it is emulated and slower. ``auto`` therefore picks bf16
only where the CPU has them. int8 (:mod:`refineseg.inference.quantize`) needs calibration
images and runs with ONNX Runtime, fast on CPUs with VNNI; ``auto`` never picks it. A bf16 model here is converted once (weights in bf16, no
per-call casting as under autocast) and takes and returns fp32 tensors, so softmax and
arg-max see fp32 inputs.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from ..constants import PRECISIONS, Precision

__all__ = [
    "PRECISIONS",
    "CpuFeatures",
    "Precision",
    "convert_to_bf16",
    "cpu_features",
    "parse_cpuinfo",
    "precision_of",
    "resolve_precision",
]


# /proc/cpuinfo flag -> the name users know it by
_ISA_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX512",
    "avx512_vnni": "AVX512-VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX512-BF16",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's name and the matrix-relevant instruction sets it reports.

    Attributes:
        name: The CPU's model name.
        isa: The instruction sets found, by their usual names (``AVX2``, ``AVX512-BF16``, ...).
    """

    name: str
    isa: tuple[str, ...]

    @property
    def native_bf16(self) -> bool:
        """bf16 dot products in hardware (AVX512-BF16 or AMX): bf16 convolutions run fast."""
        return "AVX512-BF16" in self.isa or "AMX-BF16" in self.isa

    def describe(self) -> str:
        """A one-line summary for users: name, instruction sets, and whether bf16 is native.

        Returns:
            The summary line.
        """
        isa = ", ".join(self.isa) or "none of " + ", ".join(_ISA_FLAGS.values())
        bf16 = "native bf16: yes" if self.native_bf16 else "native bf16: no (precision auto runs fp32)"
        return f"{self.name}; ISA: {isa}; {bf16}"


@cache
def cpu_features() -> CpuFeatures:
    """This machine's, from ``/proc/cpuinfo`` (Linux); elsewhere the name only, with no ISA claimed.

    Returns:
        The features, read once and cached.
    """
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    return parse_cpuinfo(text, default_name=platform.processor() or platform.machine())


def parse_cpuinfo(text: str, *, default_name: str = "unknown CPU") -> CpuFeatures:
    """The first processor's ``model name`` and ``flags`` in ``/proc/cpuinfo`` text.

    Args:
        text: The contents of ``/proc/cpuinfo``.
        default_name: The name to use when ``text`` has no ``model name`` line.

    Returns:
        The name and the known instruction sets among the flags.
    """
    name, flags = default_name, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            name = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
            break
    return CpuFeatures(name, tuple(label for flag, label in _ISA_FLAGS.items() if flag in flags))


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> Literal["fp32", "bf16", "int8"]:
    """The precision to run: ``auto`` is bf16 on CPUs with native bf16, else fp32; int8 is CPU only.

    Args:
        precision: One of :data:`PRECISIONS` (``auto``, ``fp32``, ``bf16``, ``int8``).
        device: The device the model will run on.

    Returns:
        The concrete precision.

    Raises:
        ValueError: ``precision`` is unknown, or is ``int8`` on a device other than the CPU.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        native = torch.device(device).type == "cpu" and cpu_features().native_bf16
        return "bf16" if native else "fp32"
    if precision == "int8" and torch.device(device).type != "cpu":
        raise ValueError(f"precision int8 runs on the CPU (ONNX Runtime), not on {device}")
    return "fp32" if precision == "fp32" else "bf16" if precision == "bf16" else "int8"


def _inputs_to_bf16(module: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(a.to(torch.bfloat16) if a.is_floating_point() else a for a in args)


def _output_to_fp32(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> Tensor:
    return output.float()


def convert_to_bf16(model: nn.Module) -> nn.Module:
    """``model`` (in place) with bf16 weights and buffers, taking and returning fp32 tensors.

    Hooks rather than a wrapper keep the model's own class and attributes (``meta``,
    ``num_classes``), which the rest of refineseg reads.

    Args:
        model: The model to convert; modified in place.

    Returns:
        ``model`` itself, converted, with hooks that cast inputs to bf16 and outputs to fp32.
    """
    model.to(torch.bfloat16)
    model.register_forward_pre_hook(_inputs_to_bf16)
    model.register_forward_hook(_output_to_fp32)
    return model


def precision_of(model: object) -> Literal["fp32", "bf16", "int8"]:
    """What a prepared model runs in: a PyTorch model's weights' dtype, an exported model's ``precision``.

    Args:
        model: A PyTorch module or an exported model.

    Returns:
        ``bf16`` for a module with bf16 weights; an exported model's own ``precision`` (``int8``
        for an int8 file, ``bf16`` for OpenVINO running a float file in bf16); else ``fp32``.
    """
    if isinstance(model, nn.Module):
        first = next(model.parameters(), None)
        return "bf16" if first is not None and first.dtype == torch.bfloat16 else "fp32"
    own = getattr(model, "precision", "fp32")
    return "bf16" if own == "bf16" else "int8" if own == "int8" else "fp32"
