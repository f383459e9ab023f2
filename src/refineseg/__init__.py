"""refineseg: RefineNet and Light-Weight RefineNet semantic segmentation in modern PyTorch."""

from ._version import __version__
from .inference import ImageReadError, Segmenter, optimize_for_inference
from .models import *  # noqa: F403 - builders, model classes, get_model, list_models
from .models import __all__ as _models
from .weights import WeightsError, load_model, save_model

__all__ = [
    "ImageReadError",
    "Segmenter",
    "WeightsError",
    "__version__",
    "load_model",
    "optimize_for_inference",
    "save_model",
    *_models,
]
