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
    ``mean``/``std`` apply to RGB images scaled to [0, 1].
    """

    class_names: list[str] | None = None
    palette: list[tuple[int, int, int]] | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists), as weights files and exported files store them."""
        return {
            "class_names": list(self.class_names) if self.class_names else None,
            "palette": [list(c) for c in self.palette] if self.palette else None,
            "mean": list(self.mean),
            "std": list(self.std),
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> ModelMeta:
        """The inverse of :meth:`to_json`; missing fields take their defaults."""
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

    @property
    def num_classes(self) -> int: ...

    def __call__(self, x: Tensor) -> Tensor: ...


def cascade_blocks(reductions: Sequence[int], cascade: CascadeName) -> list[list[int]]:
    """Group feature indices into RefineNet blocks, coarsest block first.

    ``"4-cascade"``: one block per resolution level (the published models);
    ``"2-cascade"``: one block for 1/16+1/32 and one for 1/4+1/8; ``"single"``: one block
    taking every feature. Features sharing a reduction always enter the same block.
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
    first, the previous block's output. ``make_block(in_channels, strides, n_laterals)``
    builds one block; the two RefineNet flavours differ only there and in the lateral
    kernel size. Dropout applies to the encoder features at ``dropout_reductions``, where
    the published models have it.
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
    """Optional dropout, then a 3x3 classifier with bias."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.dropout = nn.Dropout(dropout)
        self.classifier = conv(in_channels, num_classes, 3, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(x))


class SegmentationModel(nn.Module):
    """``encoder -> decoder -> head``; ``forward`` returns logits at the input's size.

    The head predicts at the decoder's resolution (1/4 of the input); ``forward`` resizes
    bilinearly with ``align_corners=False``. ``forward_lowres`` returns the raw 1/4 logits
    (cheaper for training losses computed at low resolution, and what the reference code
    returns).
    """

    arch: str | None = None
    arch_kwargs: dict[str, Any]

    def __init__(self, encoder: Backbone, decoder: CascadeDecoder, head: SegmentationHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.meta = ModelMeta(mean=encoder.mean, std=encoder.std)
        self.arch_kwargs = {}

    @property
    def num_classes(self) -> int:
        return self.head.classifier.out_channels

    def forward_lowres(self, x: Tensor) -> Tensor:
        return self.head(self.decoder(self.encoder(x)))

    def forward(self, x: Tensor) -> Tensor:
        logits = self.forward_lowres(x)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
