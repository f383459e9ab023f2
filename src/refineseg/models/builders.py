"""One keyword-only builder per published variant, torchvision style.

Every builder takes ``num_classes`` (default 21, or the weights file's), ``weights`` (a
refineseg ``.safetensors`` file or the name of a published checkpoint, see
:mod:`refineseg.weights.catalogue`) and ``weights_backbone`` (``"imagenet"``, a torchvision
weights name, or a local file; ``None`` leaves the encoder random). The remaining options
are the model class's (:class:`RefineNet`, :class:`LightWeightRefineNet`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypedDict, TypeVar, Unpack

from ..backbones import (
    Backbone,
    EfficientNetLiteBackbone,
    MobileNetV2Backbone,
    MultiScaleBackbone,
    ResNetBackbone,
    TorchvisionMobileNetV2Backbone,
)
from ..backbones.base import WeightsArg
from ..blocks import Activation, CRPOrder
from .base import CascadeName
from .build import build_model
from .lightweight import LightWeightRefineNet
from .refinenet import RefineNet
from .registry import register_model

__all__ = [
    "LightWeightOptions",
    "RefineNetOptions",
    "lw_refinenet_efficientnet_lite0",
    "lw_refinenet_efficientnet_lite1",
    "lw_refinenet_efficientnet_lite2",
    "lw_refinenet_mobilenet_v2",
    "lw_refinenet_mobilenet_v2_torchvision",
    "lw_refinenet_resnet18",
    "lw_refinenet_resnet34",
    "lw_refinenet_resnet50",
    "lw_refinenet_resnet101",
    "lw_refinenet_resnet152",
    "lw_refinenet_timm",
    "refinenet_efficientnet_lite0",
    "refinenet_efficientnet_lite1",
    "refinenet_efficientnet_lite2",
    "refinenet_resnet18",
    "refinenet_resnet34",
    "refinenet_resnet50",
    "refinenet_resnet101",
    "refinenet_resnet152",
    "refinenet_timm",
]


class RefineNetOptions(TypedDict, total=False):
    """The architecture options RefineNet builders accept as keywords; all optional.

    Attributes:
        cascade: How encoder features are grouped into blocks (``"4-cascade"``, ...).
        image_scales: Image scales of a multi-scale ResNet encoder, e.g. ``(1.2, 0.6)``
            (ResNet builders only).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        adaptive_rcus: RCUs on each encoder path entering a block.
        output_rcus: RCUs after each block's pooling.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        dropout: Dropout on the 1/16 and 1/32 features and before the classifier.
    """

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
    """The architecture options Light-Weight RefineNet builders accept as keywords; all optional.

    Attributes:
        cascade: How encoder features are grouped into blocks (``"4-cascade"``, ...).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        activation: ``"relu"`` or ``"relu6"``, starting each chained residual pooling.
        lateral_fusion_conv: Whether encoder paths get a 1x1 fusion convolution.
        dropout: Dropout on the 1/16 and 1/32 features.
    """

    cascade: CascadeName
    width: int
    top_width: int
    crp_stages: int
    crp_order: CRPOrder
    activation: Activation
    lateral_fusion_conv: bool
    dropout: float


def _resnet_encoder(depth: int, weights: WeightsArg, image_scales: Sequence[float] | None = None) -> Backbone:
    if image_scales is None:
        return ResNetBackbone(depth, weights=weights)
    return MultiScaleBackbone([ResNetBackbone(depth, weights=weights) for _ in image_scales], image_scales)


def _published_mobilenet(weights: WeightsArg) -> Backbone:
    return MobileNetV2Backbone(weights=weights)


def _torchvision_mobilenet(weights: WeightsArg) -> Backbone:
    return TorchvisionMobileNetV2Backbone(weights=weights)


def _efficientnet_lite_encoder(variant: str, weights: WeightsArg) -> Backbone:
    return EfficientNetLiteBackbone(variant, weights=weights)


def _timm_encoder(weights: Any, model_name: str | None = None) -> Backbone:
    from ..backbones.timm_adapter import TimmBackbone

    if model_name is None:
        raise ValueError("timm models need model_name, e.g. model_name='resnet50'")
    if weights not in (None, "imagenet", True):
        raise ValueError("for timm encoders, weights_backbone is None or 'imagenet' (timm's pretrained weights)")
    return TimmBackbone(model_name, pretrained=weights is not None)


M = TypeVar("M", RefineNet, LightWeightRefineNet)


def _build(
    name: str,
    model_class: type[M],
    encoder: Callable[..., Backbone],
    num_classes: int | None,
    weights: WeightsArg,
    weights_backbone: WeightsArg,
    options: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> M:
    """Builder body: options named in ``encoder``'s signature go to the encoder, the rest to the model.

    ``defaults`` are the builder's own settings (a mobile encoder's narrower decoder, say): the
    caller's options override them, and so does a weights file, which only explicit options
    may contradict.
    """
    encoder_options = set(inspect.signature(encoder).parameters) - {"weights"}

    def make(*, num_classes: int, weights_backbone: WeightsArg, **kw: Any) -> M:
        encoder_kw = {k: kw.pop(k) for k in encoder_options if k in kw}
        return model_class(encoder(weights_backbone, **encoder_kw), num_classes=num_classes, **kw)

    model = build_model(
        name,
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=options,
        defaults=defaults or {},
    )
    return model  # type: ignore[return-value]


@register_model
def refinenet_resnet18(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-18.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "refinenet_resnet18",
        RefineNet,
        partial(_resnet_encoder, 18),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


@register_model
def refinenet_resnet34(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-34.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "refinenet_resnet34", RefineNet, partial(_resnet_encoder, 34), num_classes, weights, weights_backbone, options
    )


@register_model
def refinenet_resnet50(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-50.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "refinenet_resnet50", RefineNet, partial(_resnet_encoder, 50), num_classes, weights, weights_backbone, options
    )


@register_model
def refinenet_resnet101(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet-101, the published ``rf101`` (118,052,437 parameters at 21 classes).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "refinenet_resnet101", RefineNet, partial(_resnet_encoder, 101), num_classes, weights, weights_backbone, options
    )


@register_model
def refinenet_resnet152(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on ResNet-152.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "refinenet_resnet152", RefineNet, partial(_resnet_encoder, 152), num_classes, weights, weights_backbone, options
    )


@register_model
def lw_refinenet_resnet18(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on ResNet-18.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_resnet18",
        LightWeightRefineNet,
        partial(_resnet_encoder, 18),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


@register_model
def lw_refinenet_resnet34(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on ResNet-34.

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_resnet34",
        LightWeightRefineNet,
        partial(_resnet_encoder, 34),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


@register_model
def lw_refinenet_resnet50(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-50, the published ``rf_lw50`` (27,357,525 parameters at 21 classes).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_resnet50",
        LightWeightRefineNet,
        partial(_resnet_encoder, 50),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


@register_model
def lw_refinenet_resnet101(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-101, the published ``rf_lw101`` (46,349,653 parameters at 21 classes).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_resnet101",
        LightWeightRefineNet,
        partial(_resnet_encoder, 101),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


@register_model
def lw_refinenet_resnet152(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet-152, the published ``rf_lw152`` (61,993,301 parameters at 21 classes).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_resnet152",
        LightWeightRefineNet,
        partial(_resnet_encoder, 152),
        num_classes,
        weights,
        weights_backbone,
        options,
    )


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
    """Light-Weight RefineNet on the published MobileNet-v2 layout, ``mbv2`` (3,284,565 parameters at 21 classes).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: A local state dict in the encoder's layout, or ``None`` (random). Not
            loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_mobilenet_v2",
        LightWeightRefineNet,
        _published_mobilenet,
        num_classes,
        weights,
        weights_backbone,
        options,
        defaults=_MOBILENET_DEFAULTS,
    )


@register_model
def lw_refinenet_mobilenet_v2_torchvision(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on torchvision's MobileNet-v2 (``weights_backbone="imagenet"`` downloads its weights).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (torchvision's, downloaded
            on first use), a torchvision weights name such as ``"IMAGENET1K_V2"`` or a local state
            dict; ``None`` leaves it random. Not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _build(
        "lw_refinenet_mobilenet_v2_torchvision",
        LightWeightRefineNet,
        _torchvision_mobilenet,
        num_classes,
        weights,
        weights_backbone,
        options,
        defaults=_MOBILENET_DEFAULTS,
    )


def _with_model_name(model_name: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    return {**options, "model_name": model_name} if model_name is not None else dict(options)


@register_model
def refinenet_timm(
    *,
    model_name: str | None = None,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``).

    Args:
        model_name: The timm model name, e.g. ``"resnet50"`` (required).
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: ``None`` (random) or ``"imagenet"`` (timm's pretrained weights);
            not loaded with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
            For timm, also if ``model_name`` is missing.
    """
    merged = _with_model_name(model_name, options)
    return _build("refinenet_timm", RefineNet, _timm_encoder, num_classes, weights, weights_backbone, merged)


@register_model
def lw_refinenet_timm(
    *,
    model_name: str | None = None,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``).

    Args:
        model_name: The timm model name, e.g. ``"resnet50"`` (required).
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: ``None`` (random) or ``"imagenet"`` (timm's pretrained weights);
            not loaded with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
            For timm, also if ``model_name`` is missing.
    """
    merged = _with_model_name(model_name, options)
    return _build(
        "lw_refinenet_timm", LightWeightRefineNet, _timm_encoder, num_classes, weights, weights_backbone, merged
    )


# Mobile encoders end in 320-352 channels, not ResNet's 2048: the 1/32 level keeps the
# decoder's width, as the published MobileNet-v2 model does.
_LITE_LIGHTWEIGHT_DEFAULTS: LightWeightOptions = _MOBILENET_DEFAULTS
# Full RefineNet blocks at the published 256/512 widths cost many times the whole Lite encoder
# (3x3 RCUs at 1/4); at 64 channels everywhere the model runs in 1.25x the time of the
# Light-Weight MobileNet-v2 model at 360x480 (128 channels: 3.0x; benchmarks/shipped_latency.py). No dropout: the published
# 0.5 is for 512-wide ResNet decoders, not 64-wide ones (tools/encoder_ablation.py trains both).
_LITE_REFINENET_DEFAULTS: RefineNetOptions = {"width": 64, "top_width": 64, "dropout": 0.0}


def _lw_lite(
    variant: str, num_classes: int | None, weights: WeightsArg, weights_backbone: WeightsArg, options: Any
) -> LightWeightRefineNet:
    return _build(
        f"lw_refinenet_efficientnet_{variant}",
        LightWeightRefineNet,
        partial(_efficientnet_lite_encoder, variant),
        num_classes,
        weights,
        weights_backbone,
        options,
        defaults=_LITE_LIGHTWEIGHT_DEFAULTS,
    )


def _rf_lite(
    variant: str, num_classes: int | None, weights: WeightsArg, weights_backbone: WeightsArg, options: Any
) -> RefineNet:
    return _build(
        f"refinenet_efficientnet_{variant}",
        RefineNet,
        partial(_efficientnet_lite_encoder, variant),
        num_classes,
        weights,
        weights_backbone,
        options,
        defaults=_LITE_REFINENET_DEFAULTS,
    )


@register_model
def lw_refinenet_efficientnet_lite0(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on EfficientNet-Lite0 (``weights_backbone="imagenet"``: offline, ``[imagenet]`` extra).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _lw_lite("lite0", num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_efficientnet_lite1(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on EfficientNet-Lite1 (``weights_backbone="imagenet"``: offline, ``[imagenet]`` extra).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _lw_lite("lite1", num_classes, weights, weights_backbone, options)


@register_model
def lw_refinenet_efficientnet_lite2(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[LightWeightOptions],
) -> LightWeightRefineNet:
    """Light-Weight RefineNet on EfficientNet-Lite2 (``weights_backbone="imagenet"``: offline, ``[imagenet]`` extra).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`LightWeightRefineNet` (see :class:`LightWeightOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _lw_lite("lite2", num_classes, weights, weights_backbone, options)


@register_model
def refinenet_efficientnet_lite0(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet (RCUs, 64 channels) on EfficientNet-Lite0 (``weights_backbone="imagenet"``: offline).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _rf_lite("lite0", num_classes, weights, weights_backbone, options)


@register_model
def refinenet_efficientnet_lite1(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet (RCUs, 64 channels) on EfficientNet-Lite1 (``weights_backbone="imagenet"``: offline).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _rf_lite("lite1", num_classes, weights, weights_backbone, options)


@register_model
def refinenet_efficientnet_lite2(
    *,
    num_classes: int | None = None,
    weights: WeightsArg = None,
    weights_backbone: WeightsArg = None,
    **options: Unpack[RefineNetOptions],
) -> RefineNet:
    """RefineNet (RCUs, 64 channels) on EfficientNet-Lite2 (``weights_backbone="imagenet"``: offline).

    Args:
        num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
        weights: A refineseg ``.safetensors`` file or the name of a published checkpoint, or
            ``None`` for a new model.
        weights_backbone: The encoder's initial weights: ``"imagenet"`` (the packaged file, offline,
            ``[imagenet]`` extra) or a local state dict; ``None`` leaves it random. Not loaded
            with ``weights``.
        **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

    Returns:
        The model.

    Raises:
        ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
    """
    return _rf_lite("lite2", num_classes, weights, weights_backbone, options)
