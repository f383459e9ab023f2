"""refineseg: RefineNet and Light-Weight RefineNet semantic segmentation in modern PyTorch.

The public names below are imported on first use (PEP 562), so that ``import refineseg`` and
the ``refineseg`` command's ``--help`` cost no more than the Python start-up; using any of them
imports PyTorch and the part of refineseg it lives in. The model builders and classes live in
:mod:`refineseg.models` (``from refineseg.models import refinenet_resnet101``), as in torchvision.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from . import _weights_hook
from ._version import __version__ as __version__

if TYPE_CHECKING:
    from .inference.images import ImageReadError as ImageReadError
    from .inference.optimize import optimize_for_inference as optimize_for_inference
    from .inference.segmenter import Segmenter as Segmenter
    from .models.registry import get_model as get_model
    from .models.registry import list_models as list_models
    from .weights.io import WeightsError as WeightsError
    from .weights.io import save_model as save_model
    from .weights.loading import load_model as load_model

# public name -> the module that defines it
_LAZY = {
    "ImageReadError": "refineseg.inference.images",
    "Segmenter": "refineseg.inference.segmenter",
    "optimize_for_inference": "refineseg.inference.optimize",
    "WeightsError": "refineseg.weights.io",
    "get_model": "refineseg.models.registry",
    "list_models": "refineseg.models.registry",
    "save_model": "refineseg.weights.io",
    "load_model": "refineseg.weights.loading",
}

__all__ = sorted([*_LAZY, "__version__"])


def _apply_weights(*args: Any, **kwargs: Any) -> Any:
    from .weights.loading import apply_weights

    return apply_weights(*args, **kwargs)


# A builder's weights= is applied by refineseg.weights, which sits above refineseg.models: the
# models call this through refineseg._weights_hook. Installed here, because this module runs
# before any refineseg module, and without importing anything (see refineseg._weights_hook).
_weights_hook.install_applier(_apply_weights)


def __getattr__(name: str) -> Any:
    if name == "models":  # import refineseg; refineseg.models.refinenet_resnet101(...) works, as in torchvision
        return importlib.import_module("refineseg.models")
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
    elif not name.startswith("__") and name in importlib.import_module("refineseg.models").__all__:
        # the builders and model classes were top-level names up to 0.1.0; old code keeps working, warned
        warnings.warn(f"refineseg.{name} is deprecated: use refineseg.models.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("refineseg.models"), name)
    else:
        raise AttributeError(f"module 'refineseg' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
