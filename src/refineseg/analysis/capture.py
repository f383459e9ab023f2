"""Activation capture: what each encoder level, RefineNet block and pooling stage of a model computes.

:func:`capture_activations` runs a model once with forward hooks and keeps copies of the
tensors :mod:`refineseg.analysis.visualize` draws. Nothing about the model changes: the
hooks are removed afterwards (also after an error) and the training flag is restored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..blocks import ChainedResidualPooling
from ..models.base import SegmentationModel
from .hooks import removing_hooks

__all__ = ["Activations", "BlockActivations", "capture_activations"]


@dataclass
class BlockActivations:
    """What one RefineNet block saw and made (``1xCxHxW`` tensors).

    Attributes:
        inputs: The lateral features listed for the block, then the previous block's output.
        fused: After multi-resolution fusion (``None`` for a single-input block).
        pool_input: The chained residual pooling's input after its activation.
        stages: What each pooling stage adds to the sum.
        pool_output: The sum: the chained residual pooling's output.
        output: The block's output.
    """

    inputs: list[Tensor] = field(default_factory=list)
    fused: Tensor | None = None
    pool_input: Tensor | None = None
    stages: list[Tensor] = field(default_factory=list)
    pool_output: Tensor | None = None
    output: Tensor | None = None


@dataclass
class Activations:
    """Every activation :func:`~refineseg.analysis.visualize.visualize` draws, from one forward pass.

    Attributes:
        encoder: The encoder's features, fine to coarse (``1xCxHxW`` each).
        blocks: What each RefineNet block saw and made, in the decoder's order.
        logits: The model's ``1xKxHxW`` output.
    """

    encoder: list[Tensor]
    blocks: list[BlockActivations]
    logits: Tensor


def _keep(t: Tensor) -> Tensor:
    # a copy: an optimised model's in-place activations would otherwise change it later
    return t.detach().clone()


def capture_activations(model: SegmentationModel, x: Tensor) -> Activations:
    """Run ``model`` on the normalised ``1x3xHxW`` batch ``x`` and record its activations.

    Uses forward hooks only, removed before returning; the model runs in eval mode under
    ``torch.inference_mode`` and is left in the mode it was in.

    Args:
        model: A PyTorch RefineNet (not an exported or optimised one: every block must run).
        x: The image batch, normalised with the model's mean and std.

    Returns:
        Copies of the encoder features, of every block's tensors and of the logits.

    Raises:
        TypeError: If ``model`` is not a :class:`~refineseg.models.base.SegmentationModel`.
        ValueError: If ``x`` is not one ``1x3xHxW`` image.
    """
    if not isinstance(model, SegmentationModel):
        raise TypeError(f"visualizing needs a PyTorch SegmentationModel, got {type(model).__name__}")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected a 1x3xHxW batch, got shape {tuple(x.shape)}")
    encoder: list[Tensor] = []
    blocks = [BlockActivations() for _ in model.decoder.blocks]

    def on_encoder(module: nn.Module, args: Any, output: Sequence[Tensor]) -> None:
        encoder.extend(_keep(f) for f in output)

    def on_block(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.inputs = [_keep(t) for t in args[0]]
            record.output = _keep(output)

        return hook

    def on_fusion(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.fused = _keep(output)

        return hook

    def on_pool_input(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.pool_input = _keep(output)

        return hook

    def on_stage(record: BlockActivations, crp: ChainedResidualPooling, stage: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            # pool-conv: the convolution's output is what the stage adds; conv-pool: its pooled output
            # (recomputed here: the pooling module is shared by all stages, so it cannot tell them apart)
            top = output if crp.pool_first else crp.pool(output)
            record.stages[stage] = _keep(top)

        return hook

    def on_pool_output(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.pool_output = _keep(output)

        return hook

    was_training = model.training
    with removing_hooks() as handles:
        handles.append(model.encoder.register_forward_hook(on_encoder))
        for block, record in zip(model.decoder.blocks, blocks, strict=True):
            handles.append(block.register_forward_hook(on_block(record)))
            fusion = getattr(block, "fusion", None)
            if isinstance(fusion, nn.Module):
                handles.append(fusion.register_forward_hook(on_fusion(record)))
            crp = getattr(block, "pool", None)
            if isinstance(crp, ChainedResidualPooling):
                record.stages = [torch.empty(0)] * len(crp.convs)
                handles.append(crp.activation.register_forward_hook(on_pool_input(record)))
                for i, layer in enumerate(crp.convs):
                    handles.append(layer.register_forward_hook(on_stage(record, crp, i)))
                handles.append(crp.register_forward_hook(on_pool_output(record)))
        try:
            model.eval()
            with torch.inference_mode():
                logits = model(x)
        finally:
            model.train(was_training)
    return Activations(encoder=encoder, blocks=blocks, logits=logits)
