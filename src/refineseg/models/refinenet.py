"""RefineNet (Lin et al., CVPR 2017): RCUs, multi-resolution fusion, chained residual pooling."""

from __future__ import annotations

from ..backbones import Backbone
from ..blocks import CRPOrder, RefineNetBlock
from .base import CascadeDecoder, CascadeName, SegmentationHead, SegmentationModel, cascade_blocks

__all__ = ["RefineNet"]


class RefineNet(SegmentationModel):
    """RefineNet on any :class:`~refineseg.backbones.Backbone`.

    Defaults are the published 4-cascaded model: lateral 3x3 convolutions to 512 channels
    at 1/32 and 256 elsewhere, 2 adaptive RCUs per encoder path, 4 pooling stages, 3 output
    RCUs per block, dropout 0.5 on the 1/16 and 1/32 features and before the classifier.
    ``cascade`` picks the paper's other variants; a
    :class:`~refineseg.backbones.MultiScaleBackbone` gives the 2-scale model.

    Args:
        encoder: The encoder.
        num_classes: Number of classes.
        cascade: How encoder features are grouped into blocks (see
            :func:`~refineseg.models.base.cascade_blocks`).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        half_width: Lateral convolution channels at the 1/2 level, where the encoder has one
            (EfficientNet-Lite with ``finest_reduction=2``); ``None``: half of ``width``, since
            a block at 1/2 runs on four times the positions of one at 1/4. The block there
            outputs this width, so the head predicts at 1/2 from it.
        adaptive_rcus: RCUs on each encoder path entering a block.
        output_rcus: RCUs after each block's pooling.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` (the published models) or ``"conv-pool"`` in each pooling stage.
        dropout: Dropout on the 1/16 and 1/32 features and before the classifier.
        batch_norm: Batch norm after every convolution of the blocks (not in the paper, whose
            decoder has no normalisation; it lets the decoder train at higher learning rates).
    """

    def __init__(
        self,
        encoder: Backbone,
        *,
        num_classes: int,
        cascade: CascadeName = "4-cascade",
        width: int = 256,
        top_width: int = 512,
        half_width: int | None = None,
        adaptive_rcus: int = 2,
        output_rcus: int = 3,
        crp_stages: int = 4,
        crp_order: CRPOrder = "pool-conv",
        dropout: float = 0.5,
        batch_norm: bool = False,
    ) -> None:
        top = max(encoder.reductions)
        level_width = {top: top_width, 2: width // 2 if half_width is None else half_width}
        widths = [level_width.get(r, width) for r in encoder.reductions]

        def make_block(channels: list[int], strides: list[float], n_laterals: int) -> RefineNetBlock:
            rcus = [adaptive_rcus] * n_laterals + [0] * (len(channels) - n_laterals)
            return RefineNetBlock(
                channels,
                strides,
                adaptive_rcus=rcus,
                output_rcus=output_rcus,
                crp_stages=crp_stages,
                crp_order=crp_order,
                batch_norm=batch_norm,
            )

        decoder = CascadeDecoder(
            encoder,
            cascade=cascade_blocks(encoder.reductions, cascade),
            widths=widths,
            lateral_kernel=3,
            make_block=make_block,
            dropout=dropout,
        )
        super().__init__(encoder, decoder, SegmentationHead(decoder.out_channels, num_classes, dropout))
