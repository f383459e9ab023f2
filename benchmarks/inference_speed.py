"""CPU inference speed: ``optimize_for_inference`` against a baseline timed in the same run.

    python benchmarks/inference_speed.py --refinenet-pytorch DIR --light-weight-refinenet DIR
    python benchmarks/inference_speed.py --models lw_refinenet_mobilenet_v2 --compile --onnxruntime

For each model, one image of ``--size`` (512x512), batch 1, fp32, on the CPU:
  baseline     the reference implementation's eager model (DrSleep/refinenet-pytorch or
               DrSleep/light-weight-refinenet, given as a checkout; none of their code is part
               of this repository), run in a subprocess; without a checkout, refineseg's own
               plain eager model
  eager        refineseg's model as built (NCHW, batch norm separate)
  optimized    ``refineseg.optimize_for_inference(model)``, what ``refineseg predict`` runs
  compiled     the same with ``compile=True`` (``--compile``; compile time printed apart)
  onnxruntime  the model exported to ONNX and run by ONNX Runtime (``--onnxruntime``)
A last check runs the shipped, trained CamVid model on ``--image`` (a real photograph, where
logits are not the near-ties of random weights) and compares each variant with its eager
logits. All variants share the baseline's weights (random, with random batch-norm statistics so
that folding them is not trivial): the reference checkpoint is converted with
``refineseg.weights.convert``. Each variant's logits are compared with the baseline's on the
same input (the reference's 1/4-resolution logits upsampled as refineseg does): the largest
absolute difference relative to the largest logit, and the share of pixels whose arg-max
agrees. The reference returns 1/4-resolution logits, refineseg's models full-resolution
ones, so refineseg's times include that upsampling. Times are the median of ``--repeats``
runs after ``--warmup`` runs; ratios are baseline time / variant time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from _timing import machine, timings

import refineseg
from compare_reference import ARCHS, randomize_
from refineseg.inference.optimize import optimize_for_inference

# refineseg model -> (reference arch in tools/compare_reference.py, checkout flag)
MODELS = {
    "refinenet_resnet101": ("rf101", "refinenet_pytorch"),
    "lw_refinenet_resnet50": ("rf_lw50", "light_weight_refinenet"),
    "lw_refinenet_mobilenet_v2": ("mbv2", "light_weight_refinenet"),
}
NUM_CLASSES = 21


def reference_worker(repo: str, arch: str, height: int, width: int, warmup: int, repeats: int, out: str) -> None:
    """Subprocess: build the reference model, save its random weights, time it, save its logits."""
    import importlib

    sys.path.insert(0, repo)
    module, builder, _ = ARCHS[arch]
    model = getattr(importlib.import_module(module), builder)(NUM_CLASSES, imagenet=False, pretrained=False)
    randomize_(model, seed=0)
    model.eval()
    torch.save(model.state_dict(), Path(out) / "checkpoint.pth")
    x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    times = timings(lambda: model(x), warmup, repeats)
    with torch.inference_mode():
        logits = F.interpolate(model(x), size=(height, width), mode="bilinear", align_corners=False)
    torch.save({"x": x, "logits": logits, "times": times}, Path(out) / "result.pth")


def compare(logits: Tensor, expected: Tensor) -> tuple[float, float]:
    """(max |diff| / max |expected|, share of pixels with the same arg-max)."""
    rel = ((logits - expected).abs().max() / expected.abs().max()).item()
    agree = (logits.argmax(1) == expected.argmax(1)).float().mean().item()
    return rel, agree


def benchmark_model(name: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, object]]:
    height, width = args.size
    arch, flavour = MODELS[name]
    repo = getattr(args, flavour)
    rows: list[dict[str, object]] = []
    if repo is not None:
        cmd = [sys.executable, __file__, "--_worker", str(repo), arch, str(height), str(width)]
        subprocess.run([*cmd, str(args.warmup), str(args.repeats), str(tmp)], check=True)
        from refineseg.weights.convert import convert_checkpoint

        model = convert_checkpoint(
            tmp / "checkpoint.pth", arch=arch, num_classes=NUM_CLASSES, output=tmp / f"{name}.safetensors"
        ).eval()
        result = torch.load(tmp / "result.pth", weights_only=True)
        x, expected = result["x"], result["logits"]
        rows.append({"variant": f"reference {arch}", "times": result["times"], "rel": 0.0, "agree": 1.0})
    else:
        model = refineseg.get_model(name, num_classes=NUM_CLASSES)
        randomize_(model, seed=0)
        model.eval()
        x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            expected = model(x)

    def add(variant: str, run: Callable[[Tensor], Tensor], **extra: object) -> None:
        times = timings(lambda: run(x), args.warmup, args.repeats)
        with torch.inference_mode():
            rel, agree = compare(run(x), expected)
        rows.append({"variant": variant, "times": times, "rel": rel, "agree": agree, **extra})
        print(f"  {name}: {variant} done", file=sys.stderr)

    add("eager" if repo is not None else "eager (baseline)", model)
    gflop, rate = conv_floor(model, x, args)
    rows[0]["floor"] = {"gflop": gflop, "conv_gflops": rate}
    start = time.perf_counter()
    optimized = optimize_for_inference(model)
    add("optimized", optimized, prepare_s=time.perf_counter() - start)
    if args.bf16:
        start = time.perf_counter()
        half = optimize_for_inference(model, precision="bf16", check_size=None)  # the table shows the difference
        add("optimized bf16", half, prepare_s=time.perf_counter() - start)
    if args.compile:
        start = time.perf_counter()
        compiled = optimize_for_inference(model, compile=True)
        with torch.inference_mode():
            compiled(x)  # compiles for this input size
        add("optimized+compile", compiled, prepare_s=time.perf_counter() - start)
    if args.onnxruntime:
        from refineseg.inference.export import export_onnx
        from refineseg.inference.runtime import OnnxRuntimeModel

        start = time.perf_counter()
        # unchecked: random weights make near-ties that the export check's 99.99% arg-max rule trips on;
        # the table reports the differences instead
        export_onnx(model, tmp / f"{name}.onnx", example_size=(height, width), check=False)
        add("onnxruntime", OnnxRuntimeModel(tmp / f"{name}.onnx"), prepare_s=time.perf_counter() - start)
    return rows


def shipped_model_check(image_path: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    """The shipped CamVid model on a real photograph: how far each variant's logits move."""
    from refineseg.inference import load_image

    model = refineseg.load_model("camvid").eval()
    rgb = torch.from_numpy(load_image(image_path).copy()).permute(2, 0, 1)[None].float() / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.meta.mean, model.meta.std))
    x = (rgb - mean) / std
    with torch.inference_mode():
        expected = model(x)
        variants: dict[str, Callable[[Tensor], Tensor]] = {"optimized": optimize_for_inference(model)}
        if args.bf16:
            variants["optimized bf16"] = optimize_for_inference(model, precision="bf16")
        if args.onnxruntime:
            from refineseg.inference.export import export_onnx
            from refineseg.inference.runtime import OnnxRuntimeModel

            with tempfile.TemporaryDirectory() as tmp:
                export_onnx(model, Path(tmp) / "camvid.onnx", example_size=tuple(x.shape[-2:]), check=False)
                variants["onnxruntime"] = OnnxRuntimeModel(Path(tmp) / "camvid.onnx")
        rows = []
        for variant, run in variants.items():
            rel, agree = compare(run(x), expected)
            rows.append({"variant": variant, "rel": rel, "agree": agree})
    return rows


def conv_floor(model: torch.nn.Module, x: Tensor, args: argparse.Namespace) -> tuple[float, float]:
    """(the model's GFLOP on ``x``, GFLOP/s of a large channels-last 3x3 convolution on this CPU).

    Dividing one by the other is the time the model's arithmetic needs at the best rate this
    CPU reaches on RefineNet's dominant layer: a floor for any implementation that computes
    the same convolutions in fp32.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    data = torch.randn(1, 256, 128, 128).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(256, 256, 3, 3).contiguous(memory_format=torch.channels_last)
    seconds = statistics.median(timings(lambda: F.conv2d(data, weight, padding=1), args.warmup, args.repeats))
    return counter.get_total_flops() / 1e9, 2 * 256 * 256 * 9 * 128 * 128 / seconds / 1e9


def bf16_conv_rate(args: argparse.Namespace) -> float:
    """GFLOP/s of the same 256->256 3x3 convolution at 128x128 in bf16 (oneDNN, channels-last)."""
    data = torch.randn(1, 256, 128, 128).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(256, 256, 3, 3).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    seconds = statistics.median(timings(lambda: F.conv2d(data, weight, padding=1), args.warmup, args.repeats))
    return 2 * 256 * 256 * 9 * 128 * 128 / seconds / 1e9


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """What this script and ``precision.py`` take alike: input size, timing, reference checkouts,
    the photograph the shipped model runs on, the JSON output."""
    parser.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported (default 5)")
    parser.add_argument("--refinenet-pytorch", type=Path, help="checkout of DrSleep/refinenet-pytorch")
    parser.add_argument("--light-weight-refinenet", type=Path, help="checkout of DrSleep/light-weight-refinenet")
    parser.add_argument(
        "--image",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "docs" / "images" / "street.jpg",
        help="a photograph the shipped model runs on (default docs/images/street.jpg)",
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_worker":
        repo, arch, h, w, warmup, repeats, out = sys.argv[2:]
        reference_worker(repo, arch, int(h), int(w), int(warmup), int(repeats), out)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["refinenet_resnet101", "lw_refinenet_mobilenet_v2"])
    add_model_options(parser)
    parser.add_argument("--compile", action="store_true", help="also time optimize_for_inference(compile=True)")
    parser.add_argument("--onnxruntime", action="store_true", help="also time the ONNX export in ONNX Runtime")
    parser.add_argument(
        "--bf16", action="store_true", help="also time optimize_for_inference(precision='bf16') and a bf16 convolution"
    )
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    print(machine())
    from refineseg.inference.precision import cpu_features

    print(f"cpu: {cpu_features().describe()}")
    if args.bf16:
        print(f"a 256->256 3x3 convolution at 128x128 in bf16 runs at {bf16_conv_rate(args):.0f} GFLOP/s here")
    print(f"input 1x3x{args.size[0]}x{args.size[1]}, fp32, median of {args.repeats} after {args.warmup} warm-up runs")
    results = {}
    for name in args.models:
        with tempfile.TemporaryDirectory() as tmp:
            rows = benchmark_model(name, args, Path(tmp))
        results[name] = rows
        base = statistics.median(rows[0]["times"])  # type: ignore[arg-type]
        print(f"\n{name}")
        print(
            f"  {'variant':24} {'median s':>9} {'min s':>8} {'speed-up':>9} {'max|diff|/max|logit|':>21} {'argmax same':>12}"
        )
        for row in rows:
            times: list[float] = row["times"]  # type: ignore[assignment]
            median = statistics.median(times)
            prepare = f"  (prepare {row['prepare_s']:.1f} s)" if "prepare_s" in row else ""
            print(
                f"  {row['variant']:24} {median:9.3f} {min(times):8.3f} {base / median:8.2f}x "
                f"{row['rel']:21.2e} {100 * row['agree']:11.4f}%{prepare}"  # type: ignore[operator]
            )
        floor: dict[str, float] = rows[0]["floor"]  # type: ignore[assignment]
        least = floor["gflop"] / floor["conv_gflops"]
        print(
            f"  arithmetic: {floor['gflop']:.1f} GFLOP; a 256->256 3x3 convolution at 128x128 runs at "
            f"{floor['conv_gflops']:.0f} GFLOP/s here, so fp32 needs at least {least:.2f} s: "
            f"at most {base / least:.2f}x over the baseline"
        )
    shipped = []
    if args.image is not None:
        shipped = shipped_model_check(args.image, args)
        print(f"\nshipped camvid model (trained) on {args.image}, against its eager logits")
        for row in shipped:
            print(
                f"  {row['variant']:24} max|diff|/max|logit| {row['rel']:.2e}   argmax same {100 * row['agree']:.4f}%"
            )  # type: ignore[operator]
    if args.json:
        report = {"machine": machine(), "size": args.size, "results": results, "shipped_model": shipped}
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
