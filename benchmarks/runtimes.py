"""Every CPU runtime x precision for refineseg's models, interleaved in one run.

    python benchmarks/runtimes.py --root CAMVID
    python benchmarks/runtimes.py --models camvid lw_refinenet_mobilenet_v2 --repeats 9 --no-miou

For each model (the shipped ``camvid`` model with its weights; other names are randomly
initialised 11-class models of that architecture, for speed only), at ``--size`` (CamVid's
360x480) and batch 1, it times
  pytorch    as built (the baseline), ``optimize_for_inference`` in fp32 and bf16, and with
             ``--compile`` torch.compile too
  onnxruntime  refineseg's ONNX export in fp32, and its int8 QDQ file
  openvino   the same ONNX export with the f32 and bf16 precision hints, and the same int8 file
             (each backend as ``refineseg predict --backend`` runs it)
Rounds are interleaved (every variant once per round, ``--repeats`` rounds after
``--warmup``), so a host that slows down mid-run slows every variant alike; the median of each
is printed with its ratio to the fastest at the same precision, and the pixels whose class
agrees with fp32 PyTorch. For the shipped model it also times the whole pipeline
(``docs/images/street.jpg`` in, labels out) through ``Segmenter`` against the same pipeline
written directly on the fastest runtime (normalise, infer, arg-max in numpy), and with
``--root`` the CamVid val mIoU of each precision. ``--json FILE`` keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _timing import machine

import refineseg
from refineseg.inference import Segmenter
from refineseg.inference.export import export_onnx
from refineseg.inference.images import load_image
from refineseg.inference.openvino_runtime import OpenVinoModel
from refineseg.inference.quantize import quantize_onnx
from refineseg.inference.runtime import OnnxRuntimeModel

STREET = Path(__file__).resolve().parents[1] / "docs" / "images" / "street.jpg"
DEFAULT_MODELS = ["camvid", "refinenet_resnet101", "lw_refinenet_resnet50", "lw_refinenet_mobilenet_v2"]


def interleaved(variants: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, float]:
    """The median seconds of each variant, timed round by round (each variant once per round)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    with torch.inference_mode():
        for _ in range(warmup):
            for run in variants.values():
                run()
        for _ in range(repeats):
            for name, run in variants.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def model_for(name: str) -> refineseg.models.SegmentationModel:
    # random weights give denormal activations that trained ones do not; ONNX Runtime and
    # OpenVINO flush them to zero, so PyTorch does too for those models (else it is ~10x slower)
    torch.set_flush_denormal(name != "camvid")
    if name == "camvid":
        return refineseg.load_model("camvid").eval()
    torch.manual_seed(0)
    return refineseg.get_model(name, num_classes=11).eval()


def calibration_for(name: str, root: Path | None, count: int) -> list[Any]:
    """CamVid training images for the shipped model (never val), random images for a random model."""
    if name == "camvid" and root is not None:
        from refineseg.data import get_dataset

        train = get_dataset("camvid", root, "train")
        step = max(1, len(train) // count)
        return [train.pairs[i][0] for i in range(0, len(train), step)][:count]
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (360, 480, 3), dtype=np.uint8) for _ in range(4)]


def runtimes_of(model: Any, fp32_file: Path, int8_file: Path, compile: bool) -> dict[str, tuple[str, Any]]:
    """name -> (precision, callable model) for every runtime and precision."""
    out: dict[str, tuple[str, Any]] = {
        "pytorch as built": ("fp32", model),
        "pytorch optimized": ("fp32", refineseg.optimize_for_inference(model)),
        "pytorch optimized bf16": ("bf16", refineseg.optimize_for_inference(model, precision="bf16")),
        "onnxruntime": ("fp32", OnnxRuntimeModel(fp32_file)),
        "openvino": ("fp32", OpenVinoModel(fp32_file, precision="fp32")),
        "openvino bf16": ("bf16", OpenVinoModel(fp32_file, precision="bf16")),
        "onnxruntime int8": ("int8", OnnxRuntimeModel(int8_file)),
        "openvino int8": ("int8", OpenVinoModel(int8_file)),
    }
    if compile:
        out["pytorch compiled"] = ("fp32", refineseg.optimize_for_inference(model, compile=True))
        out["pytorch compiled bf16"] = ("bf16", refineseg.optimize_for_inference(model, compile=True, precision="bf16"))
    return out


def pipeline_rows(model: Any, fp32_file: Path, warmup: int, repeats: int) -> dict[str, float]:
    """Image in, labels out: Segmenter's default and per backend, against a direct OpenVINO pipeline."""
    import openvino as ov

    image = load_image(STREET)
    mean = np.asarray(model.meta.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(model.meta.std, dtype=np.float32).reshape(1, 3, 1, 1)
    core = ov.Core()
    network = core.read_model(str(fp32_file))
    network.reshape({network.input(0): [1, 3, *image.shape[:2]]})
    compiled = core.compile_model(
        network, "CPU", {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": torch.get_num_threads()}
    )
    request = compiled.create_infer_request()

    def direct() -> np.ndarray:
        x = (image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 - mean) / std
        return request.infer({0: x})[compiled.output(0)].argmax(1)[0].astype(np.uint8)

    segmenters = {
        "Segmenter() default": Segmenter(model),
        "Segmenter(backend='openvino', precision='bf16')": Segmenter(model, backend="openvino", precision="bf16"),
    }
    variants: dict[str, Callable[[], object]] = {name: (lambda s=s: s(image)) for name, s in segmenters.items()}
    variants["direct openvino bf16 (numpy)"] = direct
    times = interleaved(variants, warmup, repeats)
    reference = direct()
    for name, seg in segmenters.items():
        agree = float((seg(image) == reference).mean())
        print(
            f"  {name:52} {1000 * times[name]:8.1f} ms  labels as direct: {100 * agree:.2f}% "
            f"(ran: {seg.backend} {seg.precision})",
            file=sys.stderr,
        )
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="CamVid: train images calibrate int8, val gives the mIoU")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calibration-images", type=int, default=32)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes to compile)")
    parser.add_argument("--no-miou", dest="miou", action="store_false", help="skip the shipped model's val mIoU")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()

    print(f"machine: {machine()}", flush=True)
    report: dict[str, Any] = {"machine": machine(), "size": args.size, "models": {}}
    x = torch.randn(1, 3, *args.size, generator=torch.Generator().manual_seed(0))
    for name in args.models:
        model = model_for(name)
        if name == "camvid":  # a real photo: agreement on random noise says little for a trained model
            x_model = torch.from_numpy(load_image(STREET).copy()).permute(2, 0, 1)[None].float() / 255
            mean, std = torch.tensor(model.meta.mean).view(1, 3, 1, 1), torch.tensor(model.meta.std).view(1, 3, 1, 1)
            x_model = torch.nn.functional.interpolate((x_model - mean) / std, size=tuple(args.size), mode="bilinear")
        else:
            x_model = x
        with tempfile.TemporaryDirectory() as tmp:
            fp32_file, int8_file = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            export_onnx(model, fp32_file, example_size=tuple(args.size))
            quantize_onnx(fp32_file, int8_file, calibration_for(name, args.root, args.calibration_images))
            runs = runtimes_of(model, fp32_file, int8_file, args.compile)
            times = interleaved(
                {n: (lambda m=m, x=x_model: m(x)) for n, (_, m) in runs.items()}, args.warmup, args.repeats
            )
            with torch.inference_mode():
                reference = model(x_model).argmax(1)
                agree = {n: (m(x_model).argmax(1) == reference).float().mean().item() for n, (_, m) in runs.items()}
            fastest = {p: min(times[n] for n, (q, _) in runs.items() if q == p) for p in ("fp32", "bf16", "int8")}
            rows = {
                n: {
                    "precision": p,
                    "ms": 1000 * times[n],
                    "vs_fastest_same_precision": times[n] / fastest[p],
                    "argmax_same_as_fp32": agree[n],
                }
                for n, (p, _) in runs.items()
            }
            print(f"\n{name} at {args.size[0]}x{args.size[1]}, batch 1, median of {args.repeats} interleaved rounds")
            print("| runtime | precision | ms | vs fastest at that precision | arg-max same as fp32 |")
            print("|---|---|---|---|---|")
            for n, row in rows.items():
                print(
                    f"| {n} | {row['precision']} | {row['ms']:.1f} | {row['vs_fastest_same_precision']:.2f}x | "
                    f"{100 * row['argmax_same_as_fp32']:.2f}% |"
                )
            entry: dict[str, Any] = {"runtimes": rows}
            if name == "camvid":
                pipeline = pipeline_rows(model, fp32_file, args.warmup, args.repeats)
                entry["pipeline_ms"] = {k: 1000 * v for k, v in pipeline.items()}
                direct = pipeline["direct openvino bf16 (numpy)"]
                print("\nimage in, labels out (docs/images/street.jpg):")
                for k, v in pipeline.items():
                    print(f"  {k:52} {1000 * v:8.1f} ms  {v / direct:.2f}x the direct pipeline")
                if args.miou and args.root is not None:
                    from refineseg.data import get_dataset
                    from refineseg.evaluation import evaluate

                    val = get_dataset("camvid", args.root, "val")
                    miou = {}
                    for n, (p, m) in runs.items():
                        # each as it was made: only an OpenVINO float model takes evaluate's precision (its hint)
                        asked = p if isinstance(m, OpenVinoModel) and p != "int8" else "fp32"
                        miou[n] = evaluate(m, val, progress=False, optimize=False, precision=asked).metrics.miou
                    entry["val_miou"] = miou
                    print("\nCamVid val mIoU (single scale, full resolution):")
                    for n, v in miou.items():
                        print(f"  {n:28} {100 * v:.2f}%  ({100 * (v - miou['pytorch as built']):+.2f} vs fp32)")
            report["models"][name] = entry
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
