"""The model as it will run: optimised, converted to bf16 or quantized to int8, once.

``Segmenter`` and ``evaluate`` both take a model and the user's precision and speed options;
this is where those options become the object that runs, so both mean the same by them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models import InferenceModel, SegmentationModel
from .backends import Backend, BackendChoice, export_for
from .images import ImageLike
from .precision import resolve_precision

__all__ = ["prepare_model"]


def prepare_model(
    model: InferenceModel,
    *,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    optimize: bool = True,
    compile: bool = False,
    calibration: Sequence[ImageLike] | None = None,
    backend: BackendChoice | None = None,
) -> InferenceModel:
    """``model`` ready to run on ``device`` in ``precision`` with ``backend``.

    With the pytorch backend it goes through
    :func:`~refineseg.optimize_for_inference` when ``optimize``, ``compile`` or a precision
    other than fp32 asks for it. With ``"onnxruntime"`` or ``"openvino"`` it is exported to ONNX
    and opened by that runtime (:func:`~refineseg.inference.backends.export_for`). int8 is
    always a runtime's: :func:`~refineseg.inference.quantize.int8_model` quantizes the model
    once and opens the cached file with ONNX Runtime, or with OpenVINO when asked. An
    exported model runs as it is, in the precision it was exported in, except that OpenVINO
    runs a float ONNX file in fp32 or bf16 as asked (see :mod:`refineseg.inference.precision`).

    Args:
        model: A refineseg PyTorch model or an exported model.
        device: Where to run; exported models run on the CPU only.
        precision: ``fp32``, ``bf16``, ``int8`` or ``auto``; ``"auto"`` without optimisation is
            fp32: "as built" means as built. Exported models take ``fp32`` or ``auto`` only.
        optimize: Rearrange a PyTorch model with :func:`~refineseg.optimize_for_inference`.
        compile: Also ``torch.compile`` it.
        calibration: Images to calibrate int8 quantization with; int8 only, and required there.
        backend: What runs it. ``None`` or ``"auto"``: for a PyTorch model, the fastest
            installed runtime for this model, precision and CPU, measured once and kept
            (:func:`~refineseg.inference.auto_backend.fastest_backend`; PyTorch, or ONNX
            Runtime for int8, when OpenVINO is not installed; PyTorch on a GPU or with
            ``compile``); for an exported model, its own runtime.

    Returns:
        The model that runs: ``model`` itself (in eval mode, on ``device``), an optimised copy,
        or an int8 ONNX Runtime model.

    Raises:
        ValueError: ``calibration`` without int8, int8 without ``calibration``, an exported
            model with a device other than the CPU, another backend, or a precision its
            runtime cannot give it, compile or a device other than the CPU with an ONNX
            runtime, or an invalid ``precision`` (see :func:`resolve_precision`).
    """
    device = torch.device(device)
    if precision == "auto" and not (optimize or compile):
        precision = "fp32"
    resolved = resolve_precision(precision, device)
    if calibration is not None and resolved != "int8":
        raise ValueError(f"calibration images apply to precision int8 only, not {resolved}")
    if not isinstance(model, SegmentationModel):
        return _prepare_exported(model, device, precision, resolved, None if backend == "auto" else backend)
    if backend in (None, "auto"):  # a PyTorch model's default: the fastest runtime installed
        if device.type != "cpu" or compile:
            backend = "pytorch"
        else:
            from .auto_backend import fastest_backend

            def ready(candidate: Backend) -> InferenceModel:
                return prepare_model(
                    model,
                    device=device,
                    precision=precision,
                    optimize=optimize,
                    calibration=calibration,
                    backend=candidate,
                )

            backend, prepared = fastest_backend(model, resolved, ready)
            if prepared is not None:
                return prepared
    if backend not in (None, "pytorch") and (device.type != "cpu" or compile):
        raise ValueError(f"the {backend} backend runs on the CPU without torch.compile")
    if resolved == "int8":
        if calibration is None:
            raise ValueError(
                "precision int8 needs calibration images (a few dozen like those the model will see, "
                "never the ones it is evaluated on)"
            )
        from .quantize import int8_model

        return int8_model(model.eval(), calibration, backend="openvino" if backend == "openvino" else "onnxruntime")
    if backend in ("onnxruntime", "openvino"):
        if backend == "onnxruntime" and precision == "auto":
            resolved = "fp32"  # ONNX Runtime's CPU provider has no bf16 convolutions
        return export_for(model.eval(), backend, resolved)
    model = model.to(device).eval()
    if optimize or compile or resolved != "fp32":
        from .optimize import optimize_for_inference

        return optimize_for_inference(model, compile=compile, precision=precision)
    return model


def _prepare_exported(
    model: InferenceModel, device: torch.device, precision: str, resolved: str, backend: Backend | None
) -> InferenceModel:
    """An exported model as it will run: on the CPU, by its own runtime, in what that runtime can give it."""
    name = type(model).__name__
    if device.type != "cpu":
        raise ValueError(f"{name} runs on the CPU only, not {device}")
    runtime = getattr(model, "backend", None)
    # torch.export and TorchScript programs are run by PyTorch: the pytorch backend
    family = "pytorch" if runtime in ("torch_export", "torchscript") else runtime
    if backend not in (None, family):
        raise ValueError(f"{name} runs with the {family} backend, not {backend}")
    from .openvino_runtime import OpenVinoModel

    if isinstance(model, OpenVinoModel) and model.precision != "int8" and resolved in ("fp32", "bf16"):
        model.set_precision(resolved)
        return model
    if precision not in ("fp32", "auto", getattr(model, "precision", "fp32")):  # its own precision: as it is
        raise ValueError(
            f"precision {precision} applies to PyTorch models, not {name}: "
            "an exported file runs in the precision it was exported in (int8: refineseg export --int8)"
        )
    return model
