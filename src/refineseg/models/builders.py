"""One keyword-only builder per variant, made from a table, as timm's ``model_args`` + ``_create_*``
and smp's encoder dictionary do.

:data:`ENCODERS` says how each encoder is made and where its ImageNet weights come from; each
builder at the end of this file is one row: its model class (``_refinenet`` or ``_lightweight``),
name, encoder, the first line of its docstring and its own option defaults.
The row becomes a typed keyword-only function, ``refinenet_resnet101(num_classes=21, ...)``,
registered for :func:`~refineseg.models.registry.get_model` and listed in :data:`VARIANTS`. Its
docstring is that first line, the encoder's ImageNet note and the arguments every builder of
its class shares, written once in :class:`RefineNetBuilder` and :class:`LightWeightBuilder`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol, TypedDict, TypeVar, Unpack, cast

from ..backbones import (
    Backbone,
    EfficientNetLiteBackbone,
    MobileNetV2Backbone,
    MultiScaleBackbone,
    ResNetBackbone,
    TorchvisionMobileNetV2Backbone,
)
from ..backbones.base import WeightsArg
from ..backbones.efficientnet_lite import EFFICIENTNET_LITE_VARIANTS
from ..blocks import Activation, CRPOrder
from .base import CascadeName, SegmentationModel
from .build import build_model
from .lightweight import LightWeightRefineNet
from .refinenet import RefineNet
from .registry import register_model

__all__ = [
    "ENCODERS",
    "VARIANTS",
    "Encoder",
    "ImageNetSource",
    "LightWeightBuilder",
    "LightWeightOptions",
    "RefineNetBuilder",
    "RefineNetOptions",
    "Variant",
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
        model_name: The timm model, e.g. ``"resnet50"`` (timm builders only, which need it).
        finest_reduction: 2 adds the encoder's 1/2-resolution feature as a fifth level, so the
            model predicts at 1/2 instead of 1/4 (EfficientNet-Lite builders only; default 4).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        half_width: Lateral convolution channels at the 1/2 level (default: half of ``width``).
        adaptive_rcus: RCUs on each encoder path entering a block.
        output_rcus: RCUs after each block's pooling.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        dropout: Dropout on the 1/16 and 1/32 features and before the classifier.
        batch_norm: Batch norm after every convolution of the blocks (not in the paper).
    """

    cascade: CascadeName
    image_scales: Sequence[float]
    model_name: str
    finest_reduction: int
    width: int
    top_width: int
    half_width: int
    adaptive_rcus: int
    output_rcus: int
    crp_stages: int
    crp_order: CRPOrder
    dropout: float
    batch_norm: bool


class LightWeightOptions(TypedDict, total=False):
    """The architecture options Light-Weight RefineNet builders accept as keywords; all optional.

    Attributes:
        cascade: How encoder features are grouped into blocks (``"4-cascade"``, ...).
        image_scales: Image scales of a multi-scale ResNet encoder, e.g. ``(1.2, 0.6)``
            (ResNet builders only).
        model_name: The timm model, e.g. ``"resnet50"`` (timm builders only, which need it).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        activation: ``"relu"`` or ``"relu6"``, starting each chained residual pooling.
        lateral_fusion_conv: Whether encoder paths get a 1x1 fusion convolution.
        dropout: Dropout on the 1/16 and 1/32 features.
    """

    cascade: CascadeName
    image_scales: Sequence[float]
    model_name: str
    width: int
    top_width: int
    crp_stages: int
    crp_order: CRPOrder
    activation: Activation
    lateral_fusion_conv: bool
    dropout: float


class RefineNetBuilder(Protocol):
    """A RefineNet builder, ``refinenet_*``: the arguments they all take, documented once."""

    def __call__(
        self,
        *,
        num_classes: int | None = None,
        weights: WeightsArg = None,
        weights_backbone: WeightsArg = None,
        **options: Unpack[RefineNetOptions],
    ) -> RefineNet:
        """Build the model, new or from weights.

        Args:
            num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
            weights: A refineseg ``.safetensors`` file or the name of shipped or published weights,
                or ``None`` for a new model. Read, not downloaded: ``refineseg.load_model(NAME)``
                downloads a published checkpoint once.
            weights_backbone: The encoder's initial weights: ``"imagenet"`` (from where depends on
                the encoder, see :class:`Encoder`), a torchvision weights name such as
                ``"IMAGENET1K_V2"`` (torchvision encoders) or a local state dict; ``None`` leaves
                it random. Not loaded with ``weights``.
            **options: Architecture options of :class:`RefineNet` (see :class:`RefineNetOptions`).

        Returns:
            The model.

        Raises:
            ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
        """
        ...


class LightWeightBuilder(Protocol):
    """A Light-Weight RefineNet builder, ``lw_refinenet_*``: the arguments they all take, documented once."""

    def __call__(
        self,
        *,
        num_classes: int | None = None,
        weights: WeightsArg = None,
        weights_backbone: WeightsArg = None,
        **options: Unpack[LightWeightOptions],
    ) -> LightWeightRefineNet:
        """Build the model, new or from weights.

        Args:
            num_classes: Number of classes; ``None``: the weights file's, or 21 without one.
            weights: A refineseg ``.safetensors`` file or the name of shipped or published weights,
                or ``None`` for a new model. Read, not downloaded: ``refineseg.load_model(NAME)``
                downloads a published checkpoint once.
            weights_backbone: The encoder's initial weights: ``"imagenet"`` (from where depends on
                the encoder, see :class:`Encoder`), a torchvision weights name such as
                ``"IMAGENET1K_V2"`` (torchvision encoders) or a local state dict; ``None`` leaves
                it random. Not loaded with ``weights``.
            **options: Architecture options of :class:`LightWeightRefineNet` (see
                :class:`LightWeightOptions`).

        Returns:
            The model.

        Raises:
            ValueError: If ``weights`` holds another architecture or contradicts an explicit option.
        """
        ...


ImageNetSource = Literal["torchvision", "packaged", "timm"]


@dataclass(frozen=True)
class Encoder:
    """How one encoder is made, and where its ImageNet weights come from.

    Attributes:
        make: ``make(weights, **encoder_options)``, with ``weights_backbone`` as ``weights``;
            the builder options named in its signature (``image_scales``, ``model_name``) go to
            it, the others to the model.
        imagenet: What ``weights_backbone="imagenet"`` loads: ``"torchvision"``'s weights
            (downloaded on first use), the ``"packaged"`` file of an installable package
            (offline), ``"timm"``'s pretrained weights, or ``None``: there are none.
    """

    make: Callable[..., Backbone]
    imagenet: ImageNetSource | None


def _resnet_encoder(depth: int, weights: WeightsArg, image_scales: Sequence[float] | None = None) -> Backbone:
    if image_scales is None:
        return ResNetBackbone(depth, weights=weights)
    return MultiScaleBackbone([ResNetBackbone(depth, weights=weights) for _ in image_scales], image_scales)


def _published_mobilenet(weights: WeightsArg) -> Backbone:
    return MobileNetV2Backbone(weights=weights)


def _torchvision_mobilenet(weights: WeightsArg) -> Backbone:
    return TorchvisionMobileNetV2Backbone(weights=weights)


def _efficientnet_lite_encoder(variant: str, weights: WeightsArg, finest_reduction: int = 4) -> Backbone:
    return EfficientNetLiteBackbone(variant, weights=weights, finest_reduction=finest_reduction)


def _timm_encoder(weights: Any, model_name: str | None = None) -> Backbone:
    from ..backbones.timm_adapter import TimmBackbone

    if model_name is None:
        raise ValueError("timm models need model_name, e.g. model_name='resnet50'")
    if weights not in (None, "imagenet", True):
        raise ValueError("for timm encoders, weights_backbone is None or 'imagenet' (timm's pretrained weights)")
    return TimmBackbone(model_name, pretrained=weights is not None)


ENCODERS: dict[str, Encoder] = {
    **{f"resnet{depth}": Encoder(partial(_resnet_encoder, depth), "torchvision") for depth in (18, 34, 50, 101, 152)},
    "mobilenet_v2": Encoder(_published_mobilenet, None),  # the published model's layout
    "mobilenet_v2_torchvision": Encoder(_torchvision_mobilenet, "torchvision"),
    "timm": Encoder(_timm_encoder, "timm"),
    **{
        f"efficientnet_{v}": Encoder(partial(_efficientnet_lite_encoder, v), "packaged")
        for v in EFFICIENTNET_LITE_VARIANTS
    },
}

_IMAGENET_NOTES: dict[ImageNetSource | None, str] = {
    "torchvision": '``weights_backbone="imagenet"`` downloads torchvision\'s ImageNet weights on first use.',
    "packaged": '``weights_backbone="imagenet"`` loads the packaged ImageNet weights, offline (``[imagenet]`` extra).',
    "timm": '``weights_backbone="imagenet"`` loads timm\'s pretrained weights; ``model_name`` is required.',
    None: "This encoder has no ImageNet weights: ``weights_backbone`` is a local state dict in its layout, or ``None``.",
}


@dataclass(frozen=True)
class Variant:
    """One row of the table: a model class on an encoder, with the builder's own defaults.

    Attributes:
        model: :class:`RefineNet` or :class:`LightWeightRefineNet`.
        encoder: The encoder's name in :data:`ENCODERS`.
        summary: The first line of the builder's docstring.
        defaults: The builder's option defaults; the caller's options and a weights file's
            override them.
    """

    model: type[RefineNet] | type[LightWeightRefineNet]
    encoder: str
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=dict)


VARIANTS: dict[str, Variant] = {}  # builder name -> its row, in the order of the rows below


def _create(name: str, num_classes: int | None, weights: Any, weights_backbone: Any, options: Mapping[str, Any]) -> Any:
    """The body of every builder: encoder options to the encoder, the others to the model class."""
    variant = VARIANTS[name]
    encoder = ENCODERS[variant.encoder]
    encoder_options = set(inspect.signature(encoder.make).parameters) - {"weights"}

    def make(*, num_classes: int, weights_backbone: WeightsArg, **kw: Any) -> SegmentationModel:
        encoder_kw = {k: kw.pop(k) for k in encoder_options if k in kw}
        return variant.model(encoder.make(weights_backbone, **encoder_kw), num_classes=num_classes, **kw)

    return build_model(
        name,
        make,
        num_classes=num_classes,
        weights=weights,
        weights_backbone=weights_backbone,
        options=options,
        defaults=variant.defaults,
    )


_B = TypeVar("_B", bound=Callable[..., SegmentationModel])


def _register(builder: _B, name: str, variant: Variant, shared: Callable[..., Any]) -> _B:
    """Name the builder, write its docstring from its row and ``shared``'s arguments, register it."""
    builder.__name__ = builder.__qualname__ = name
    arguments = inspect.cleandoc(shared.__doc__ or "").partition("Args:")[2]
    if arguments:  # python -OO drops docstrings
        note = _IMAGENET_NOTES[ENCODERS[variant.encoder].imagenet]
        builder.__doc__ = f"{variant.summary}\n\n{note}\n\nArgs:{arguments}"
    register_model(builder)  # a second builder of that name is an error
    VARIANTS[name] = variant
    return builder


def _refinenet(name: str, encoder: str, summary: str, defaults: RefineNetOptions | None = None) -> RefineNetBuilder:
    def builder(
        *,
        num_classes: int | None = None,
        weights: WeightsArg = None,
        weights_backbone: WeightsArg = None,
        **options: Unpack[RefineNetOptions],
    ) -> RefineNet:
        return cast(RefineNet, _create(name, num_classes, weights, weights_backbone, options))

    return _register(
        builder, name, Variant(RefineNet, encoder, summary, dict(defaults or {})), RefineNetBuilder.__call__
    )


def _lightweight(
    name: str, encoder: str, summary: str, defaults: LightWeightOptions | None = None
) -> LightWeightBuilder:
    def builder(
        *,
        num_classes: int | None = None,
        weights: WeightsArg = None,
        weights_backbone: WeightsArg = None,
        **options: Unpack[LightWeightOptions],
    ) -> LightWeightRefineNet:
        return cast(LightWeightRefineNet, _create(name, num_classes, weights, weights_backbone, options))

    variant = Variant(LightWeightRefineNet, encoder, summary, dict(defaults or {}))
    return _register(builder, name, variant, LightWeightBuilder.__call__)


# Mobile encoders end in 320-352 channels, not ResNet's 2048: the 1/32 level keeps the
# decoder's width, as the published MobileNet-v2 model does.
_MOBILE: LightWeightOptions = {"top_width": 256, "activation": "relu6", "lateral_fusion_conv": False, "dropout": 0.0}
# Full RefineNet blocks at the published 256/512 widths cost many times the whole Lite encoder
# (3x3 RCUs at 1/4); at 64 channels everywhere the model runs in 1.25x the time of the
# Light-Weight MobileNet-v2 model at 360x480 (128 channels: 3.0x; benchmarks/shipped_latency.py). No dropout: the published
# 0.5 is for 512-wide ResNet decoders, not 64-wide ones (tools/encoder_ablation.py trains both).
_LITE: RefineNetOptions = {"width": 64, "top_width": 64, "dropout": 0.0}


# fmt: off
# the table, one builder a row: its model class (_refinenet, _lightweight), name, encoder (in ENCODERS),
# first docstring line and own defaults
refinenet_resnet18 = _refinenet("refinenet_resnet18", "resnet18", "RefineNet on ResNet-18.")
refinenet_resnet34 = _refinenet("refinenet_resnet34", "resnet34", "RefineNet on ResNet-34.")
refinenet_resnet50 = _refinenet("refinenet_resnet50", "resnet50", "RefineNet on ResNet-50.")
refinenet_resnet101 = _refinenet("refinenet_resnet101", "resnet101", "RefineNet-101, the published ``rf101`` (118,052,437 parameters at 21 classes).")
refinenet_resnet152 = _refinenet("refinenet_resnet152", "resnet152", "RefineNet on ResNet-152.")
lw_refinenet_resnet18 = _lightweight("lw_refinenet_resnet18", "resnet18", "Light-Weight RefineNet on ResNet-18.")
lw_refinenet_resnet34 = _lightweight("lw_refinenet_resnet34", "resnet34", "Light-Weight RefineNet on ResNet-34.")
lw_refinenet_resnet50 = _lightweight("lw_refinenet_resnet50", "resnet50", "Light-Weight RefineNet-50, the published ``rf_lw50`` (27,357,525 parameters at 21 classes).")
lw_refinenet_resnet101 = _lightweight("lw_refinenet_resnet101", "resnet101", "Light-Weight RefineNet-101, the published ``rf_lw101`` (46,349,653 parameters at 21 classes).")
lw_refinenet_resnet152 = _lightweight("lw_refinenet_resnet152", "resnet152", "Light-Weight RefineNet-152, the published ``rf_lw152`` (61,993,301 parameters at 21 classes).")
lw_refinenet_mobilenet_v2 = _lightweight("lw_refinenet_mobilenet_v2", "mobilenet_v2", "Light-Weight RefineNet on the published MobileNet-v2 layout, ``mbv2`` (3,284,565 parameters at 21 classes).", _MOBILE)
lw_refinenet_mobilenet_v2_torchvision = _lightweight("lw_refinenet_mobilenet_v2_torchvision", "mobilenet_v2_torchvision", "Light-Weight RefineNet on torchvision's MobileNet-v2.", _MOBILE)
refinenet_timm = _refinenet("refinenet_timm", "timm", "RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``).")
lw_refinenet_timm = _lightweight("lw_refinenet_timm", "timm", "Light-Weight RefineNet on any timm ``features_only`` model (``pip install 'refineseg[timm]'``).")
lw_refinenet_efficientnet_lite0 = _lightweight("lw_refinenet_efficientnet_lite0", "efficientnet_lite0", "Light-Weight RefineNet on EfficientNet-Lite0.", _MOBILE)
lw_refinenet_efficientnet_lite1 = _lightweight("lw_refinenet_efficientnet_lite1", "efficientnet_lite1", "Light-Weight RefineNet on EfficientNet-Lite1.", _MOBILE)
lw_refinenet_efficientnet_lite2 = _lightweight("lw_refinenet_efficientnet_lite2", "efficientnet_lite2", "Light-Weight RefineNet on EfficientNet-Lite2.", _MOBILE)
refinenet_efficientnet_lite0 = _refinenet("refinenet_efficientnet_lite0", "efficientnet_lite0", "RefineNet (RCUs, 64 channels) on EfficientNet-Lite0.", _LITE)
refinenet_efficientnet_lite1 = _refinenet("refinenet_efficientnet_lite1", "efficientnet_lite1", "RefineNet (RCUs, 64 channels) on EfficientNet-Lite1.", _LITE)
refinenet_efficientnet_lite2 = _refinenet("refinenet_efficientnet_lite2", "efficientnet_lite2", "RefineNet (RCUs, 64 channels) on EfficientNet-Lite2.", _LITE)
# fmt: on
