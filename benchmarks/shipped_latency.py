"""CPU latency of the shipped CamVid model against the model it replaced, in the same run.

    python benchmarks/shipped_latency.py
    python benchmarks/shipped_latency.py --archs lw_refinenet_efficientnet_lite2 refinenet_efficientnet_lite0
    python benchmarks/shipped_latency.py --weights runs/candidate/best.safetensors --precision auto

Batch 1 at CamVid's 360x480, through ``optimize_for_inference`` (how ``predict``, ``evaluate``
and ``serve`` run a model), median of ``--repeats`` runs after ``--warmup``. The baseline
is the architecture of the earlier shipped model (Light-Weight RefineNet on MobileNet-v2,
11 classes), built with random weights: weights do not change the work a forward pass does.
Each other row is a ratio to it: the shipped ``camvid`` weights, then any ``--weights`` (trained
candidates: files or catalogue names) and ``--archs`` (random weights, 11 classes), which is how
the candidates for shipping are compared. ``--precision`` is ``optimize_for_inference``'s
(``auto``: bf16 on CPUs with native bf16, as ``predict`` runs by default).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from _timing import machine, median_seconds

import refineseg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="lw_refinenet_mobilenet_v2", help="architecture of the baseline row")
    parser.add_argument("--archs", nargs="*", default=[], help="more architectures to time (random weights)")
    parser.add_argument("--weights", nargs="*", default=[], help="trained models to time (files or catalogue names)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    torch.manual_seed(0)
    rows: list[tuple[str, torch.nn.Module]] = [
        (f"{args.baseline} (baseline, random weights)", refineseg.get_model(args.baseline, num_classes=11)),
        (f"camvid (shipped: {refineseg.load_model('camvid').arch})", refineseg.load_model("camvid")),
    ]
    rows += [(f"{w} ({refineseg.load_model(w).arch})", refineseg.load_model(w)) for w in args.weights]
    rows += [(f"{arch} (random weights)", refineseg.get_model(arch, num_classes=11)) for arch in args.archs]
    x = torch.randn(1, 3, *args.size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    print(f"machine: {machine()}")
    print(
        f"input: 1x3x{args.size[0]}x{args.size[1]}, optimize_for_inference(precision={args.precision!r}), "
        f"median of {args.repeats}\n"
    )
    print("| model | parameters | median ms | ratio to baseline |")
    print("|---|---|---|---|")
    baseline = None
    for label, model in rows:
        fast: torch.nn.Module = refineseg.optimize_for_inference(model.eval(), precision=args.precision)
        seconds = median_seconds(partial(fast, x), args.warmup, args.repeats)
        baseline = baseline or seconds
        params = sum(p.numel() for p in model.parameters())
        print(f"| {label} | {params:,} | {1000 * seconds:.1f} | {seconds / baseline:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
