"""What every encoder tells the decoder: its feature widths and output strides."""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor, nn

from ..state_dicts import read_state_dict

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Backbone",
    "WeightsArg",
    "load_state_dict_file",
    "resolve_torchvision_weights",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """An encoder returning a list of feature maps, finest first.

    ``channels[i]`` and ``reductions[i]`` describe ``forward(x)[i]``; decoders read them
    instead of hard-coding 2048/1024/512/256. Several features may share a reduction (the
    MobileNet-v2 encoder has two at 1/16 and two at 1/32): they are fused at the same level.
    ``scales[i]`` is the image scale the feature was computed at (1.0 except for
    multi-scale encoders), so its stride relative to the input is ``reductions[i] / scales[i]``.
    """

    channels: tuple[int, ...]
    """Channels of each feature, finest first."""
    reductions: tuple[int, ...]
    """Input size / feature size of each feature (4, 8, 16, 32 for the usual four levels)."""
    # the input normalisation its pretrained weights expect (RGB in [0, 1]); ImageNet's unless
    # the encoder was trained otherwise. Models copy it into their meta, so preprocessing follows.
    mean: tuple[float, float, float] = IMAGENET_MEAN
    """Per-channel mean its pretrained weights expect, for RGB in [0, 1]."""
    std: tuple[float, float, float] = IMAGENET_STD
    """Per-channel standard deviation its pretrained weights expect."""

    @property
    def scales(self) -> tuple[float, ...]:
        """The image scale each feature was computed at (all 1.0 for a single-scale encoder)."""
        return (1.0,) * len(self.channels)

    @property
    def strides(self) -> tuple[float, ...]:
        """Each feature's stride relative to the input, ``reductions[i] / scales[i]``."""
        return tuple(r / s for r, s in zip(self.reductions, self.scales, strict=True))

    def forward(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        """Compute the features.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            One tensor per feature, finest first: ``(N, channels[i], H / strides[i], W / strides[i])``.
        """
        raise NotImplementedError


class StagedBackbone(Backbone):
    """A stem, then stages run in order; the outputs of the stages in ``feature_stages`` are the features.

    Subclasses set ``stem``, ``stages`` and ``feature_stages`` (the mobile encoders).
    """

    stem: nn.Module
    stages: nn.ModuleList
    feature_stages: tuple[int, ...]

    def forward(self, x: Tensor) -> list[Tensor]:
        """Run the stem and the stages, keeping the outputs of ``feature_stages``.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            One tensor per feature stage, finest first.
        """
        x = self.stem(x)
        features = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.feature_stages:
                features.append(x)
        return features


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a state dict from ``.safetensors`` or a PyTorch pickle, never running code.

    A pickled checkpoint holding ``{"state_dict": ...}`` (or ``model``, ``segmenter``) gives that inner
    state dict; :func:`refineseg.state_dicts.read_state_dict` does the reading.

    Args:
        path: A ``.safetensors`` file or a PyTorch ``.pth``/``.pt`` file (read with ``weights_only``).

    Returns:
        The tensors by parameter name, on the CPU.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If the file holds pickled objects beyond tensors (refused: they could run
            code), is unreadable, or holds something other than a state dict.
    """
    return read_state_dict(path)


WeightsArg = str | os.PathLike[str] | None


def resolve_torchvision_weights(model_name: str, weights: object) -> tuple[object | None, Path | None]:
    """Split a ``weights`` argument into (torchvision enum member, local file).

    Args:
        model_name: The torchvision model name, e.g. ``"resnet50"``.
        weights: ``None``; ``"imagenet"`` for torchvision's default ImageNet weights
            (downloaded on first use); a member name such as ``"IMAGENET1K_V2"`` or an enum
            member; anything else is a path to a local state dict.

    Returns:
        ``(enum member or None, local file or None)``; at most one is set.

    Raises:
        FileNotFoundError: If ``weights`` is neither a known name nor an existing file.
        TypeError: If ``weights`` is neither a string, a path nor an enum member.
    """
    if weights is None:
        return None, None
    import torchvision

    enum = torchvision.models.get_model_weights(model_name)
    if isinstance(weights, enum):
        return weights, None
    if isinstance(weights, str) and weights == "imagenet":
        return enum.DEFAULT, None
    if isinstance(weights, str) and weights in enum.__members__:
        return enum[weights], None
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if not path.is_file():
            names = ", ".join(["imagenet", *enum.__members__])
            raise FileNotFoundError(f"weights_backbone={str(weights)!r}: no such file, and not one of {names}")
        return None, path
    raise TypeError(f"weights_backbone must be a name or a path, got {type(weights).__name__}")
