"""torchvision ResNets as four-level encoders (1/4, 1/8, 1/16, 1/32)."""

from __future__ import annotations

from torch import Tensor

from .base import Backbone, WeightsArg, load_state_dict_file, resolve_torchvision_weights

__all__ = ["RESNET_DEPTHS", "ResNetBackbone"]

RESNET_DEPTHS = (18, 34, 50, 101, 152)


class ResNetBackbone(Backbone):
    """A torchvision ResNet without its pooling and classifier.

    Parameter names are torchvision's (``conv1``, ``bn1``, ``layer1``...), so ImageNet
    checkpoints for torchvision load as they are. The published RefineNet models use the
    same bottleneck (stride on the 3x3 convolution).

    Args:
        depth: 18, 34, 50, 101 or 152.
        weights: ``None`` (random), ``"imagenet"`` (torchvision's default ImageNet weights,
            downloaded on first use), the name of a member of torchvision's weights enum
            (``"IMAGENET1K_V2"``), or a path to a local state dict (``.pth`` or ``.safetensors``).

    Raises:
        ValueError: If ``depth`` is not one of :data:`RESNET_DEPTHS`.
    """

    def __init__(self, depth: int = 101, *, weights: WeightsArg = None) -> None:
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNet depth must be one of {RESNET_DEPTHS}, got {depth}")
        import torchvision  # when built: importing it costs seconds that `import refineseg` should not pay

        enum, local = resolve_torchvision_weights(f"resnet{depth}", weights)
        net = getattr(torchvision.models, f"resnet{depth}")(weights=enum)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        expansion = 4 if depth >= 50 else 1
        self.channels = tuple(64 * expansion * 2**i for i in range(4))
        self.reductions = (4, 8, 16, 32)
        self.depth = depth
        if local is not None:
            state = {k: v for k, v in load_state_dict_file(local).items() if not k.startswith("fc.")}
            self.load_state_dict(state)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Run the stem and the four stages.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            The outputs of ``layer1`` to ``layer4``, at 1/4, 1/8, 1/16 and 1/32 of the input.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(x)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        return [l1, l2, l3, l4]
