"""An exported ``.onnx`` file run by OpenVINO on the CPU, in fp32, bf16 or int8.

OpenVINO reads refineseg's ONNX export directly (no conversion step, the metadata comes
along as its ``framework`` run-time info). It compiles a network for one input shape at a
time: static shapes let its CPU plugin pick kernels and fuse the encoder's "same" padding for
that size, so each shape seen is compiled once (the compiled blob also goes to
``$REFINESEG_HOME/openvino`` through OpenVINO's own model cache, so the next process skips the
compilation) and the last few are kept in memory.

:meth:`OpenVinoModel.labels` answers class indices instead of logits: the network is compiled
with a TopK (k=1, the first of equal maxima, as numpy's arg-max) over the classes appended, so
the arg-max runs inside OpenVINO's graph, in parallel, and the 11xHxW float logits never reach
Python (``python benchmarks/runtimes.py``'s pipeline rows measure what that saves).

The precision is OpenVINO's inference precision hint: ``fp32`` is ``f32``, ``bf16`` is
``bf16`` (OpenVINO's own default on CPUs with native bf16, so it is always set explicitly).
An int8 file (``refineseg export --int8``, or what ``precision="int8"`` quantizes and caches)
runs its quantized operations in int8 and the rest in f32, as ONNX Runtime runs it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from .._errors import one_line
from .._extras import require
from .._io import cache_dir
from .export_format import METADATA_KEY, PRECISION_KEY
from .runtime import ExportedModel

__all__ = ["OPENVINO_HINTS", "OpenVinoModel"]

# refineseg's precision -> OpenVINO's INFERENCE_PRECISION_HINT
OPENVINO_HINTS = {"fp32": "f32", "bf16": "bf16"}
# compiled shapes kept in memory: a folder of mixed sizes recompiles (from OpenVINO's disk cache) beyond this
_COMPILED_SHAPES = 8  # (shape, logits or labels) pairs
_EXPECTED = "expected a file written by 'refineseg export'"


class OpenVinoModel(ExportedModel):
    """An exported ``.onnx`` file run by OpenVINO's CPU plugin.

    Args:
        path: The ``.onnx`` file, written by ``refineseg export`` (fp32, or int8 with ``--int8``).
        precision: ``"fp32"`` or ``"bf16"``: the arithmetic of a float file's network. An int8
            file runs in int8 whatever is asked (``self.precision`` says ``"int8"``).
        threads: OpenVINO's inference threads (default: ``torch.get_num_threads()``, what
            PyTorch would have used).

    Raises:
        ImportError: ``openvino`` is not installed (``pip install 'refineseg[openvino]'``).
        FileNotFoundError: ``path`` is not a file.
        ValueError: ``threads`` below 1, an unknown precision, or a file that is not an ONNX
            model with refineseg metadata, one 4-d input and one output.
    """

    backend = "openvino"

    def __init__(
        self, path: str | os.PathLike[str], *, precision: Literal["fp32", "bf16"] = "fp32", threads: int | None = None
    ) -> None:
        ov = require("openvino", "openvino", purpose="running models with OpenVINO", name="OpenVINO")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        super().__init__(path)
        self._core = ov.Core()
        self._core.set_property({"CACHE_DIR": str(cache_dir("openvino"))})
        try:
            self._network = self._core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO raises RuntimeError (or its own types) for anything unreadable
            message = one_line(exc)
            raise ValueError(f"{self.path}: not a valid ONNX model ({message}); {_EXPECTED}") from None
        if not self._network.has_rt_info(["framework", METADATA_KEY]):
            raise ValueError(f"{self.path}: an ONNX model without refineseg metadata ('{METADATA_KEY}'); {_EXPECTED}")
        self._set_meta(self._network.get_rt_info(["framework", METADATA_KEY]).astype(str))
        if len(self._network.inputs) != 1 or self._network.input(0).get_partial_shape().rank.get_length() != 4:
            raise ValueError(f"{self.path}: expected one 4-d input and one output; {_EXPECTED}")
        if len(self._network.outputs) != 1:
            raise ValueError(f"{self.path}: expected one 4-d input and one output; {_EXPECTED}")
        quantized = self._network.has_rt_info(["framework", PRECISION_KEY]) and (
            self._network.get_rt_info(["framework", PRECISION_KEY]).astype(str) == "int8"
        )
        self._int8 = quantized
        self.threads = threads or torch.get_num_threads()
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()  # an OpenVINO infer request serves one call at a time
        self.precision = "fp32"
        self.set_precision(precision)

    def set_precision(self, precision: str) -> None:
        """Run a float file's network in ``precision`` from the next call on (an int8 file stays int8).

        Args:
            precision: ``"fp32"`` or ``"bf16"``.

        Raises:
            ValueError: Another precision.
        """
        if precision not in OPENVINO_HINTS:
            raise ValueError(f"OpenVINO runs a float ONNX file in {' or '.join(OPENVINO_HINTS)}, not {precision!r}")
        with self._lock:
            self._compiled.clear()
            self.precision = "int8" if self._int8 else precision

    def _compiled_for(self, shape: tuple[int, ...], *, labels: bool = False) -> Any:
        key = (*shape, labels)
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        network = self._network.clone()
        network.reshape({network.input(0): list(shape)})
        if labels:
            _answer_labels(network)
        hint = "f32" if self._int8 else OPENVINO_HINTS[self.precision]
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        compiled = self._core.compile_model(network, "CPU", config)
        request = compiled.create_infer_request()
        self._compiled[key] = (compiled, request)
        if len(self._compiled) > _COMPILED_SHAPES:
            self._compiled.popitem(last=False)
        return self._compiled[key]

    def forward(self, x: Tensor) -> Tensor:
        """Run the network compiled for ``x``'s shape (compiling it on first sight).

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            The logits (N, C, H, W).
        """
        return torch.from_numpy(self._infer(x, labels=False))

    def labels(self, x: Tensor) -> np.ndarray:
        """The class of each pixel, computed inside the network (see the module's docstring).

        Args:
            x: A float32 CPU image batch (N, 3, H, W).

        Returns:
            ``N x H x W`` class indices, uint8 (int32 above 256 classes), the first of equal
            maxima as :meth:`forward`'s logits' arg-max gives them.
        """
        indices = self._infer(x, labels=True)[:, 0]
        return indices.astype(np.uint8 if self.num_classes <= 256 else np.int32)

    def _infer(self, x: Tensor, *, labels: bool) -> np.ndarray:
        """The network's one output for ``x`` (logits, or labels), copied out of the request's buffer."""
        array = x.contiguous().numpy()
        with self._lock:
            compiled, request = self._compiled_for(tuple(array.shape), labels=labels)
            return request.infer({0: array})[compiled.output(0)].copy()  # the buffer is reused by the next call

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, arch={self.arch!r}, num_classes={self.num_classes}, "
            f"precision={self.precision!r})"
        )


def _answer_labels(network: Any) -> None:
    """Replace ``network``'s logits output by their arg-max over the classes (TopK, k=1, ``stable``:
    the first of equal maxima, as numpy's and torch's arg-max)."""
    import openvino.opset11 as ops

    (logits,) = network.get_results()
    top = ops.topk(logits.input_value(0), np.int64(1), 1, "max", "value", "i32", stable=True)
    network.remove_result(logits)
    network.add_results([ops.result(top.output(1))])
