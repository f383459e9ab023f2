"""int8 on the CPU: speed and CamVid val mIoU of the quantized shipped model against fp32.

    python benchmarks/int8.py --root ../shared/datasets/camvid

Exports the shipped CamVid model to ONNX, quantizes it with
``refineseg.inference.quantize.quantize_onnx`` (calibrated on ``--calibration-images``
training images spread over the split, none of them from val), then in the same run:
  speed  batch 1 at ``--size`` (CamVid's 360x480): PyTorch as built (the baseline),
         ``optimize_for_inference``, ONNX Runtime fp32 and ONNX Runtime int8; median of
         ``--repeats`` after ``--warmup`` runs, ratios to the baseline
  mIoU   CamVid val at full resolution, single scale, fp32 (optimised PyTorch) and int8
With ``--model NAME`` a randomly initialised model of that architecture is quantized
instead (speed only: random weights have no mIoU), e.g. ``refinenet_resnet101``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _timing import median_seconds

import refineseg
from refineseg.data import get_dataset
from refineseg.evaluation import evaluate
from refineseg.inference.export import export_onnx
from refineseg.inference.quantize import quantize_onnx
from refineseg.inference.runtime import OnnxRuntimeModel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="CamVid directory (train/ images calibrate)")
    parser.add_argument("--model", help="time a random model of this architecture instead of the shipped one")
    parser.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    parser.add_argument("--calibration-images", type=int, default=32)
    parser.add_argument("--calibration-method", default="percentile", choices=["percentile", "minmax", "entropy"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-miou", dest="miou", action="store_false", help="skip the val mIoU comparison")
    args = parser.parse_args()

    if args.model:
        torch.manual_seed(0)
        model = refineseg.get_model(args.model, num_classes=11).eval()
    else:
        model = refineseg.load_model("camvid").eval()
    train = get_dataset("camvid", args.root, "train")
    step = max(1, len(train) // args.calibration_images)
    calibration = [train.pairs[i][0] for i in range(0, len(train), step)][: args.calibration_images]
    x = torch.randn(1, 3, *args.size, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        fp32_file, int8_file = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        print(export_onnx(model, fp32_file, example_size=tuple(args.size)).summary(), file=sys.stderr)
        start = time.perf_counter()
        quantize_onnx(fp32_file, int8_file, calibration, method=args.calibration_method)
        quantize_s = time.perf_counter() - start
        optimized = refineseg.optimize_for_inference(model)
        fp32, int8 = OnnxRuntimeModel(fp32_file), OnnxRuntimeModel(int8_file)
        variants: dict[str, Callable[[], object]] = {
            "pytorch, as built": lambda: model(x),
            "pytorch, optimized": lambda: optimized(x),
            "onnxruntime fp32": lambda: fp32(x),
            "onnxruntime int8": lambda: int8(x),
        }
        times = {name: median_seconds(run, args.warmup, args.repeats) for name, run in variants.items()}
        sizes = {"onnxruntime fp32": fp32_file.stat().st_size, "onnxruntime int8": int8_file.stat().st_size}
        with torch.inference_mode():
            same = (fp32(x).argmax(1) == int8(x).argmax(1)).float().mean().item()
        results = {}
        if args.miou and not args.model:
            val = get_dataset("camvid", args.root, "val")
            for name, m in (("fp32 (optimized pytorch)", model), ("int8 (onnxruntime)", int8)):
                results[name] = evaluate(m, val, progress=False).metrics.miou
    name = args.model or f"shipped camvid model ({model.arch})"
    print(f"{name}, batch 1 at {args.size[0]}x{args.size[1]}, {torch.get_num_threads()} threads")
    print(
        f"int8 calibrated on {len(calibration)} CamVid train images ({args.calibration_method}) in {quantize_s:.0f} s"
    )
    base = times["pytorch, as built"]
    print(f"  {'variant':22} {'median s':>9} {'speed-up':>9} {'file MB':>8}")
    for variant, seconds in times.items():
        size = f"{sizes[variant] / 1e6:8.1f}" if variant in sizes else f"{'':8}"
        print(f"  {variant:22} {seconds:9.4f} {base / seconds:8.2f}x {size}")
    ratio = times["onnxruntime fp32"] / times["onnxruntime int8"]
    print(
        f"  int8 vs onnxruntime fp32: {ratio:.2f}x; vs optimized pytorch: {times['pytorch, optimized'] / times['onnxruntime int8']:.2f}x"
    )
    print(f"  arg-max of int8 equals fp32 on {100 * same:.2f}% of the pixels of a random input")
    if results:
        print("CamVid val (101 images, 360x480, single scale)")
        for variant, miou in results.items():
            print(f"  {variant:26} mIoU {100 * miou:.2f}%")
        values = list(results.values())
        print(f"  int8 minus fp32: {100 * (values[1] - values[0]):+.2f} mIoU points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
