"""One keyword-only builder per published variant, torchvision style.

Every builder takes ``num_classes`` (default 21, or the weights file's), ``weights`` (a
refineseg ``.safetensors`` file or the name of a published checkpoint, see
:mod:`refineseg.weights.published`) and ``weights_backbone`` (``"imagenet"``, a torchvision
weights name, or a local file; ``None`` leaves the encoder random). The remaining options
are the model class's (:class:`RefineNet`, :class:`LightWeightRefineNet`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

from ..backbones import (
    Backbone,
    MobileNetV2Backbone,
    MultiScaleBackbone,
    ResNetBackbone,
    TorchvisionMobileNetV2Backbone,
)
from ..backbones.base import WeightsArg
from ..blocks import Activation, CRPOrder
from .base import CascadeName
from .lightweight import LightWeightRefineNet
from .refinenet import RefineNet
from .registry import build_model, register_model

__all__ = [
    "LightWeightOptions",
    "RefineNetOptions",
    "lw_refinenet_mobilenet_v2",
    "lw_refinenet_mobilenet_v2_torchvision",
    "lw_refinenet_resnet18",
    "lw_refinenet_resnet34",
    "lw_refinenet_resnet50",
    "lw_refinenet_resnet101",
    "lw_refinenet_resnet152",
    "lw_refinenet_timm",
    "refinenet_resnet18",
    "refinenet_resnet34",
    "refinenet_resnet50",
    "refinenet_resnet101",
    "refinenet_resnet152",
    "refinenet_timm",
]


class RefineNetOptions(TypedDict, total=False):
    cascade: CascadeName
    image_scales: Sequence[float]
    width: int
    top_width: int
    adaptive_rcus: int
    output_rcus: int
    crp_stages: int
    crp_order: CRPOrder
    dropout: float


class LightWeightOptions(TypedDict, total=False):
    cascade: CascadeName
    width: int
    top_width: int
    crp_stages: int
    crp_order: CRPOrder
    activation: Activation
    lateral_fusion_conv: bool
    dropout: float


def _resnet_encoder(depth: int, weights: WeightsArg, image_scales: Sequence[float] | None) -> Backbone:
    if image_scales is None:
        return ResNetBackbone(depth, weights=weights)
    return MultiScaleBackbone([ResNetBackbone(depth, weights=weights) for _ in image_scales], image_scales)


def _refinenet(
    name: str,
    depth: int,
    num_classes: int | None,
    weights: WeightsArg,
    weights_backbone: WeightsArg,
    options: RefineNetOptions,
) -> RefineNet:
    def make(
        *, num_classes: int, weights_backbone: WeightsArg, image_scales: Sequence[float] | None = None, **kw: Any
    ) -> RefineNet:
        return RefineNet(_resnet_encoder(depth, weights_backbone, image_scales), num_classes=num_classes, **kw)

    return build_model(
        name, make, num_classes=num_classes, weights=weights, weights_backbone=weights_backbone, options=options
    )  # type: ignore[return-value]


def _lw_refinenet(
    name: str,
    depth: int,
    num_classes: int | None,
    weights: WeightsArg,
    weights_backbone: WeightsArg,
    options: LightWeightOptions,
) -> LightWeightRefineNet:
    def make(*, num_classes: int, weights_backbone: WeightsArg, **kw: Any) -> LightWeightRefineNet:
        return LightWeightRefineNet(ResNetBackbone(depth, weights=weights_backbone), num_classes=num_classes, **kw)

    return build_model(
        name, make, num_classes=num_classes, weights=weights, weights_backbone=weights_backbone, options=options
    )  # type: ignore[return-value]


@register_model
def refinenet_resnet18(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-18."""
    return _refinenet("refinenet_resnet18", 18, num_classes, weights, weights_backbone, options)


@register_model
def refinenet_resnet34(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-34."""
    return _refinenet("refinenet_resnet34", 34, num_classes, weights, weights_backbone, options)


@register_model
def refinenet_resnet50(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-50."""
    return _refinenet("refinenet_resnet50", 50, num_classes, weights, weights_backbone, options)


@register_model
def refinenet_resnet101(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet-101, the published ``rf101`` (118,052,437 parameters at 21 classes)."""
    return _refinenet("refinenet_resnet101", 101, num_classes, weights, weights_backbone, options)


@register_model
def refinenet_resnet152(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-152."""
    return _refinenet("refinenet_resnet152", 152, num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_resnet18(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on ResNet-18."""
    return _lw_refinenet("lw_refinenet_resnet18", 18, num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_resnet34(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on ResNet-34."""
    return _lw_refinenet("lw_refinenet_resnet34", 34, num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_resnet50(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-50, the published ``rf_lw50`` (27,357,525 parameters at 21 classes)."""
    return _lw_refinenet("lw_refinenet_resnet50", 50, num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_resnet101(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-101, the published ``rf_lw101`` (46,349,653 parameters at 21 classes)."""
    return _lw_refinenet("lw_refinenet_resnet101", 101, num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_resnet152(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-152, the published ``rf_lw152`` (61,993,301 parameters at 21 classes)."""
    return _lw_refinenet("lw_refinenet_resnet152", 152, num_classes, weights, weights_backbone, options)


_MOBILENET_DEFAULTS: LightWeightOptions = {
    "top_width": 256,
    "activation": "relu6",
    "lateral_fusion_conv": False,
    "dropout": 0.0,
}


@register_model
def lw_refinenet_mobilenet_v2(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on the published MobileNet-v2 layout, ``mbv2`` (3,284,565 parameters at 21 classes)."""

    def make(*, num_classes: int, weights_backbone: WeightsArg, **kw: Any) -> LightWeightRefineNet:
        return LightWeightRefineNet(MobileNetV2Backbone(weights=weights_backbone), num_classes=num_classes, **kw)

    options = {**_MOBILENET_DEFAULTS, **options}
    return build_model(
        "lw_refinenet_mobilenet_v2",
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=options,
    )  # type: ignore[return-value]


@register_model
def lw_refinenet_mobilenet_v2_torchvision(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on torchvision's MobileNet-v2 (its ImageNet weights download with ``weights_backbone="imagenet"``)."""

    def make(*, num_classes: int, weights_backbone: WeightsArg, **kw: Any) -> LightWeightRefineNet:
        return LightWeightRefineNet(
            TorchvisionMobileNetV2Backbone(weights=weights_backbone), num_classes=num_classes, **kw
        )

    options = {**_MOBILENET_DEFAULTS, **options}
    return build_model(
        "lw_refinenet_mobilenet_v2_torchvision",
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=options,
    )  # type: ignore[return-value]


def _with_model_name(model_name: str | None, options: Any) -> dict[str, Any]:
    return {**options, "model_name": model_name} if model_name is not None else dict(options)


def _timm_encoder(model_name: str | None, weights_backbone: Any) -> Backbone:
    from ..backbones.timm_adapter import TimmBackbone

    if model_name is None:
        raise ValueError("timm models need model_name, e.g. model_name='resnet50'")
    if weights_backbone not in (None, "imagenet", True):
        raise ValueError("for timm encoders, weights_backbone is None or 'imagenet' (timm's pretrained weights)")
    return TimmBackbone(model_name, pretrained=weights_backbone is not None)


@register_model
def refinenet_timm(
    *,
    model_name: str | None = None,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``)."""

    def make(*, num_classes: int, weights_backbone: WeightsArg, model_name: str | None = None, **kw: Any) -> RefineNet:
        return RefineNet(_timm_encoder(model_name, weights_backbone), num_classes=num_classes, **kw)

    return build_model(
        "refinenet_timm",
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=_with_model_name(model_name, options),
    )  # type: ignore[return-value]


@register_model
def lw_refinenet_timm(
    *,
    model_name: str | None = None,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``)."""

    def make(
        *, num_classes: int, weights_backbone: WeightsArg, model_name: str | None = None, **kw: Any
    ) -> LightWeightRefineNet:
        return LightWeightRefineNet(_timm_encoder(model_name, weights_backbone), num_classes=num_classes, **kw)

    return build_model(
        "lw_refinenet_timm",
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=_with_model_name(model_name, options),
    )  # type: ignore[return-value]
