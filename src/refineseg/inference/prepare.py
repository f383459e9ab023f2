"""The model as it will run: optimised, converted to bf16 or quantized to int8, once.

``Segmenter`` and ``evaluate`` both take a model and the user's precision and speed options;
this is where those options become the object that runs, so both mean the same by them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models import InferenceModel, SegmentationModel
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
) -> InferenceModel:
    """``model`` ready to run on ``device`` in ``precision`` (see :mod:`refineseg.inference.precision`).

    A PyTorch model goes through :func:`~refineseg.optimize_for_inference` when ``optimize``,
    ``compile`` or a precision other than fp32 asks for it, or through
    :func:`~refineseg.inference.quantize.int8_model` for int8. An exported model (ONNX
    Runtime, TorchScript) runs as it is, in the precision it was exported in.

    Args:
        model: A refineseg PyTorch model or an exported model.
        device: Where to run; exported models run on the CPU only.
        precision: ``fp32``, ``bf16``, ``int8`` or ``auto``; ``"auto"`` without optimisation is
            fp32: "as built" means as built. Exported models take ``fp32`` or ``auto`` only.
        optimize: Rearrange a PyTorch model with :func:`~refineseg.optimize_for_inference`.
        compile: Also ``torch.compile`` it.
        calibration: Images to calibrate int8 quantization with; int8 only, and required there.

    Returns:
        The model that runs: ``model`` itself (in eval mode, on ``device``), an optimised copy,
        or an int8 ONNX Runtime model.

    Raises:
        ValueError: ``calibration`` without int8, int8 without ``calibration``, an exported
            model with a device other than the CPU or a precision other than fp32/auto, or
            an invalid ``precision`` (see :func:`resolve_precision`).
    """
    device = torch.device(device)
    if precision == "auto" and not (optimize or compile):
        precision = "fp32"
    resolved = resolve_precision(precision, device)
    if calibration is not None and resolved != "int8":
        raise ValueError(f"calibration images apply to precision int8 only, not {resolved}")
    if not isinstance(model, SegmentationModel):
        if device.type != "cpu":
            raise ValueError(f"{type(model).__name__} runs on the CPU only, not {device}")
        if precision not in ("fp32", "auto"):
            raise ValueError(
                f"precision {precision} applies to PyTorch models, not {type(model).__name__}: "
                "an exported file runs in the precision it was exported in (int8: refineseg export --int8)"
            )
        return model
    if resolved == "int8":
        if calibration is None:
            raise ValueError(
                "precision int8 needs calibration images (a few dozen like those the model will see, "
                "never the ones it is evaluated on)"
            )
        from .quantize import int8_model

        return int8_model(model.eval(), calibration)
    model = model.to(device).eval()
    if optimize or compile or resolved != "fp32":
        from .optimize import optimize_for_inference

        return optimize_for_inference(model, compile=compile, precision=precision)
    return model
