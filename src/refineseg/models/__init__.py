"""RefineNet and Light-Weight RefineNet models and their builders."""

from .base import InferenceModel, ModelMeta, SegmentationModel
from .builders import *  # noqa: F403 - the builders are the public API
from .builders import __all__ as _builders
from .lightweight import LightWeightRefineNet
from .refinenet import RefineNet
from .registry import get_model, list_models, register_model

__all__ = [
    "InferenceModel",
    "LightWeightRefineNet",
    "ModelMeta",
    "RefineNet",
    "SegmentationModel",
    "get_model",
    "list_models",
    "register_model",
    *_builders,
]
