"""Encoders that declare their feature ``channels`` and ``reductions``."""

from .base import Backbone, load_state_dict_file
from .efficientnet_lite import EFFICIENTNET_LITE_VARIANTS, EfficientNetLiteBackbone
from .mobilenet import InvertedResidual, MobileNetV2Backbone, TorchvisionMobileNetV2Backbone
from .multiscale import MultiScaleBackbone
from .resnet import RESNET_DEPTHS, ResNetBackbone

__all__ = [
    "EFFICIENTNET_LITE_VARIANTS",
    "RESNET_DEPTHS",
    "Backbone",
    "EfficientNetLiteBackbone",
    "InvertedResidual",
    "MobileNetV2Backbone",
    "MultiScaleBackbone",
    "ResNetBackbone",
    "TimmBackbone",
    "TorchvisionMobileNetV2Backbone",
    "load_state_dict_file",
]


def __getattr__(name: str):  # timm is optional: import the adapter only when asked for
    if name == "TimmBackbone":
        from .timm_adapter import TimmBackbone

        return TimmBackbone
    raise AttributeError(name)
