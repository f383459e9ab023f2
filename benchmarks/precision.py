"""What each precision buys on this CPU, and what it costs: latency, output difference, val mIoU.

    python benchmarks/precision.py --refinenet-pytorch DIR --light-weight-refinenet DIR \\
        --root ../shared/datasets/camvid

For RefineNet-101, LW-RefineNet-50 and LW-MobileNet-v2 (random weights with random batch-norm
statistics, 21 classes, one ``--size`` image, batch 1) and for the shipped CamVid model (on
``--image``, a real street photograph, at CamVid's 360x480):
  reference   the reference implementation's eager fp32 model (DrSleep/refinenet-pytorch or
              DrSleep/light-weight-refinenet, given as a checkout and run in a subprocess by
              ``inference_speed.py``; none of their code is part of this repository)
  fp32        ``optimize_for_inference(model)``: what ``--precision fp32`` runs
  bf16        ``optimize_for_inference(model, precision="bf16")``: ``--precision bf16``
  int8        ONNX Runtime int8, what ``--precision int8`` runs (``quantize_model``, without
              the export's check, which random weights' near-ties trip; the table shows the
              difference instead); the calibration images are ``--calibration-images`` CamVid
              training images under ``--root`` (none from val), else ``--image``
  int8 pt2e   with ``--pt2e`` (needs ``pip install torchao``): PyTorch's own x86 int8 path,
              torch.export -> X86InductorQuantizer -> convert -> torchao's x86 lowering,
              calibrated on the same images at this input size
Each row gives the median time of ``--repeats`` runs after ``--warmup``, its ratio to the
reference (when a checkout is given) and to fp32 in the same run, the largest logit difference
from the eager fp32 logits relative to the largest logit, and the share of pixels whose arg-max
is unchanged; "prepare" is the one-time cost (conversion, export, calibration). Every fp32 row
also shows the model's fp32 floor: its GFLOP divided by the rate of a 256->256 3x3 convolution
at 128x128 measured in this run. With ``--root`` the shipped model is also evaluated on CamVid
val (full resolution, single scale) in each precision, int8 calibrated on training images.
The first lines name the CPU and its ISA (AVX2, AVX512, VNNI, AVX512-BF16, AMX).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from _timing import machine, timings
from inference_speed import (
    MODELS,
    NUM_CLASSES,
    add_model_options,
    bf16_conv_rate,
    compare,
    conv_floor,
    randomize_,
)
from torch import Tensor

import refineseg
from refineseg.inference.optimize import optimize_for_inference
from refineseg.inference.precision import cpu_features
from refineseg.inference.quantize import quantize_model, spread
from refineseg.inference.runtime import OnnxRuntimeModel

SHIPPED = "camvid (shipped)"
Row = dict[str, Any]


def random_model(name: str, args: argparse.Namespace, tmp: Path) -> tuple[torch.nn.Module, Tensor, Tensor, Row | None]:
    """The model, its input, its eager fp32 logits and, with a checkout, the reference's row."""
    height, width = args.size
    arch, flavour = MODELS[name]
    repo = getattr(args, flavour)
    if repo is None:
        model = refineseg.get_model(name, num_classes=NUM_CLASSES)
        randomize_(model, seed=0)
        model.eval()
        x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            return model, x, model(x), None
    worker = Path(__file__).with_name("inference_speed.py")
    cmd = [sys.executable, str(worker), "--_worker", str(repo), arch, str(height), str(width)]
    subprocess.run([*cmd, str(args.warmup), str(args.repeats), str(tmp)], check=True)
    from refineseg.weights.convert import convert_checkpoint

    model = convert_checkpoint(
        tmp / "checkpoint.pth", arch=arch, num_classes=NUM_CLASSES, output=tmp / f"{name}.safetensors"
    ).eval()
    result = torch.load(tmp / "result.pth", weights_only=True)
    reference = {"variant": f"reference {arch} (fp32)", "times": result["times"], "rel": 0.0, "agree": 1.0}
    return model, result["x"], result["logits"], reference


def shipped_model(image: Path) -> tuple[torch.nn.Module, Tensor, Tensor]:
    """The shipped CamVid model on a real photograph at CamVid's 360x480."""
    import numpy as np
    from PIL import Image

    from refineseg.inference import load_image

    model = refineseg.load_model("camvid").eval()
    rgb = np.asarray(Image.fromarray(load_image(image)).resize((480, 360), Image.Resampling.BILINEAR))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.meta.mean, model.meta.std))
    x = (torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255 - mean) / std
    with torch.inference_mode():
        return model, x, model(x)


def pt2e_int8(model: torch.nn.Module, x: Tensor, calibration: Sequence[Path]) -> Callable[[Tensor], Tensor]:
    """PyTorch's x86 int8: export, X86InductorQuantizer, calibration at ``x``'s size, torchao's lowering."""
    import numpy as np
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from PIL import Image, ImageOps
    from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from refineseg.inference import load_image

    meta = model.meta  # type: ignore[attr-defined]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (meta.mean, meta.std))
    height, width = x.shape[-2:]
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    with torch.no_grad():
        prepared = prepare_pt2e(torch.export.export(model, (x,)).module(), quantizer)
        for path in calibration:
            fitted = ImageOps.fit(Image.fromarray(load_image(path)), (width, height), Image.Resampling.BILINEAR)
            rgb = torch.from_numpy(np.asarray(fitted).copy()).permute(2, 0, 1)[None].float() / 255
            prepared((rgb - mean) / std)
        return lower_pt2e_quantized_to_x86(convert_pt2e(prepared), (x,))


def benchmark(name: str, args: argparse.Namespace, calibration: list[Path], tmp: Path) -> list[Row]:
    if name == SHIPPED:
        model, x, expected = shipped_model(args.image)
        rows: list[Row] = []
    else:
        model, x, expected, reference = random_model(name, args, tmp)
        rows = [reference] if reference is not None else []

    def add(variant: str, make: Callable[[], Callable[[Tensor], Tensor]]) -> None:
        start = time.perf_counter()
        try:
            run = make()
        except Exception as exc:  # a path that cannot handle this model is a result, not the end of the run
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            rows.append({"variant": variant, "error": error})
            print(f"  {name}: {variant} failed: {error}", file=sys.stderr)
            return
        prepare = time.perf_counter() - start
        times = timings(lambda: run(x), args.warmup, args.repeats)
        with torch.inference_mode():
            rel, agree = compare(run(x), expected)
        rows.append({"variant": variant, "times": times, "rel": rel, "agree": agree, "prepare_s": prepare})
        print(f"  {name}: {variant} done", file=sys.stderr)

    # random weights make near-ties that the optimisation checks' tolerances trip on; the table reports them
    add("fp32", lambda: optimize_for_inference(model, check_size=None))
    gflop, rate = conv_floor(model, x, args)
    rows[-1]["floor"] = {"gflop": gflop, "conv_gflops": rate}
    add("bf16", lambda: optimize_for_inference(model, precision="bf16", check_size=None))

    def int8() -> OnnxRuntimeModel:
        report = quantize_model(model, tmp / "int8.onnx", calibration, example_size=tuple(x.shape[-2:]), check=False)
        return OnnxRuntimeModel(report.path)

    add("int8", int8)
    if args.pt2e:
        add("int8 pt2e", lambda: pt2e_int8(model, x, calibration))
    return rows


def print_table(name: str, rows: list[Row]) -> None:
    medians = {row["variant"]: statistics.median(row["times"]) for row in rows if "times" in row}
    reference = next((m for v, m in medians.items() if v.startswith("reference")), None)
    fp32 = medians["fp32"]
    print(f"\n{name}")
    print(
        f"  {'precision':26} {'median s':>9} {'vs reference':>13} {'vs fp32':>8} {'max|diff|/max|logit|':>21} "
        f"{'argmax same':>12} {'prepare s':>10}"
    )
    for row in rows:
        if "error" in row:
            print(f"  {row['variant']:26} failed: {row['error']}")
            continue
        median = medians[row["variant"]]
        vs_reference = f"{reference / median:12.2f}x" if reference is not None else f"{'n/a':>13}"
        prepare = f"{row['prepare_s']:10.1f}" if "prepare_s" in row else f"{'':>10}"
        print(
            f"  {row['variant']:26} {median:9.3f} {vs_reference} {fp32 / median:7.2f}x {row['rel']:21.2e} "
            f"{100 * row['agree']:11.4f}% {prepare}"
        )
    floor = next(row["floor"] for row in rows if row["variant"] == "fp32")
    least = floor["gflop"] / floor["conv_gflops"]
    print(
        f"  fp32 floor: {floor['gflop']:.1f} GFLOP at {floor['conv_gflops']:.0f} GFLOP/s (a 256->256 3x3 "
        f"convolution at 128x128, this run) = {least:.3f} s; fp32 runs at {fp32 / least:.2f}x its floor"
    )


def shipped_miou(args: argparse.Namespace, calibration: list[Path]) -> tuple[dict[str, float], int]:
    """The shipped model's CamVid val mIoU in each precision (int8 calibrated on training images)."""
    from refineseg.data import get_dataset
    from refineseg.evaluation import evaluate

    val = get_dataset("camvid", args.root, "val")
    model = refineseg.load_model("camvid").eval()
    results = {}
    for precision in ("fp32", "bf16", "int8"):
        options: dict[str, Any] = {"calibration": calibration} if precision == "int8" else {}
        result = evaluate(model, val, precision=precision, progress=False, **options)
        results[precision] = result.metrics.miou
        print(f"  camvid val: {precision} done", file=sys.stderr)
    return results, len(val)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[*MODELS, "camvid"], help="default: all three and camvid")
    add_model_options(parser)
    parser.add_argument("--root", type=Path, help="CamVid directory: int8 calibration images and the val mIoU")
    parser.add_argument("--calibration-images", type=int, default=16, metavar="N", help="(default 16)")
    parser.add_argument("--pt2e", action="store_true", help="also time PyTorch's x86 int8 (PT2E; needs torchao)")
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in MODELS and m != "camvid"]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {[*MODELS, 'camvid']}")
    if args.root is not None:
        from refineseg.data import get_dataset

        train = get_dataset("camvid", args.root, "train")
        calibration = spread([image for image, _ in train.pairs], args.calibration_images)
    else:
        calibration = [args.image]
    print(machine())
    print(f"cpu: {cpu_features().describe()}")
    print(f"a 256->256 3x3 convolution at 128x128 in bf16 runs at {bf16_conv_rate(args):.0f} GFLOP/s here")
    print(
        f"random-weight models: 1x3x{args.size[0]}x{args.size[1]}; shipped model: {args.image.name} at 360x480; "
        f"median of {args.repeats} after {args.warmup} warm-up runs; int8 calibrated on {len(calibration)} image(s)"
    )
    report: dict[str, Any] = {"machine": machine(), "cpu": cpu_features().describe(), "size": args.size, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REFINESEG_HOME"] = tmp  # the val mIoU's int8 model is made afresh, not read from a cache
        for name in args.models:
            label = SHIPPED if name == "camvid" else name
            workdir = Path(tmp) / name
            workdir.mkdir()
            rows = benchmark(label, args, calibration, workdir)
            report["results"][label] = rows
            print_table(label, rows)
        if args.root is not None:
            mious, count = shipped_miou(args, calibration)
            report["camvid_val_miou"] = mious
            print(f"\nshipped model, CamVid val mIoU ({count} images at full resolution, single scale)")
            for precision, miou in mious.items():
                delta = 100 * (miou - mious["fp32"])
                print(f"  {precision:5} {100 * miou:6.2f}%  ({delta:+.2f} points against fp32)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
