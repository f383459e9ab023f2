"""Light-Weight RefineNet (Nekrasov et al., BMVC 2018)."""

from __future__ import annotations

from ..backbones import Backbone
from ..blocks import Activation, CRPOrder, LightWeightRefineNetBlock
from .base import CascadeDecoder, CascadeName, SegmentationHead, SegmentationModel, cascade_blocks

__all__ = ["LightWeightRefineNet"]


class LightWeightRefineNet(SegmentationModel):
    """Light-Weight RefineNet on any :class:`~refineseg.backbones.Backbone`.

    1x1 lateral convolutions, 1x1 fusion and pooling convolutions, no RCUs, a 3x3
    classifier. ResNet defaults follow the published ``rf_lw`` models (512 channels at
    1/32, a 1x1 fusion convolution on every encoder path that is fused with another,
    dropout 0.5 on the 1/16 and 1/32 features); the MobileNet-v2 model uses
    ``top_width=256, activation="relu6", lateral_fusion_conv=False, dropout=0``.

    Args:
        encoder: The encoder.
        num_classes: Number of classes.
        cascade: How encoder features are grouped into blocks (see
            :func:`~refineseg.models.base.cascade_blocks`).
        width: Lateral convolution channels below the coarsest level.
        top_width: Lateral convolution channels at the coarsest level.
        crp_stages: Chained residual pooling stages per block.
        crp_order: ``"pool-conv"`` (the published models) or ``"conv-pool"`` in each pooling stage.
        activation: The activation that starts each chained residual pooling.
        lateral_fusion_conv: Whether encoder paths get a 1x1 fusion convolution (the
            previous block's output always does).
        dropout: Dropout on the 1/16 and 1/32 features.
    """

    def __init__(
        self,
        encoder: Backbone,
        *,
        num_classes: int,
        cascade: CascadeName = "4-cascade",
        width: int = 256,
        top_width: int = 512,
        crp_stages: int = 4,
        crp_order: CRPOrder = "pool-conv",
        activation: Activation = "relu",
        lateral_fusion_conv: bool = True,
        dropout: float = 0.5,
    ) -> None:
        top = max(encoder.reductions)
        widths = [top_width if r == top else width for r in encoder.reductions]

        def make_block(channels: list[int], strides: list[float], n_laterals: int) -> LightWeightRefineNetBlock:
            project = [lateral_fusion_conv] * n_laterals + [True] * (len(channels) - n_laterals)
            return LightWeightRefineNetBlock(
                channels, strides, project=project, crp_stages=crp_stages, crp_order=crp_order, activation=activation
            )

        decoder = CascadeDecoder(
            encoder,
            cascade=cascade_blocks(encoder.reductions, cascade),
            widths=widths,
            lateral_kernel=1,
            make_block=make_block,
            dropout=dropout,
        )
        super().__init__(encoder, decoder, SegmentationHead(decoder.out_channels, num_classes))
