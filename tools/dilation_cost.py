"""What dilated convolutions would cost RefineNet's encoder: ResNet at output stride 32, 16 and 8.

    python tools/dilation_cost.py --size 512 512

DeepLab keeps high-resolution features by replacing the last stages' strides with dilation
(torchvision's ``replace_stride_with_dilation``); RefineNet keeps ResNet's strides and
recovers resolution from the encoder's earlier, finer features instead. This counts the
encoder's FLOPs (``torch.utils.flop_counter``) and the size of its last feature map for each
output stride, on one ``--size`` image: the parameters are the same, the arithmetic is not.
"""

from __future__ import annotations

import argparse

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode


def encoder_flops(depth: int, dilate: list[bool], size: tuple[int, int]) -> tuple[float, tuple[int, ...]]:
    net = getattr(torchvision.models, f"resnet{depth}")(weights=None, replace_stride_with_dilation=dilate).eval()
    body = torch.nn.Sequential(
        net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
    )
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        out = body(torch.zeros(1, 3, *size))
    return counter.get_total_flops() / 1e9, tuple(out.shape)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=101, choices=[50, 101, 152])
    parser.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    args = parser.parse_args()
    size = (args.size[0], args.size[1])
    print(f"ResNet-{args.depth} encoder on a {size[0]}x{size[1]} image")
    print(f"{'output stride':>14} {'dilated stages':>16} {'GFLOP':>8} {'vs stride 32':>13} {'last feature map':>18}")
    base = None
    for stride, dilate in ((32, [False, False, False]), (16, [False, False, True]), (8, [False, True, True])):
        gflop, shape = encoder_flops(args.depth, dilate, size)
        base = base or gflop
        stages = ", ".join(f"layer{i + 2}" for i, d in enumerate(dilate) if d) or "none"
        print(f"{stride:>14} {stages:>16} {gflop:8.1f} {gflop / base:12.2f}x {'x'.join(map(str, shape)):>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
