"""RefineNet and Light-Weight RefineNet models and their builders."""

from .base import ModelMeta, SegmentationModel
from .builders import *  # noqa: F403 - the builders are the public API
from .builders import __all__ as _builders
from .lightweight import LightWeightRefineNet
from .refinenet import RefineNet
from .registry import get_model, list_models, register_model

__all__ = [
    "LightWeightRefineNet",
    "ModelMeta",
    "RefineNet",
    "SegmentationModel",
    "get_model",
    "list_models",
    "register_model",
    *_builders,
]
