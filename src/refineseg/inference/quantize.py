"""int8 models for the CPU: ONNX Runtime static quantization of an exported ``.onnx`` file.

:func:`quantize_model` exports a model (checked against PyTorch) and quantizes it to a file;
:func:`int8_model` does the same once per model and calibration set, keeps the result in the
cache (``$REFINESEG_HOME/int8``) and returns it ready to run: that is ``precision="int8"``.
ONNX Runtime rather than PyTorch's own x86 quantization (PT2E), because PT2E's int8 kernels
need ``torch.compile`` (a C++ compiler and minutes per input size) and, in PyTorch 2.10 and
later, the separate ``torchao`` package; ``benchmarks/precision.py --pt2e`` measures both.

Weights are quantized per output channel (int8), activations per tensor (uint8) with ranges
measured on calibration images, in the QDQ format that ONNX Runtime runs with its int8
kernels (VNNI on CPUs that have it). Calibration images should look like the images the
model will see: a few dozen from the training set are enough. The result is an ordinary
exported file (the meta travels with it), so ``refineseg predict --backend onnxruntime`` and
``refineseg evaluate --weights FILE.onnx`` run it; ``benchmarks/int8.py`` measures its
speed and the mIoU it costs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np
import torch

from .._extras import require, require_all
from .._io import atomic_write, cache_dir
from ..constants import CALIBRATION_METHODS, DEFAULT_CALIBRATION_IMAGES, CalibrationMethod
from .export import ExportReport, export_onnx
from .export_cache import model_fingerprint
from .export_format import METADATA_KEY, PRECISION_KEY, read_export_metadata
from .images import ImageLike, load_image

if TYPE_CHECKING:
    from ..models import SegmentationModel
    from .runtime import ExportedModel

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_CALIBRATION_IMAGES",
    "CalibrationMethod",
    "Int8Report",
    "int8_model",
    "quantize_model",
    "quantize_onnx",
    "spread",
]


_log = logging.getLogger(__name__)
_T = TypeVar("_T")


def spread(items: Sequence[_T], count: int) -> list[_T]:
    """At most ``count`` of ``items``: every ``len(items) // count``-th one from the first, so a
    sorted folder's calibration set spans most of it (all of it when ``count`` divides it).

    Args:
        items: The candidates, e.g. a sorted folder's image paths.
        count: How many to take at most.

    Returns:
        The chosen items, in their order.

    Raises:
        ValueError: ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"the number of calibration images must be at least 1, got {count}")
    step = max(1, len(items) // count)
    return list(items[::step][:count])


@dataclass(frozen=True)
class Int8Report:
    """An int8 file written by :func:`quantize_model`, and how far it moved from fp32.

    Attributes:
        path: The int8 ``.onnx`` file.
        export: The fp32 ONNX model's check against PyTorch.
        calibration_images: How many images calibrated the activation ranges.
        argmax_agreement: The fraction of pixels whose class int8 and fp32 ONNX agree on, for
            a random input at the export's example size.
        fp32_bytes: The fp32 ONNX file's size.
        int8_bytes: The int8 file's size.
    """

    path: Path
    export: ExportReport  # the fp32 ONNX model's check against PyTorch
    calibration_images: int
    argmax_agreement: float  # int8 against fp32 ONNX, on a random input at the export's example size
    fp32_bytes: int
    int8_bytes: int

    def summary(self) -> str:
        """One line for the command line: the file, its size, the calibration and the agreement.

        Returns:
            The summary line.
        """
        h, w = self.export.sizes[0] if self.export.sizes else (0, 0)
        percent = math.floor(self.argmax_agreement * 1e4) / 1e2
        return (
            f"wrote {self.path} (int8, {self.int8_bytes / 1e6:.1f} MB from {self.fp32_bytes / 1e6:.1f} MB, "
            f"calibrated on {self.calibration_images} image(s)); the class agrees with fp32 on "
            f"{percent:.2f}% of pixels of a random {h}x{w} input"
        )


def quantize_model(
    model: SegmentationModel,
    output: str | os.PathLike[str],
    calibration_images: Iterable[ImageLike],
    *,
    example_size: Sequence[int] = (512, 512),
    method: CalibrationMethod = "percentile",
    opset: int | None = None,
    tolerance: float = 1e-3,
    check: bool = True,
    max_side: int | None = 512,
) -> Int8Report:
    """Export ``model`` to ONNX, quantize it with :func:`quantize_onnx` into ``output``, and measure how
    often int8 keeps fp32's class.

    Args:
        model: The model to quantize; not touched.
        output: The int8 ``.onnx`` file to write.
        calibration_images: Images like those the model will see (paths, PIL images, arrays);
            a few dozen are enough.
        example_size: ``(H, W)`` to export and check at, as :func:`export_onnx` takes it.
        method: How activation ranges are set: ``"percentile"``, ``"minmax"`` or ``"entropy"``.
        opset: The ONNX opset; ``None``: the exporter's default.
        tolerance: The fp32 export's allowed logit difference from PyTorch, relative to the
            largest logit.
        check: Check the fp32 export against PyTorch as :func:`export_onnx` does.
        max_side: Downscale calibration images with a longer side than this (``None``: never).

    Returns:
        The file written, its sizes and how often int8 keeps fp32's class.

    Raises:
        ValueError: No calibration images, or an invalid option (see :func:`export_onnx` and
            :func:`quantize_onnx`).
        ImportError: ONNX or ONNX Runtime is not installed.
        ExportError: The fp32 export failed or does not match PyTorch.
    """
    from .runtime import OnnxRuntimeModel

    images = list(calibration_images)  # read before the export, which takes a while, so bad input fails fast
    if not images:
        raise ValueError("no calibration images: give at least one image")
    output = Path(output)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_file = Path(tmp) / "fp32.onnx"
        report = export_onnx(model, fp32_file, example_size=example_size, opset=opset, tolerance=tolerance, check=check)
        quantize_onnx(fp32_file, output, images, method=method, max_side=max_side)
        fp32, int8 = OnnxRuntimeModel(fp32_file), OnnxRuntimeModel(output)
        size = report.sizes[0] if report.sizes else tuple(example_size)
        x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
        agreement = (fp32(x).argmax(1) == int8(x).argmax(1)).float().mean().item()
        fp32_bytes = fp32_file.stat().st_size
    return Int8Report(output, report, len(images), agreement, fp32_bytes, output.stat().st_size)


def int8_model(
    model: SegmentationModel,
    calibration_images: Iterable[ImageLike],
    *,
    method: CalibrationMethod = "percentile",
    max_side: int | None = 512,
    threads: int | None = None,
    backend: Literal["onnxruntime", "openvino"] = "onnxruntime",
) -> ExportedModel:
    """``model`` quantized to int8 and opened with ONNX Runtime or OpenVINO: what ``precision="int8"`` runs.

    The first call for a given model (its weights and meta) and calibration set (the images'
    pixels after downscaling to ``max_side``) exports and quantizes it, which takes seconds to
    minutes, and keeps the file in ``$REFINESEG_HOME/int8`` (default ``~/.cache/refineseg``);
    later calls open that file. The result runs on the CPU, takes and returns fp32 tensors like
    the model, and carries its meta.

    Args:
        model: The model to quantize; not touched.
        calibration_images: Images like those the model will see (paths, PIL images, arrays);
            a few dozen are enough.
        method: How activation ranges are set: ``"percentile"``, ``"minmax"`` or ``"entropy"``.
        max_side: Downscale calibration images with a longer side than this (``None``: never).
        threads: The runtime's threads (default: ``torch.get_num_threads()``).
        backend: What runs the int8 file: ONNX Runtime, or OpenVINO (``[openvino]``), both
            reading the same cached file.

    Returns:
        The int8 model, opened with ``backend``.

    Raises:
        ImportError: ONNX Runtime (or ONNX, to quantize) is not installed.
        ValueError: ``method`` is unknown, or there are no calibration images.
        ImageReadError: A calibration image cannot be read.
    """
    from .backends import open_onnx

    # checked first: the fingerprint below reads its version
    require("onnxruntime", "onnx", purpose="precision int8", name="ONNX Runtime")
    if backend == "openvino":
        require("openvino", "openvino", purpose="precision int8 with OpenVINO", name="OpenVINO")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    arrays = [_downscale(load_image(image), max_side) for image in calibration_images]
    if not arrays:
        raise ValueError("precision int8 needs calibration images: give at least one image")
    key = _fingerprint(model, arrays, method)
    path = cache_dir("int8") / f"{getattr(model, 'arch', None) or 'model'}-{key[:24]}.onnx"
    if path.is_file():
        try:
            return open_onnx(path, backend, threads=threads)
        except ValueError:  # a damaged cache entry is made again rather than trusted
            _log.info("int8: %s is unreadable; quantizing again", path)
    _log.info(
        "int8: quantizing with ONNX Runtime, calibrated on %d image(s); kept in %s for later runs",
        len(arrays),
        path.parent,
    )
    report = quantize_model(model, path, arrays, method=method, max_side=max_side)
    _log.info("int8: %s", report.summary())
    return open_onnx(path, backend, threads=threads)


def _fingerprint(model: SegmentationModel, arrays: Sequence[np.ndarray], method: str) -> str:
    """What decides the int8 file: the model (as the ONNX cache fingerprints it), the calibration pixels,
    the method and ONNX Runtime's version."""
    import onnxruntime

    digest = model_fingerprint(model, method, onnxruntime.__version__)
    for array in arrays:
        digest.update(f"{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def quantize_onnx(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    calibration_images: Iterable[ImageLike],
    *,
    method: CalibrationMethod = "percentile",
    max_side: int | None = 512,
) -> Path:
    """Write an int8 copy of the exported model ``source`` to ``output``.

    Args:
        source: An fp32 ``.onnx`` file exported by refineseg.
        output: The int8 file to write; not ``source`` itself.
        calibration_images: Paths, PIL images or arrays, normalised with the model's own mean
            and std; all are scaled and centre-cropped to the first one's size (after
            downscaling).
        method: How activation ranges are set from what calibration saw: ``"percentile"``
            (99.999th percentile, robust to rare outliers), ``"minmax"`` or ``"entropy"``.
        max_side: Images with a side above this are downscaled first, which keeps calibration
            fast (``None``: never).

    Returns:
        ``output`` as a ``Path``.

    Raises:
        ImportError: ``onnx`` or ``onnxruntime`` is not installed.
        ValueError: ``method`` is unknown, there are no calibration images, ``output`` is
            ``source``, or ``source`` has no (valid) refineseg metadata.
        ImageReadError: A calibration image cannot be read.
    """
    require_all({"onnx": "onnx", "onnxruntime": "onnxruntime.quantization"}, "onnx", purpose="int8 quantization")
    import onnx
    from onnxruntime import quantization as q

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

    # one size for all: ONNX Runtime's histogram calibration stacks what each image produced
    arrays = [_downscale(load_image(image), max_side) for image in images]
    height, width = arrays[0].shape[:2]

    def batches() -> Iterator[dict[str, np.ndarray]]:
        for array in arrays:
            rgb = _fit(array, height, width)
            x = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            yield {input_name: (x - mean) / std}

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = batches()

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    reader = Reader()
    # ONNX Runtime's calibration prints its progress on stdout, which belongs to the caller's output
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
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
    for key, value in {**props, PRECISION_KEY: "int8"}.items():
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


def _fit(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``rgb`` scaled to cover ``height`` x ``width`` and centre-cropped to it (aspect ratio kept)."""
    if rgb.shape[:2] == (height, width):
        return rgb
    from PIL import Image, ImageOps

    fitted = ImageOps.fit(Image.fromarray(rgb), (width, height), Image.Resampling.BILINEAR)
    return np.asarray(fitted)
