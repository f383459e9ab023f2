"""int8 models for the CPU: ONNX Runtime static quantization of an exported ``.onnx`` file.

Weights are quantized per output channel (int8), activations per tensor (uint8) with ranges
measured on calibration images, in the QDQ format that ONNX Runtime runs with its int8
kernels (VNNI on CPUs that have it). Calibration images should look like the images the
model will see: a few dozen from the training set are enough. The result is an ordinary
exported file (the meta travels with it), so ``refineseg predict --backend onnxruntime`` and
``refineseg evaluate --weights FILE.onnx`` run it; ``benchmarks/int8.py`` measures its
speed and the mIoU it costs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from .._io import atomic_write
from .export import METADATA_KEY, ONNX_INSTALL_HINT, read_export_metadata
from .images import ImageLike, load_image

__all__ = ["CalibrationMethod", "quantize_onnx"]

CalibrationMethod = Literal["minmax", "percentile", "entropy"]


def quantize_onnx(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    calibration_images: Iterable[ImageLike],
    *,
    method: CalibrationMethod = "percentile",
    max_side: int | None = 512,
) -> Path:
    """Write an int8 copy of the exported model ``source`` to ``output``.

    ``calibration_images`` (paths, PIL images or arrays) are normalised with the model's own
    mean and std; images with a side above ``max_side`` are downscaled first, which keeps
    calibration fast. ``method`` picks how activation ranges are set from what calibration
    saw: ``"percentile"`` (99.999th percentile, robust to rare outliers), ``"minmax"`` or
    ``"entropy"``.
    """
    try:
        import onnx
        from onnxruntime import quantization as q
    except ImportError:
        raise ImportError(f"int8 quantization needs onnx and onnxruntime: {ONNX_INSTALL_HINT}") from None
    methods = {"minmax": q.CalibrationMethod.MinMax, "percentile": q.CalibrationMethod.Percentile}
    methods["entropy"] = q.CalibrationMethod.Entropy
    if method not in methods:
        raise ValueError(f"method must be one of {', '.join(methods)}, got {method!r}")
    images = list(calibration_images)
    if not images:
        raise ValueError("no calibration images: give at least one image")
    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise ValueError(f"{output}: refusing to overwrite the model being quantized")
    model = onnx.load(str(source))
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ValueError(f"{source}: not an ONNX file exported by refineseg (no '{METADATA_KEY}' metadata)")
    exported = read_export_metadata(props[METADATA_KEY], source=str(source))
    mean = np.asarray(exported.meta.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(exported.meta.std, dtype=np.float32).reshape(1, 3, 1, 1)
    input_name = model.graph.input[0].name

    def batches() -> Iterator[dict[str, np.ndarray]]:
        for image in images:
            rgb = _downscale(load_image(image), max_side)
            x = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            yield {input_name: (x - mean) / std}

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = batches()

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    reader = Reader()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        q.quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantized = Path(tmp) / "int8.onnx"
        q.quantize_static(
            str(prepared),
            str(quantized),
            reader,
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=methods[method],
            extra_options={"CalibTensorRangeSymmetric": False},
        )
        result = onnx.load(str(quantized))
    del result.metadata_props[:]
    for key, value in props.items():
        result.metadata_props.add(key=key, value=value)
    return atomic_write(output, lambda tmp: onnx.save(result, tmp))


def _downscale(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return rgb
    from PIL import Image

    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
