"""Encoder / decoder / head split shared by RefineNet and Light-Weight RefineNet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones import Backbone
from ..backbones.base import IMAGENET_MEAN, IMAGENET_STD
from ..blocks import LightWeightRefineNetBlock, RefineNetBlock, conv

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CascadeDecoder",
    "CascadeName",
    "InferenceModel",
    "ModelMeta",
    "SegmentationHead",
    "SegmentationModel",
    "cascade_blocks",
]


CascadeName = Literal["4-cascade", "2-cascade", "single"]


@dataclass
class ModelMeta:
    """What a model needs beyond its weights: categories, colours, input normalisation.

    Travels inside weights files, so a loaded model knows what its outputs mean.

    Attributes:
        class_names: One name per class, in class-index order, or ``None`` when unknown.
        palette: One RGB colour per class, or ``None`` (a default palette is used).
        mean: Per-channel mean subtracted from RGB images scaled to [0, 1].
        std: Per-channel standard deviation the centred image is divided by.
        provenance: Free-form notes on where the weights came from (dataset, recipe, source file).
    """

    class_names: list[str] | None = None
    palette: list[tuple[int, int, int]] | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists), as weights files and exported files store them.

        Returns:
            A dict with the keys ``class_names``, ``palette``, ``mean``, ``std`` and ``provenance``.
        """
        return {
            "class_names": list(self.class_names) if self.class_names else None,
            "palette": [list(c) for c in self.palette] if self.palette else None,
            "mean": list(self.mean),
            "std": list(self.std),
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> ModelMeta:
        """The inverse of :meth:`to_json`; missing fields take their defaults.

        Args:
            fields: A dict as :meth:`to_json` returns it, possibly with fields left out.

        Returns:
            The meta those fields describe.
        """
        palette = fields.get("palette")
        return cls(
            class_names=fields.get("class_names"),
            palette=[tuple(c) for c in palette] if palette else None,
            mean=tuple(fields.get("mean") or IMAGENET_MEAN),
            std=tuple(fields.get("std") or IMAGENET_STD),
            provenance=fields.get("provenance") or {},
        )


class InferenceModel(Protocol):
    """What a Segmenter needs of a model: logits at the input's size, and its meta.

    A :class:`SegmentationModel` is one; so is an exported model run by
    :class:`~refineseg.inference.runtime.OnnxRuntimeModel`.
    """

    meta: ModelMeta
    """Class names, palette and input normalisation."""

    @property
    def num_classes(self) -> int:
        """Number of output channels (classes)."""
        ...

    def __call__(self, x: Tensor) -> Tensor:
        """Logits for a batch of normalised images.

        Args:
            x: Images, ``(N, 3, H, W)``, normalised with ``meta.mean`` and ``meta.std``.

        Returns:
            Logits, ``(N, num_classes, H, W)``.
        """
        ...


def cascade_blocks(reductions: Sequence[int], cascade: CascadeName) -> list[list[int]]:
    """Group feature indices into RefineNet blocks, coarsest block first.

    Features sharing a reduction always enter the same block.

    Args:
        reductions: The encoder's reduction (input size / feature size) per feature.
        cascade: ``"4-cascade"``: one block per resolution level (the published models);
            ``"2-cascade"``: one block for 1/16+1/32 and one for 1/4+1/8; ``"single"``: one
            block taking every feature.

    Returns:
        For each block, coarsest first, the indices of the features it takes.

    Raises:
        ValueError: If ``cascade`` is not one of the three names.
    """
    levels = sorted(set(reductions), reverse=True)
    if cascade == "4-cascade":
        groups = [[r] for r in levels]
    elif cascade == "2-cascade":
        half = (len(levels) + 1) // 2
        groups = [levels[:half], levels[half:]]
    elif cascade == "single":
        groups = [levels]
    else:
        raise ValueError(f"cascade must be '4-cascade', '2-cascade' or 'single', got {cascade!r}")
    return [[i for i, r in enumerate(reductions) if r in group] for group in groups if group]


class CascadeDecoder(nn.Module):
    """Lateral convolutions from the encoder, then a cascade of blocks, coarse to fine.

    Each block takes the lateral features listed for it in ``cascade`` plus, after the
    first, the previous block's output. The two RefineNet flavours differ only in
    ``make_block`` and in the lateral kernel size.

    Args:
        encoder: The encoder whose features the decoder refines.
        cascade: Per block, coarsest first, the indices of the encoder features it takes
            (see :func:`~refineseg.models.base.cascade_blocks`).
        widths: Lateral convolution output channels, one per encoder feature.
        lateral_kernel: Kernel size of the lateral convolutions (3 in RefineNet, 1 in
            Light-Weight RefineNet).
        make_block: ``make_block(in_channels, strides, n_laterals)`` builds one block.
        dropout: Dropout probability on the encoder features at ``dropout_reductions``,
            where the published models have it.
        dropout_reductions: Reductions of the features dropout applies to.

    Raises:
        ValueError: If ``cascade`` does not use every encoder feature exactly once.
    """

    def __init__(
        self,
        encoder: Backbone,
        *,
        cascade: Sequence[Sequence[int]],
        widths: Sequence[int],
        lateral_kernel: int,
        make_block: Callable[[list[int], list[float], int], RefineNetBlock | LightWeightRefineNetBlock],
        dropout: float = 0.0,
        dropout_reductions: Sequence[int] = (16, 32),
    ) -> None:
        super().__init__()
        used = sorted(i for block in cascade for i in block)
        if used != list(range(len(encoder.channels))):
            raise ValueError(f"cascade {cascade} must use every encoder feature exactly once")
        self.laterals = nn.ModuleList(conv(c, w, lateral_kernel) for c, w in zip(encoder.channels, widths, strict=True))
        self.dropout = nn.Dropout(dropout)
        self.dropout_features = frozenset(
            i for i, r in enumerate(encoder.reductions) if dropout > 0 and r in dropout_reductions
        )
        self.cascade = tuple(tuple(block) for block in cascade)
        blocks = []
        previous: tuple[int, float] | None = None
        for indices in self.cascade:
            channels = [widths[i] for i in indices]
            strides = [encoder.strides[i] for i in indices]
            if previous is not None:
                channels.append(previous[0])
                strides.append(previous[1])
            block = make_block(channels, strides, len(indices))
            blocks.append(block)
            previous = (block.out_channels, min(strides))
        self.blocks = nn.ModuleList(blocks)
        self.out_channels: int = previous[0] if previous else 0
        self.out_stride: float = previous[1] if previous else 0.0

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Refine the encoder features, coarse to fine.

        Args:
            features: The encoder's features, ``(N, C_i, H / r_i, W / r_i)`` each.

        Returns:
            The last block's output, ``(N, out_channels, H / out_stride, W / out_stride)``.
        """
        laterals = [
            layer(self.dropout(f) if i in self.dropout_features else f)
            for i, (layer, f) in enumerate(zip(self.laterals, features, strict=True))
        ]
        x: Tensor | None = None
        for indices, block in zip(self.cascade, self.blocks, strict=True):
            inputs = [laterals[i] for i in indices]
            if x is not None:
                inputs.append(x)
            x = block(inputs)
        assert x is not None
        return x


class SegmentationHead(nn.Module):
    """Optional dropout, then a 3x3 classifier with bias.

    Args:
        in_channels: Channels of the decoder output.
        num_classes: Number of classes (output channels).
        dropout: Dropout probability before the classifier.

    Raises:
        ValueError: If ``num_classes`` is below 1.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.dropout = nn.Dropout(dropout)
        self.classifier = conv(in_channels, num_classes, 3, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """Classify every position.

        Args:
            x: Decoder features, ``(N, in_channels, h, w)``.

        Returns:
            Logits, ``(N, num_classes, h, w)``.
        """
        return self.classifier(self.dropout(x))


class SegmentationModel(nn.Module):
    """``encoder -> decoder -> head``; ``forward`` returns logits at the input's size.

    The head predicts at the decoder's resolution (1/4 of the input); ``forward`` resizes
    bilinearly with ``align_corners=False``. ``forward_lowres`` returns the raw 1/4 logits
    (cheaper for training losses computed at low resolution, and what the reference code
    returns).

    Args:
        encoder: The encoder.
        decoder: The decoder on the encoder's features.
        head: The classifier on the decoder's output.
    """

    arch: str | None = None
    """The registered builder that made this model (set by the builders), or ``None``."""
    arch_kwargs: dict[str, Any]
    """The builder's arguments that rebuild this architecture (saved in weights files)."""

    def __init__(self, encoder: Backbone, decoder: CascadeDecoder, head: SegmentationHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.meta = ModelMeta(mean=encoder.mean, std=encoder.std)
        self.arch_kwargs = {}

    @property
    def num_classes(self) -> int:
        """Number of classes the head predicts."""
        return self.head.classifier.out_channels

    def forward_lowres(self, x: Tensor) -> Tensor:
        """Logits at the decoder's resolution, without the final resize.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            Logits at the decoder's resolution, ``(N, num_classes, h, w)``: 1/4 of the input
                for the published encoders.
        """
        return self.head(self.decoder(self.encoder(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Logits at the input's size.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            Logits, ``(N, num_classes, H, W)``.
        """
        logits = self.forward_lowres(x)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
