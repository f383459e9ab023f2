"""CPU latency of the shipped CamVid model against the model it replaced, in the same run.

    python benchmarks/shipped_latency.py
    python benchmarks/shipped_latency.py --archs lw_refinenet_efficientnet_lite2 refinenet_efficientnet_lite0

Batch 1 at CamVid's 360x480, through ``optimize_for_inference`` (how ``predict``, ``evaluate``
and ``serve`` run a model), median of ``--repeats`` runs after ``--warmup``. The baseline
is the architecture of the earlier shipped model (Light-Weight RefineNet on MobileNet-v2,
11 classes), built with random weights: weights do not change the work a forward pass does.
Each other row is a ratio to it: the shipped ``camvid`` weights, then any ``--archs`` (random
weights, 11 classes), which is how the candidates for shipping were compared.
"""

from __future__ import annotations

import argparse

import torch
from _timing import machine, median_seconds

import refineseg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="lw_refinenet_mobilenet_v2", help="architecture of the baseline row")
    parser.add_argument("--archs", nargs="*", default=[], help="more architectures to time (random weights)")
    parser.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    torch.manual_seed(0)
    rows: list[tuple[str, torch.nn.Module]] = [
        (f"{args.baseline} (baseline, random weights)", refineseg.get_model(args.baseline, num_classes=11)),
        (f"camvid (shipped: {refineseg.load_model('camvid').arch})", refineseg.load_model("camvid")),
    ]
    rows += [(f"{arch} (random weights)", refineseg.get_model(arch, num_classes=11)) for arch in args.archs]
    x = torch.randn(1, 3, *args.size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    print(f"machine: {machine()}")
    print(f"input: 1x3x{args.size[0]}x{args.size[1]}, optimize_for_inference, median of {args.repeats}\n")
    print("| model | parameters | median ms | ratio to baseline |")
    print("|---|---|---|---|")
    baseline = None
    for label, model in rows:
        fast = refineseg.optimize_for_inference(model.eval())
        seconds = median_seconds(lambda fast=fast: fast(x), args.warmup, args.repeats)
        baseline = baseline or seconds
        params = sum(p.numel() for p in model.parameters())
        print(f"| {label} | {params:,} | {1000 * seconds:.1f} | {seconds / baseline:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
