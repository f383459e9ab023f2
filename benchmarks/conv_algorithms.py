"""Could a fast convolution algorithm beat oneDNN's direct 3x3 convolution on this CPU?

    python benchmarks/conv_algorithms.py

RefineNet-101 spends most of its time in 256->256 3x3 convolutions at 1/4 and 1/8 of the
input (128x128 and 64x64 for a 512x512 image). This times, for those shapes, in one run:
  direct     ``F.conv2d`` in channels-last (what ``optimize_for_inference`` runs; the baseline)
  winograd   Winograd F(4x4, 3x3) in plain PyTorch: input transform, 36 batched GEMMs,
             output transform; 4x fewer multiplications than direct
  gemm only  the 36 batched GEMMs alone, the part Winograd cannot avoid
and prints the GFLOP/s of the direct convolution and of the GEMMs, the Winograd error
relative to the largest output, and the ratios. This is a probe, not a feature: Winograd only
pays where batched GEMMs run near the direct convolution's rate.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from _timing import median_seconds
from torch import Tensor

# Lavin & Gray's F(4x4, 3x3) with points 0, +-1, +-2 and infinity
BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]  # fmt: skip
G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
     [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]  # fmt: skip
AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]


def transform(rows: list[list[float]], parts: list[Tensor]) -> list[Tensor]:
    """``out[i] = sum_k rows[i][k] * parts[k]``, skipping zero coefficients."""
    out = []
    for row in rows:
        terms = [c * p if c != 1 else p for c, p in zip(row, parts, strict=True) if c != 0]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        out.append(total)
    return out


def winograd_weights(weight: Tensor) -> Tensor:
    """``(36, C, K)``: G w G^T for every filter, in float64 for accuracy, then float32."""
    g = torch.tensor(G, dtype=torch.float64)
    u = torch.einsum("ik,ockl,jl->ijco", g, weight.double(), g)
    return u.reshape(36, weight.shape[1], weight.shape[0]).float().contiguous()


def winograd_conv(x: Tensor, u: Tensor) -> Tensor:
    """Stride-1 'same' 3x3 convolution of a channels-last ``x`` by F(4x4, 3x3) tiles."""
    n, c, h, w = x.shape
    k = u.shape[2]
    th, tw = -(-h // 4), -(-w // 4)
    xp = F.pad(x, (1, tw * 4 + 1 - w, 1, th * 4 + 1 - h)).permute(0, 2, 3, 1)  # N Hp Wp C
    rows = transform(BT, [xp[:, i : i + 4 * th : 4] for i in range(6)])  # 6 x (N th Wp C)
    tiles = [torch.stack(transform(BT, [r[:, :, j : j + 4 * tw : 4] for j in range(6)])) for r in rows]
    v = torch.stack(tiles).reshape(36, n * th * tw, c)
    m = torch.bmm(v, u).view(6, 6, n, th, tw, k)
    cols = transform(AT, [m[i] for i in range(6)])  # 4 x (6 N th tw K)
    y = torch.stack([torch.stack(transform(AT, [col[j] for j in range(6)]), dim=3) for col in cols], dim=2)
    return y.reshape(n, th * 4, tw * 4, k)[:, :h, :w].permute(0, 3, 1, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 64], help="feature-map sides (default 128 64)")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    c = args.channels
    print(f"{c}->{c} 3x3 convolution, batch 1, fp32, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(
        f"{'size':>8} {'direct ms':>10} {'GFLOP/s':>8} {'winograd ms':>12} {'vs direct':>10} {'gemm ms':>8} {'GFLOP/s':>8} {'error':>9}"
    )
    gen = torch.Generator().manual_seed(0)
    for side in args.sizes:
        x = torch.randn(1, c, side, side, generator=gen).contiguous(memory_format=torch.channels_last)
        weight = (torch.randn(c, c, 3, 3, generator=gen) / (9 * c) ** 0.5).contiguous(memory_format=torch.channels_last)
        u = winograd_weights(weight)
        tiles = math.ceil(side / 4) ** 2
        v = torch.randn(36, tiles, c, generator=gen)
        direct = 1000 * median_seconds(lambda: F.conv2d(x, weight, padding=1), 1, args.repeats)  # noqa: B023
        wino = 1000 * median_seconds(lambda: winograd_conv(x, u), 1, args.repeats)  # noqa: B023
        gemm = 1000 * median_seconds(lambda: torch.bmm(v, u), 1, args.repeats)  # noqa: B023
        with torch.inference_mode():
            expected = F.conv2d(x, weight, padding=1)
            error = ((winograd_conv(x, u) - expected).abs().max() / expected.abs().max()).item()
        direct_rate = 2 * c * c * 9 * side * side / direct / 1e6
        gemm_rate = 2 * 36 * tiles * c * c / gemm / 1e6
        print(
            f"{side:>4}x{side:<3} {direct:10.1f} {direct_rate:8.0f} {wino:12.1f} {direct / wino:9.2f}x "
            f"{gemm:8.1f} {gemm_rate:8.0f} {error:9.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
