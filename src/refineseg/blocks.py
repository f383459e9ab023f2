"""The building blocks of RefineNet and Light-Weight RefineNet.

Every block is an ordinary ``nn.Module`` with its layers in ``nn.ModuleList`` /
``nn.Sequential`` containers, so parameter names follow the structure (``pool.convs.2``)
rather than hand-made strings. Which input is the largest, how many stages a chain has and
which convolutions exist are all decided in ``__init__``: ``forward`` builds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Activation",
    "CRPOrder",
    "ChainedResidualPooling",
    "LightWeightRefineNetBlock",
    "MultiResolutionFusion",
    "RefineNetBlock",
    "ResidualConvUnit",
    "conv",
    "normalised_conv",
]

CRPOrder = Literal["pool-conv", "conv-pool"]
Activation = Literal["relu", "relu6"]


def conv(in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = False) -> nn.Conv2d:
    """A stride-1 'same' convolution: the only kind the RefineNet decoder uses.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Odd kernel size; the padding keeps the spatial size.
        bias: Whether the convolution has a bias.

    Returns:
        The convolution layer.
    """
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


def _activation(name: Activation) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "relu6":
        return nn.ReLU6()
    raise ValueError(f"activation must be 'relu' or 'relu6', got {name!r}")


def upsample_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize with ``align_corners=True``, as the published checkpoints were trained.

    Args:
        x: Features, ``(N, C, h, w)``.
        size: The target ``(H, W)``.

    Returns:
        The resized features, ``(N, C, H, W)``.
    """
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


class ResidualConvUnit(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3 plus identity, no batch norm by default.

    RefineNet fine-tunes with small batches, where batch statistics are unreliable; the
    published decoder therefore has no normalisation at all. The first convolution has a
    bias, the second none, as in the published models. ``batch_norm=True`` (not in the
    papers) follows each convolution with batch norm, which lets the decoder train at the
    higher learning rates where the normalised decoders (FPN, DeepLabV3+) do best.

    Args:
        channels: Input and output channels.
        kernel_size: Kernel size of both convolutions.
        batch_norm: Batch norm after each convolution (whose bias it then replaces).
    """

    def __init__(self, channels: int, kernel_size: int = 3, *, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels, kernel_size, bias=not batch_norm)
        self.conv2 = conv(channels, channels, kernel_size, bias=False)
        # identities hold no tensors: the published models' state dicts are unchanged;
        # convN/bnN pairs are what inference.optimize folds
        self.bn1 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Apply the unit.

        Args:
            x: Features, ``(N, channels, H, W)``.

        Returns:
            ``x`` plus the residual, ``(N, channels, H, W)``.
        """
        out = self.bn1(self.conv1(F.relu(x)))
        # in place on fresh convolution outputs: autograd needs neither, and it saves memory traffic
        out = self.bn2(self.conv2(F.relu(out, inplace=True)))
        return out.add_(x)


def normalised_conv(in_channels: int, out_channels: int, kernel_size: int, *, batch_norm: bool) -> nn.Module:
    """:func:`conv`, followed by batch norm where ``batch_norm`` says (a ``Sequential`` then).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Odd kernel size.
        batch_norm: Whether batch norm follows.

    Returns:
        The convolution, or the convolution and its batch norm.
    """
    if not batch_norm:
        return conv(in_channels, out_channels, kernel_size)
    return nn.Sequential(conv(in_channels, out_channels, kernel_size), nn.BatchNorm2d(out_channels))


class MultiResolutionFusion(nn.Module):
    """Project every input to a common width, upsample to the largest input, and sum.

    Args:
        in_channels: Channels of each input.
        out_channels: The common width.
        target: Index of the largest input; the caller knows it from the inputs' output
            strides, so no shape comparison happens at run time.
        kernel_size: Kernel size of the projections.
        project: Per input, whether it is projected; ``False`` passes it through unchanged
            (it must already have ``out_channels``), as the MobileNet-v2 Light-Weight
            RefineNet does for its encoder paths. ``None`` projects every input.
        batch_norm: Batch norm after each projection (not in the papers).

    Raises:
        ValueError: If ``project`` or ``target`` does not match the inputs, or an unprojected
            input does not have ``out_channels`` channels.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        *,
        target: int,
        kernel_size: int = 3,
        project: Sequence[bool] | None = None,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if project is None:
            project = [True] * len(in_channels)
        if len(project) != len(in_channels):
            raise ValueError("project must have one flag per input")
        if not 0 <= target < len(in_channels):
            raise ValueError(f"target {target} is not an input index")
        convs: list[nn.Module] = []
        for channels, proj in zip(in_channels, project, strict=True):
            if proj:
                convs.append(normalised_conv(channels, out_channels, kernel_size, batch_norm=batch_norm))
            elif channels != out_channels:
                raise ValueError(f"an unprojected input must have {out_channels} channels, got {channels}")
            else:
                convs.append(nn.Identity())
        self.convs = nn.ModuleList(convs)
        self.target = target

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Fuse the inputs at the largest input's resolution.

        Args:
            inputs: One tensor per input, ``(N, in_channels[i], H_i, W_i)``.

        Returns:
            The sum, ``(N, out_channels, H_target, W_target)``.
        """
        size = inputs[self.target].shape[-2:]
        out: Tensor | None = None
        for i, (layer, x) in enumerate(zip(self.convs, inputs, strict=True)):
            y = layer(x)
            if i != self.target:
                y = upsample_to(y, size)
            out = y if out is None else out + y
        assert out is not None
        return out


class ChainedResidualPooling(nn.Module):
    """ReLU, then a chain of 5x5 stride-1 max-pool + conv stages, each added to the sum.

    Each stage pools the previous stage's output, so later stages see ever larger context
    while the residual sum keeps the original signal. ``order="pool-conv"`` is the CVPR text
    and the published PyTorch models; ``"conv-pool"`` is the improved order of the official
    MATLAB code. The leading ReLU matters: max-pooling then picks the strongest *positive*
    responses, and the residual sum starts from non-negative activations.

    Args:
        channels: Input and output channels.
        stages: Number of pool + conv stages (0: only the activation).
        kernel_size: Kernel size of the stage convolutions (1 in Light-Weight RefineNet).
        order: ``"pool-conv"`` or ``"conv-pool"`` within each stage.
        activation: The leading activation, ``"relu"`` or ``"relu6"``.
        pool_size: Max-pooling window (stride 1, 'same' padding).
        batch_norm: Batch norm after each stage's convolution (not in the papers).

    Raises:
        ValueError: If ``stages`` is negative or ``order`` or ``activation`` is unknown.
    """

    def __init__(
        self,
        channels: int,
        stages: int = 4,
        *,
        kernel_size: int = 3,
        order: CRPOrder = "pool-conv",
        activation: Activation = "relu",
        pool_size: int = 5,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if stages < 0:
            raise ValueError(f"stages must be >= 0, got {stages}")
        if order not in ("pool-conv", "conv-pool"):
            raise ValueError(f"order must be 'pool-conv' or 'conv-pool', got {order!r}")
        self.activation = _activation(activation)
        self.pool = nn.MaxPool2d(pool_size, stride=1, padding=pool_size // 2)
        self.convs = nn.ModuleList(
            normalised_conv(channels, channels, kernel_size, batch_norm=batch_norm) for _ in range(stages)
        )
        self.pool_first = order == "pool-conv"

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation, then the chain of stages.

        Args:
            x: Features, ``(N, channels, H, W)``.

        Returns:
            The activated input plus every stage's output, ``(N, channels, H, W)``.
        """
        x = self.activation(x)
        top = x
        for i, layer in enumerate(self.convs):
            top = layer(self.pool(top)) if self.pool_first else self.pool(layer(top))
            # the first sum is a new tensor (the activation's output is kept for its backward); later ones accumulate
            x = x + top if i == 0 else x.add_(top)
        return x


def largest_input(strides: Sequence[float]) -> int:
    """Index of the input with the finest output stride (the largest feature map).

    Args:
        strides: Output stride of each input.

    Returns:
        The index of the smallest stride (the first one on ties).
    """
    return min(range(len(strides)), key=lambda i: strides[i])


class RefineNetBlock(nn.Module):
    """One RefineNet block for any number of inputs.

    Adaptive RCUs per input (``adaptive_rcus[i]`` of them; 0 for the path coming from the
    previous block), multi-resolution fusion to the smallest input width (skipped for a
    single input), chained residual pooling, then ``output_rcus`` RCUs.

    Args:
        in_channels: Channels of each input; the block outputs the smallest.
        strides: Output stride of each input.
        adaptive_rcus: Number of adaptive RCUs on each input.
        output_rcus: Number of RCUs after the pooling.
        crp_stages: Chained residual pooling stages.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        batch_norm: Batch norm after every convolution of the block (not in the papers; see
            :class:`ResidualConvUnit`).

    Raises:
        ValueError: If the per-input sequences are empty or differ in length.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        strides: Sequence[float],
        *,
        adaptive_rcus: Sequence[int],
        output_rcus: int = 3,
        crp_stages: int = 4,
        crp_order: CRPOrder = "pool-conv",
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if not (len(in_channels) == len(strides) == len(adaptive_rcus)) or not in_channels:
            raise ValueError("in_channels, strides and adaptive_rcus need one entry per input")
        self.out_channels = min(in_channels)
        self.adapt = nn.ModuleList(
            nn.Sequential(*(ResidualConvUnit(c, batch_norm=batch_norm) for _ in range(n)))
            for c, n in zip(in_channels, adaptive_rcus, strict=True)
        )
        self.fusion = (
            MultiResolutionFusion(in_channels, self.out_channels, target=largest_input(strides), batch_norm=batch_norm)
            if len(in_channels) > 1
            else None
        )
        self.pool = ChainedResidualPooling(self.out_channels, crp_stages, order=crp_order, batch_norm=batch_norm)
        self.output = nn.Sequential(
            *(ResidualConvUnit(self.out_channels, batch_norm=batch_norm) for _ in range(output_rcus))
        )

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Refine and fuse the inputs.

        Args:
            inputs: One tensor per input, ``(N, in_channels[i], H_i, W_i)``.

        Returns:
            ``(N, out_channels, H, W)`` at the largest input's resolution.
        """
        xs = [path(x) for path, x in zip(self.adapt, inputs, strict=True)]
        x = self.fusion(xs) if self.fusion is not None else xs[0]
        return self.output(self.pool(x))


class LightWeightRefineNetBlock(nn.Module):
    """The Light-Weight RefineNet block: 1x1 fusion, then 1x1 chained residual pooling.

    No RCUs at all; every 3x3 convolution of the original block except the classifier
    becomes 1x1, which removes most of the decoder's parameters and FLOPs.

    Args:
        in_channels: Channels of each input; the block outputs the smallest.
        strides: Output stride of each input.
        project: Per input, whether the fusion projects it with a 1x1 convolution.
        crp_stages: Chained residual pooling stages.
        crp_order: ``"pool-conv"`` or ``"conv-pool"`` within each pooling stage.
        activation: The activation that starts the chained residual pooling.

    Raises:
        ValueError: If the per-input sequences are empty or differ in length.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        strides: Sequence[float],
        *,
        project: Sequence[bool],
        crp_stages: int = 4,
        crp_order: CRPOrder = "pool-conv",
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        if not (len(in_channels) == len(strides) == len(project)) or not in_channels:
            raise ValueError("in_channels, strides and project need one entry per input")
        self.out_channels = min(in_channels)
        needs_fusion = len(in_channels) > 1
        self.fusion = (
            MultiResolutionFusion(
                in_channels,
                self.out_channels,
                target=largest_input(strides),
                kernel_size=1,
                project=project,
            )
            if needs_fusion
            else None
        )
        self.pool = ChainedResidualPooling(
            self.out_channels, crp_stages, kernel_size=1, order=crp_order, activation=activation
        )

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Fuse the inputs, then pool.

        Args:
            inputs: One tensor per input, ``(N, in_channels[i], H_i, W_i)``.

        Returns:
            ``(N, out_channels, H, W)`` at the largest input's resolution.
        """
        x = self.fusion(inputs) if self.fusion is not None else inputs[0]
        return self.pool(x)
