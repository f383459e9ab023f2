"""CPU training throughput: refineseg's data and memory-format choices against a plain loop.

    python benchmarks/train_throughput.py --root ../shared/datasets/camvid

Runs the same SGD training steps (same model, batch, crop and augmentation) four ways in one
process and prints images/s and the ratio to the baseline:
  baseline        NCHW tensors, every image decoded from disk at every step (a plain loop)
  cached          decoded images kept in memory (refineseg's DecodedImages)
  channels_last   NHWC memory format for model and inputs
  refineseg       both, as ``refineseg train`` does by default
  bf16            both, and ``torch.autocast`` to bfloat16 (``--precision bf16-mixed``), which
                  pays on CPUs with native bf16 (AVX512-BF16, AMX); the machine line says which
``--only`` runs some of them (the baseline row is always the first one run). Timings exclude the first ``--warmup`` steps of each variant.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _timing import machine
from torch.utils.data import DataLoader

import refineseg
from refineseg.data import get_dataset, train_transforms
from refineseg.training.data import AugmentedDataset, DecodedImages


def measure(args: argparse.Namespace, *, cache: bool, channels_last: bool, bf16: bool = False) -> float:
    torch.manual_seed(0)
    dataset = get_dataset(args.dataset, args.root, "train")
    transforms = train_transforms(args.crop_size)
    if cache:
        data = AugmentedDataset(DecodedImages(dataset, cache=True), transforms, seeded=False)
    else:
        dataset.transforms = transforms
        data = dataset  # type: ignore[assignment]
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True, num_workers=args.num_workers)
    model = refineseg.get_model(args.arch, num_classes=dataset.num_classes).train()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    steps, start = 0, 0.0
    while steps < args.warmup + args.steps:
        for images, masks in loader:
            if steps == args.warmup:
                start = time.perf_counter()
            images = images.contiguous(memory_format=memory_format)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(images)
            loss = F.cross_entropy(logits.float(), masks, ignore_index=255)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == args.warmup + args.steps:
                break
    return args.steps * args.batch_size / (time.perf_counter() - start)


VARIANTS: dict[str, dict[str, bool]] = {
    "baseline": dict(cache=False, channels_last=False),
    "cached": dict(cache=True, channels_last=False),
    "channels_last": dict(cache=False, channels_last=True),
    "refineseg": dict(cache=True, channels_last=True),
    "bf16": dict(cache=True, channels_last=True, bf16=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="dataset directory (default layout: camvid)")
    parser.add_argument("--dataset", default="camvid")
    parser.add_argument("--arch", default="lw_refinenet_mobilenet_v2")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", nargs="+", choices=VARIANTS, help="variants to run, the first is the baseline")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"{args.arch}, batch {args.batch_size}, crop {args.crop_size}, {args.steps} steps")
    names = args.only or list(VARIANTS)
    results = {name: measure(args, **VARIANTS[name]) for name in names}
    base = results[names[0]]
    print(f"{'variant':15} {'images/s':>9} {'vs ' + names[0]:>14}")
    for name, rate in results.items():
        print(f"{name:15} {rate:9.2f} {rate / base:13.2f}x")


if __name__ == "__main__":
    main()
