"""Any timm ``features_only`` model as an encoder (needs the ``[timm]`` extra)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .._extras import require
from .base import Backbone

__all__ = ["TimmBackbone"]


class TimmBackbone(Backbone):
    """Wraps ``timm.create_model(name, features_only=True)``.

    Picks the features whose reductions are 4, 8, 16 and 32 (the four RefineNet levels)
    and reads their widths from timm's ``feature_info``, so any timm family works.
    The input normalisation is read from timm's pretrained config when it has one.

    Args:
        model_name: The timm model name, e.g. ``"resnet50"`` or ``"convnext_tiny"``.
        pretrained: Whether to load timm's pretrained weights (downloaded on first use).
        **kwargs: Passed to ``timm.create_model``; ``pretrained_cfg_overlay=dict(file=...)``
            loads a local weights file instead of downloading.

    Raises:
        ImportError: If timm is not installed.
        ValueError: If the model has no features at 1/4, 1/8, 1/16 and 1/32.
    """

    def __init__(self, model_name: str, *, pretrained: bool = False, **kwargs: Any) -> None:
        super().__init__()
        timm = require("timm", "timm", purpose="the timm adapter")
        probe = timm.create_model(model_name, pretrained=False, features_only=True, **kwargs)
        probe_info: Any = probe.feature_info
        reductions = list(probe_info.reduction())
        wanted = [reductions.index(r) for r in (4, 8, 16, 32) if r in reductions]
        if len(wanted) != 4:
            raise ValueError(f"timm model {model_name!r} has feature reductions {reductions}; need 4, 8, 16 and 32")
        del probe
        self.model = timm.create_model(
            model_name, pretrained=pretrained, features_only=True, out_indices=wanted, **kwargs
        )
        info: Any = self.model.feature_info
        self.channels = tuple(info.channels())
        self.reductions = tuple(info.reduction())
        self.model_name = model_name
        # timm's pretrained config says how its weights were trained (e.g. 0.5/0.5 for tf_ ports)
        cfg: Any = getattr(self.model, "pretrained_cfg", None) or {}
        if len(cfg.get("mean", ())) == 3 and len(cfg.get("std", ())) == 3:
            self.mean, self.std = tuple(cfg["mean"]), tuple(cfg["std"])

    def forward(self, x: Tensor) -> list[Tensor]:
        """Compute the four features.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            The features at 1/4, 1/8, 1/16 and 1/32 of the input.
        """
        return list(self.model(x))
