"""Exports made once per model and kept, so running a refineseg model with ONNX Runtime or
OpenVINO pays the ONNX export (tens of seconds) on the first run only.

Files live in ``$REFINESEG_HOME/onnx`` (default ``~/.cache/refineseg/onnx``), named by the
architecture and a fingerprint of everything that decides their bytes: the weights, the meta,
the architecture options and the versions of refineseg and PyTorch. The int8 cache
(:func:`~refineseg.inference.quantize.int8_model`) fingerprints models the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .._io import cache_dir
from .._version import __version__
from .export_format import export_metadata

if TYPE_CHECKING:
    from ..models import SegmentationModel

__all__ = ["cached_onnx", "model_fingerprint"]

_log = logging.getLogger(__name__)


def model_fingerprint(model: SegmentationModel, *extra: str) -> hashlib._Hash:
    """A running SHA-256 of what decides a model's exported bytes, to which callers may add more.

    Args:
        model: The model.
        *extra: More text that decides the file (a calibration method, a runtime's version).

    Returns:
        The hash object, updated with the model's meta, options, weights and the versions.
    """
    digest = hashlib.sha256()
    options = json.dumps(getattr(model, "arch_kwargs", {}), sort_keys=True, default=str)  # e.g. crp_order
    for text in (export_metadata(model), options, __version__, torch.__version__, *extra):
        digest.update(text.encode() + b"\0")
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest


def cached_onnx(model: SegmentationModel, *, fresh: bool = False) -> Path:
    """``model``'s fp32 ONNX export, made (and checked against PyTorch) on first use and kept.

    Args:
        model: A refineseg model; not touched.
        fresh: Export again even if the file is there (a damaged cache entry).

    Returns:
        The ``.onnx`` file in the cache.

    Raises:
        ImportError: ONNX is not installed.
        ExportError: The export failed or does not match PyTorch.
    """
    from .export import export_onnx

    key = model_fingerprint(model, "onnx-fp32").hexdigest()
    path = cache_dir("onnx") / f"{getattr(model, 'arch', None) or 'model'}-{key[:24]}.onnx"
    if fresh or not path.is_file():
        _log.info("exporting the model to ONNX once; kept in %s for later runs", path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, path)  # written atomically, only once it passed its check
    return path
