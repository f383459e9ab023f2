"""MobileNet-v2 encoders: the published Light-Weight RefineNet layout and torchvision's."""

from __future__ import annotations

from torch import Tensor, nn

from .base import Backbone, StagedBackbone, WeightsArg, load_state_dict_file, resolve_torchvision_weights

__all__ = ["InvertedResidual", "MobileNetV2Backbone", "TorchvisionMobileNetV2Backbone"]

# (expansion t, output channels c, repeats n, first stride s), from the MobileNet-v2 paper.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# Stages whose outputs feed the decoder, and their output strides.
FEATURE_STAGES = (1, 2, 3, 4, 5, 6)
FEATURE_REDUCTIONS = (4, 8, 16, 16, 32, 32)


def _conv_bn_act(in_channels: int, out_channels: int, kernel_size: int, **options: object) -> nn.Module:
    """torchvision's ``Conv2dNormActivation``, imported when a model is built: importing
    torchvision costs seconds (it loads torch's compiler stack), which ``import refineseg`` and
    models without a torchvision part should not pay."""
    from torchvision.ops.misc import Conv2dNormActivation

    return Conv2dNormActivation(in_channels, out_channels, kernel_size, **options)


class InvertedResidual(nn.Module):
    """Expand (1x1) - depthwise (3x3) - project (1x1), with identity when shapes allow.

    Unlike torchvision's, the expansion convolution exists even when the expansion factor
    is 1, as in the published Light-Weight RefineNet checkpoints.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        expansion: Hidden width as a multiple of ``in_channels``.
        stride: Stride of the depthwise convolution (1 or 2).
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = _conv_bn_act(in_channels, hidden, 1, activation_layer=nn.ReLU6)
        self.depthwise = _conv_bn_act(hidden, hidden, 3, stride=stride, groups=hidden, activation_layer=nn.ReLU6)
        self.project = _conv_bn_act(hidden, out_channels, 1, activation_layer=None)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: Features, ``(N, in_channels, H, W)``.

        Returns:
            ``(N, out_channels, H / stride, W / stride)``.
        """
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.use_residual else out


class MobileNetV2Backbone(StagedBackbone):
    """MobileNet-v2 exactly as in the published Light-Weight RefineNet (``mbv2``).

    Six features: 24@1/4, 32@1/8, 64@1/16, 96@1/16, 160@1/32, 320@1/32.

    Args:
        weights: ``None`` (random) or a path to a state dict in this module's own layout
            (the published ImageNet file converts with
            :func:`refineseg.weights.convert.convert_state_dict`).
    """

    def __init__(self, *, weights: WeightsArg = None) -> None:
        super().__init__()
        self.stem = _conv_bn_act(3, 32, 3, stride=2, activation_layer=nn.ReLU6)
        stages = []
        in_channels = 32
        for t, c, n, s in MOBILENET_V2_STAGES:
            blocks = []
            for i in range(n):
                blocks.append(InvertedResidual(in_channels, c, t, s if i == 0 else 1))
                in_channels = c
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.feature_stages = FEATURE_STAGES
        self.channels = tuple(MOBILENET_V2_STAGES[i][1] for i in FEATURE_STAGES)
        self.reductions = FEATURE_REDUCTIONS
        if weights is not None:
            self.load_state_dict(load_state_dict_file(weights))


class TorchvisionMobileNetV2Backbone(Backbone):
    """torchvision's MobileNet-v2 (no expansion conv in the t=1 block), same six features.

    Keeps torchvision's parameter names (``features.N``) so its ImageNet weights load as
    they are.

    Args:
        weights: As for :class:`~refineseg.backbones.ResNetBackbone`: ``None``, ``"imagenet"``,
            a torchvision weights name or a local state dict.
    """

    # indices into torchvision's ``features`` after which a decoder feature is taken
    _TAPS = (3, 6, 10, 13, 16, 17)

    def __init__(self, *, weights: WeightsArg = None) -> None:
        super().__init__()
        import torchvision  # when built, not when refineseg is imported (see _conv_bn_act)

        enum, local = resolve_torchvision_weights("mobilenet_v2", weights)
        net = torchvision.models.mobilenet_v2(weights=enum)
        self.features = net.features[: self._TAPS[-1] + 1]
        self.channels = (24, 32, 64, 96, 160, 320)
        self.reductions = FEATURE_REDUCTIONS
        if local is not None:
            state = load_state_dict_file(local)
            keep = {
                k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) <= self._TAPS[-1]
            }
            self.load_state_dict(keep)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Compute the six features.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            The features at 1/4, 1/8, 1/16, 1/16, 1/32 and 1/32 of the input.
        """
        features = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._TAPS:
                features.append(x)
        return features
