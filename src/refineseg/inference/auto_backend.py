"""``backend="auto"``: the fastest installed runtime for this model, precision and CPU, measured once.

Which runtime is fastest depends on the CPU, the model and the precision, and it changes with
the runtimes' versions: on the AMD EPYC (Zen 4) of docs/BENCHMARKS.md, ONNX Runtime ran the
shipped model fastest in fp32 and int8 and PyTorch in bf16, where OpenVINO had won the same
comparisons on another day. No fixed rule survives that, so ``auto`` measures: the first time
a model runs in a precision on a CPU, each candidate runtime runs it a few times on one image
of the size asked, and the fastest is kept in ``$REFINESEG_HOME/backends.json``, keyed by the
CPU, the model's fingerprint, the precision, the size and the runtimes' versions. Later runs
read the choice back without measuring.

Candidates: the default runtime (PyTorch for fp32 and bf16, ONNX Runtime for int8) and, only
when OpenVINO is installed (``[openvino]``), OpenVINO and ONNX Runtime too (not in bf16, which
ONNX Runtime's CPU provider lacks). Without OpenVINO, ``auto`` is the default runtime, as before.

``auto`` is what runs a refineseg model unless a backend is named. ``REFINESEG_AUTO_BACKEND``
fixes its answer without measuring: ``default`` for the default runtime, or a runtime's name
(used when it is a candidate for the precision, else the default). The tests set ``default`` so
that each does not export and time its own model; a reproducible benchmark can set it too.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._errors import one_line
from .._extras import available
from .._io import atomic_write, cache_dir

if TYPE_CHECKING:
    from ..models import InferenceModel, SegmentationModel
    from .backends import Backend

__all__ = [
    "MEASURE_SIZE",
    "OVERRIDE_ENV",
    "auto_candidates",
    "choices_file",
    "fastest_backend",
    "measured_choices",
    "override",
]

_log = logging.getLogger(__name__)

MEASURE_SIZE = (360, 480)  # CamVid's frames; the choice rarely changes with the size, the time to measure does
_WARMUP, _REPEATS = 1, 3
OVERRIDE_ENV = "REFINESEG_AUTO_BACKEND"
_OVERRIDES = ("default", "pytorch", "onnxruntime", "openvino")


def auto_candidates(precision: str) -> list[Backend]:
    """The runtimes ``auto`` compares for ``precision``, the default first.

    Args:
        precision: The resolved precision: ``fp32``, ``bf16`` or ``int8``.

    Returns:
        One runtime (the default) without OpenVINO; with it, every installed runtime that runs
        ``precision``.
    """
    default: Backend = "onnxruntime" if precision == "int8" else "pytorch"
    if not available("openvino"):
        return [default]
    candidates: list[Backend] = [default, "openvino"]
    if precision == "fp32" and available("onnxruntime"):
        candidates.append("onnxruntime")
    return candidates


def override(candidates: list[Backend]) -> Backend | None:
    """The runtime ``$REFINESEG_AUTO_BACKEND`` fixes among ``candidates``, or ``None`` when unset.

    Args:
        candidates: What ``auto`` would compare, the default first (:func:`auto_candidates`).

    Returns:
        The named runtime when it is a candidate, the default for ``default`` or a runtime that
        cannot run this precision here, ``None`` when the variable is unset or empty.

    Raises:
        ValueError: The variable names something else.
    """
    value = os.environ.get(OVERRIDE_ENV, "").strip().lower()
    if not value:
        return None
    if value not in _OVERRIDES:
        raise ValueError(f"{OVERRIDE_ENV}={value!r}: expected one of {', '.join(_OVERRIDES)}")
    return value if value in candidates else candidates[0]


def choices_file() -> Path:
    """Where measured choices are kept: ``$REFINESEG_HOME/backends.json``.

    Returns:
        The file (it may not exist yet).
    """
    return cache_dir("backends.json")


def measured_choices() -> dict[str, dict[str, Any]]:
    """Every choice measured on this machine so far (what ``refineseg models --hardware`` lists).

    Returns:
        key -> ``{"backend", "ms", "model", "precision", "cpu", "size"}``; empty when none
        was measured or the file is unreadable (it is then measured again).
    """
    path = choices_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(model: SegmentationModel, precision: str, size: tuple[int, int], candidates: list[Backend]) -> str:
    from .export_cache import model_fingerprint
    from .precision import cpu_features

    versions = [f"torch {torch.__version__}"]
    for module in ("onnxruntime", "openvino"):
        if module in candidates:
            versions.append(f"{module} {__import__(module).__version__}")
    cpu = cpu_features()
    model_key = model_fingerprint(model).hexdigest()[:24]
    return "|".join([cpu.name, ",".join(cpu.isa), model_key, precision, f"{size[0]}x{size[1]}", *versions])


def fastest_backend(
    model: SegmentationModel,
    precision: str,
    prepare: Callable[[Backend], InferenceModel],
    *,
    size: tuple[int, int] = MEASURE_SIZE,
) -> tuple[Backend, InferenceModel | None]:
    """The fastest candidate runtime for ``model`` in ``precision``: read back, or measured and kept.

    Args:
        model: The refineseg model (its fingerprint keys the choice).
        precision: The resolved precision.
        prepare: Makes the model ready for one runtime (what ``prepare_model`` does for it).
        size: ``(H, W)`` of the image it is measured on.

    Returns:
        The runtime, and the model prepared for it when it was measured now (``None`` when the
        choice was read back, or there was nothing to choose).
    """
    candidates = auto_candidates(precision)
    fixed = override(candidates)
    if fixed is not None:
        return fixed, None
    if len(candidates) == 1:
        return candidates[0], None
    key = _key(model, precision, size, candidates)
    known = measured_choices().get(key)
    if known is not None and known.get("backend") in candidates:
        return known["backend"], None
    _log.warning(
        "--backend auto: measuring which of %s runs %s fastest in %s on this CPU, once (the first export to "
        "ONNX takes a minute); kept in %s",
        ", ".join(candidates),
        getattr(model, "arch", "the model"),
        precision,
        choices_file(),
    )
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    prepared: dict[Backend, InferenceModel] = {candidates[0]: prepare(candidates[0])}
    for backend in candidates[1:]:
        try:
            prepared[backend] = prepare(backend)
        except Exception as exc:  # the default runtime still runs it: a runtime that cannot is no reason to fail
            _log.warning("--backend auto: %s cannot run it (%s); not a candidate", backend, one_line(exc))
    candidates = list(prepared)
    times: dict[str, list[float]] = {backend: [] for backend in candidates}
    with torch.inference_mode():
        for round_ in range(_WARMUP + _REPEATS):
            for backend, ready in prepared.items():  # interleaved: a busy moment slows every candidate alike
                start = time.perf_counter()
                ready(x)
                if round_ >= _WARMUP:
                    times[backend].append(time.perf_counter() - start)
    ms = {backend: 1000 * statistics.median(t) for backend, t in times.items()}
    best: Backend = min(candidates, key=lambda b: ms[b])
    _remember(key, {"backend": best, "ms": ms, "model": getattr(model, "arch", None), "precision": precision})
    _log.warning("--backend auto: %s (%s)", best, ", ".join(f"{b} {t:.0f} ms" for b, t in ms.items()))
    return best, prepared[best]


def _remember(key: str, choice: Mapping[str, Any]) -> None:
    choices = measured_choices()
    choices[key] = dict(choice)
    try:
        atomic_write(choices_file(), lambda tmp: Path(tmp).write_text(json.dumps(choices, indent=1) + "\n"))
    except OSError as exc:  # a read-only cache: measured again next time, never fatal
        _log.info("--backend auto: could not keep the choice in %s (%s)", choices_file(), exc)
