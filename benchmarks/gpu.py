"""GPU figures: training throughput, inference latency and peak memory of refineseg's models on one GPU.

    python benchmarks/gpu.py                                  # CUDA device 0; one line and exit 2 without one
    python benchmarks/gpu.py --refinenet-pytorch DIR          # RefineNet-101 against the reference rf101
    python benchmarks/gpu.py --device cpu --steps 1 --warmup 0 --repeats 1 --no-compile \
        --size 32 32 --crop 32 32 --image-size 32 48 --batch-size 2

The last one is the smoke mode: every code path (but torch.compile) on the CPU in a minute, the figures
meaningless.

Training: images/s of SGD steps (cross entropy, as benchmarks/train_throughput.py steps) on random
batches already on the device, so the data pipeline is out of the figure, for
  shipped        the shipped recipe, configs/camvid_refinenet_efficientnet_lite0.yaml: its arch,
                 crop and batch, 11 classes
  rf101          refinenet_resnet101 at --size (512x512), batch --batch-size (8), 21 classes
each four ways (the ratio column is against the first):
  fp32                     NCHW float32 (cuDNN's convolutions run float32 as TF32 on Ampere and
                           later unless told otherwise; the GPU line says which)
  bf16-mixed               torch.autocast to bfloat16, as `refineseg train --precision bf16-mixed`
  bf16-mixed+channels-last the same in NHWC: what `refineseg train` runs on a GPU by default
  bf16-mixed+channels-last+compile
                           the same through torch.compile (compile time in its own column;
                           --no-compile leaves it out)
Inference: batch 1, median of --repeats after --warmup runs, CUDA-synchronised:
  rf101          the reference implementation (DrSleep/refinenet-pytorch's rf101 from the checkout
                 --refinenet-pytorch names, run in a subprocess as benchmarks/inference_speed.py and
                 tools/compare_reference.py run it; nothing is downloaded) on --size random images,
                 its random weights converted to refineseg's; without a checkout, refineseg's eager
                 model is the baseline
  shipped        the trained camvid model on --image (docs/images/street.jpg, 360x480); no reference
                 implementation of RefineNet on EfficientNet-Lite0 exists, so its eager model is
                 the baseline
  variants: eager fp32 (the model as built), optimized fp32 (optimize_for_inference, what
  predict/evaluate/serve run), optimized bf16 (precision="bf16"), and with --compile-inference
  optimized fp32 + torch.compile. Each is compared with the baseline's logits on the same input.
Peak memory: torch.cuda.max_memory_allocated while the variant ran (weights included), reset
before each; one variant is on the device at a time.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from _timing import machine, timings
from inference_speed import MODELS as REFERENCE_OF
from inference_speed import NUM_CLASSES, compare

import refineseg
from compare_reference import ARCHS, randomize_
from refineseg.inference.optimize import optimize_for_inference

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_RECIPE = ROOT / "configs" / "camvid_refinenet_efficientnet_lite0.yaml"
RF101 = "refinenet_resnet101"
# name -> (autocast to bf16, channels-last, torch.compile)
TRAIN_VARIANTS: dict[str, tuple[bool, bool, bool]] = {
    "fp32": (False, False, False),
    "bf16-mixed": (True, False, False),
    "bf16-mixed+channels-last": (True, True, False),
    "bf16-mixed+channels-last+compile": (True, True, True),
}


def no_cuda_message() -> str:
    """The one line printed when ``--device cuda`` finds no GPU."""
    return (
        f"benchmarks/gpu.py: no CUDA device is visible (torch {torch.__version__}, built for CUDA "
        f"{torch.version.cuda or 'none'}); run it on a GPU machine, or with --device cpu for the smoke mode"
    )


def gpu_line(device: torch.device) -> str:
    """The device, its memory and what float32 convolutions run in: GPU timings differ between them."""
    if device.type != "cuda":
        return f"device: {device} (smoke mode: the code paths run, the figures are not GPU figures)"
    p = torch.cuda.get_device_properties(device)
    conv = getattr(torch.backends.cudnn, "conv", None)
    fp32 = conv.fp32_precision if conv is not None and hasattr(conv, "fp32_precision") else None
    fp32 = fp32 or ("tf32" if torch.backends.cudnn.allow_tf32 else "ieee")
    return (
        f"GPU: {p.name} (sm_{p.major}{p.minor}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs), "
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
        f"float32 convolutions as {fp32}"
    )


def synchronizer(device: torch.device) -> Callable[[], None]:
    """``torch.cuda.synchronize`` on a GPU (its work is asynchronous), a no-op elsewhere."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def release(device: torch.device) -> None:
    """Free what the last variant left, so the next one's peak is its own."""
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:160]


# -- training ---------------------------------------------------------------------------------


def train_rate(
    arch: str,
    num_classes: int,
    batch: int,
    crop: tuple[int, int],
    device: torch.device,
    args: argparse.Namespace,
    *,
    bf16: bool,
    channels_last: bool,
    compile: bool,
) -> dict[str, Any]:
    """images/s of ``args.steps`` training steps after ``args.warmup``, peak memory and compile time."""
    torch.manual_seed(0)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = refineseg.get_model(arch, num_classes=num_classes).to(device).train()
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    # two batches taken in turn: one fixed batch could stay in the GPU's cache
    batches = [
        (
            torch.randn(batch, 3, *crop, generator=gen).to(device).contiguous(memory_format=memory_format),
            torch.randint(0, num_classes, (batch, *crop), generator=gen).to(device),
        )
        for _ in range(2)
    ]
    forward = torch.compile(model) if compile else model
    sync = synchronizer(device)

    def step(i: int) -> None:
        images, masks = batches[i % 2]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = forward(images)
        loss = F.cross_entropy(logits.float(), masks, ignore_index=255)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    reset_peak(device)
    compile_s = None
    if compile:  # the first step compiles; timed apart
        start = time.perf_counter()
        step(0)
        sync()
        compile_s = time.perf_counter() - start
    for i in range(args.warmup):
        step(i)
    sync()
    start = time.perf_counter()
    for i in range(args.steps):
        step(i)
    sync()
    rate = args.steps * batch / (time.perf_counter() - start)
    return {"images_per_s": rate, "peak_mib": peak_mib(device), "compile_s": compile_s}


def training_rows(args: argparse.Namespace, device: torch.device, *, compiled: bool) -> list[dict[str, Any]]:
    """The training variants with (``compiled``) or without torch.compile, for each model."""
    from refineseg.training import load_recipe

    recipe = load_recipe(SHIPPED_RECIPE)
    crop = args.crop or recipe["crop_size"]
    crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
    setups = {
        "shipped": (recipe["arch"], 11, args.batch_size or recipe["batch_size"], crop),
        "rf101": (RF101, NUM_CLASSES, args.batch_size or 8, tuple(args.size)),
    }
    variants = [name for name, (_, _, compile) in TRAIN_VARIANTS.items() if compile == compiled]
    rows = []
    for key in args.models:
        arch, classes, batch, size = setups[key]
        for variant in variants:
            bf16, channels_last, compile = TRAIN_VARIANTS[variant]
            row: dict[str, Any] = {"model": arch, "batch": batch, "size": list(size), "variant": variant}
            try:
                row |= train_rate(
                    arch, classes, batch, size, device, args, bf16=bf16, channels_last=channels_last, compile=compile
                )
            except Exception as exc:  # one variant's failure (out of memory, a compiler error) is a row, not the end
                row["error"] = first_line(exc)
            if compile:
                torch._dynamo.reset()
            release(device)
            rows.append(row)
            if "error" in row:
                done = row["error"]
            else:  # the figures as they come: a run stopped by a time limit still leaves them in its log
                done = f"{row['images_per_s']:.1f} images/s"
                done += f", peak {row['peak_mib']:.0f} MiB" if row["peak_mib"] is not None else ""
                done += f", compiled in {row['compile_s']:.0f} s" if row["compile_s"] is not None else ""
            print(f"  train {arch} {variant}: {done}", file=sys.stderr, flush=True)
    return rows


# -- inference --------------------------------------------------------------------------------


def reference_worker(repo: str, arch: str, h: int, w: int, warmup: int, repeats: int, out: str, device: str) -> None:
    """Subprocess: the reference model with random weights, saved, timed on ``device``, its logits saved."""
    import importlib

    sys.path.insert(0, repo)
    module, builder, _ = ARCHS[arch]
    model = getattr(importlib.import_module(module), builder)(NUM_CLASSES, imagenet=False, pretrained=False)
    randomize_(model, seed=0)
    model.eval()
    torch.save(model.state_dict(), Path(out) / "checkpoint.pth")
    where = torch.device(device)
    model.to(where)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    on_device = x.to(where)
    sync = synchronizer(where)
    reset_peak(where)
    times = timings(lambda: (model(on_device), sync()), warmup, repeats)
    peak = peak_mib(where)
    with torch.inference_mode():
        logits = F.interpolate(model(on_device), size=(h, w), mode="bilinear", align_corners=False).cpu()
    torch.save({"x": x, "logits": logits, "times": times, "peak_mib": peak}, Path(out) / "result.pth")


def variant_row(
    name: str, variant: str, make: Callable[[], Callable[[Tensor], Tensor]], x: Tensor, expected: Tensor | None, args
) -> dict[str, Any]:
    """Build a variant on the device (``make``), time it on ``x``, compare its logits with ``expected``."""
    device = x.device
    row: dict[str, Any] = {"model": name, "variant": variant}
    try:
        start = time.perf_counter()
        run = make()
        with torch.inference_mode():
            logits = run(x)  # compiles, for torch.compile
        synchronizer(device)()
        row["prepare_s"] = time.perf_counter() - start
        sync = synchronizer(device)
        reset_peak(device)
        row["times"] = timings(lambda: (run(x), sync()), args.warmup, args.repeats)
        row["peak_mib"] = peak_mib(device)
        row["logits"] = logits.float().cpu()
        if expected is not None:
            row["rel"], row["agree"] = compare(row["logits"], expected)
    except Exception as exc:
        row["error"] = first_line(exc)
    torch._dynamo.reset()
    release(device)
    done = row.get("error") or f"{1000 * statistics.median(row['times']):.2f} ms"
    print(f"  inference {name} {variant}: {done}", file=sys.stderr, flush=True)
    return row


def inference_variants(
    name: str, model: torch.nn.Module, x: Tensor, expected: Tensor | None, args
) -> list[dict[str, Any]]:
    """The model as built, optimised fp32, bf16 (and compiled), each alone on the device."""
    device = x.device

    def eager() -> torch.nn.Module:
        return copy.deepcopy(model).to(device).eval()

    def optimized(**options: Any) -> Callable[[], torch.nn.Module]:
        def make() -> torch.nn.Module:
            on_device = eager()
            fast = optimize_for_inference(on_device, **options)
            del on_device  # only the optimised copy stays on the device
            return fast

        return make

    rows = [variant_row(name, "eager fp32", eager, x, expected, args)]
    if expected is None:  # refineseg's own eager model is the baseline
        expected = rows[0].get("logits")
        if expected is not None:
            rows[0]["rel"], rows[0]["agree"] = 0.0, 1.0
    rows.append(variant_row(name, "optimized fp32", optimized(), x, expected, args))
    rows.append(variant_row(name, "optimized bf16", optimized(precision="bf16"), x, expected, args))
    if args.compile_inference:
        rows.append(variant_row(name, "optimized fp32+compile", optimized(compile=True), x, expected, args))
    return rows


def rf101_rows(args: argparse.Namespace, device: torch.device, tmp: Path) -> list[dict[str, Any]]:
    height, width = args.size
    arch, _ = REFERENCE_OF[RF101]
    rows: list[dict[str, Any]] = []
    expected = None
    if args.refinenet_pytorch is not None:
        cmd = [sys.executable, __file__, "--_worker", str(args.refinenet_pytorch), arch, str(height), str(width)]
        subprocess.run([*cmd, str(args.warmup), str(args.repeats), str(tmp), str(device)], check=True)
        from refineseg.weights.convert import convert_checkpoint

        model = convert_checkpoint(
            tmp / "checkpoint.pth", arch=arch, num_classes=NUM_CLASSES, output=tmp / f"{RF101}.safetensors"
        ).eval()
        result = torch.load(tmp / "result.pth", weights_only=True)
        x, expected = result["x"], result["logits"]
        rows.append(
            {
                "model": RF101,
                "variant": f"reference {arch} (eager fp32)",
                "times": result["times"],
                "peak_mib": result["peak_mib"],
                "rel": 0.0,
                "agree": 1.0,
            }
        )
    else:
        model = refineseg.get_model(RF101, num_classes=NUM_CLASSES)
        randomize_(model, seed=0)
        model.eval()
        x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    return rows + inference_variants(RF101, model, x.to(device), expected, args)


def shipped_rows(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    from refineseg.inference import load_image

    model = refineseg.load_model("camvid").eval()
    rgb = torch.from_numpy(load_image(args.image).copy()).permute(2, 0, 1)[None].float() / 255
    if args.image_size:
        rgb = F.interpolate(rgb, size=tuple(args.image_size), mode="bilinear", align_corners=False)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.meta.mean, model.meta.std))
    return inference_variants("camvid (shipped)", model, ((rgb - mean) / std).to(device), None, args)


# -- report -----------------------------------------------------------------------------------


def training_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | batch x crop | variant | images/s | vs fp32 | peak memory (MiB) | compile (s) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    base: dict[str, float] = {}
    for row in rows:
        shape = f"{row['batch']} x {row['size'][0]}x{row['size'][1]}"
        if "error" in row:
            lines.append(f"| {row['model']} | {shape} | {row['variant']} | failed: {row['error']} | | | |")
            continue
        rate = row["images_per_s"]
        base.setdefault(row["model"], rate)
        peak = f"{row['peak_mib']:.0f}" if row["peak_mib"] is not None else "n/a"
        compile_s = f"{row['compile_s']:.0f}" if row["compile_s"] is not None else ""
        lines.append(
            f"| {row['model']} | {shape} | {row['variant']} | {rate:.1f} | {rate / base[row['model']]:.2f}x "
            f"| {peak} | {compile_s} |"
        )
    return lines


def inference_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | variant | median ms | min ms | speed-up | max\\|diff\\|/max\\|logit\\| | argmax same | peak memory (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    base: dict[str, float] = {}
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | {row['variant']} | failed: {row['error']} | | | | | |")
            continue
        median = statistics.median(row["times"])
        base.setdefault(row["model"], median)
        rel = f"{row['rel']:.1e}" if "rel" in row else "n/a"
        agree = f"{100 * row['agree']:.3f}%" if "agree" in row else "n/a"
        peak = f"{row['peak_mib']:.0f}" if row.get("peak_mib") is not None else "n/a"
        lines.append(
            f"| {row['model']} | {row['variant']} | {1000 * median:.2f} | {1000 * min(row['times']):.2f} "
            f"| {base[row['model']] / median:.2f}x | {rel} | {agree} | {peak} |"
        )
    return lines


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_worker":
        repo, arch, h, w, warmup, repeats, out, device = sys.argv[2:]
        reference_worker(repo, arch, int(h), int(w), int(warmup), int(repeats), out, device)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for the smoke mode")
    parser.add_argument("--models", nargs="+", choices=["shipped", "rf101"], default=["shipped", "rf101"])
    parser.add_argument("--parts", nargs="+", choices=["train", "inference"], default=["train", "inference"])
    parser.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"), help="RefineNet-101's")
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), help="the shipped recipe's training crop")
    parser.add_argument("--batch-size", type=int, help="training batch (default: the recipe's 8 / 8 for rf101)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps or runs first (default 3)")
    parser.add_argument("--repeats", type=int, default=20, help="timed inference runs; the median is reported")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="leave torch.compile out")
    parser.add_argument(
        "--compile-inference", action="store_true", help="also time optimize_for_inference(compile=True)"
    )
    parser.add_argument("--refinenet-pytorch", type=Path, help="checkout of DrSleep/refinenet-pytorch (rf101)")
    parser.add_argument(
        "--image",
        type=Path,
        default=ROOT / "docs" / "images" / "street.jpg",
        help="the photograph the shipped model runs on (default docs/images/street.jpg)",
    )
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="resize --image to this")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(no_cuda_message(), file=sys.stderr)
        return 2
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    header = [gpu_line(device), f"machine: {machine()}"]
    print("\n".join(header), flush=True)
    # torch.compile's rows last: they take minutes to compile, the others seconds
    train = training_rows(args, device, compiled=False) if "train" in args.parts else []
    inference: list[dict[str, Any]] = []
    if "inference" in args.parts:
        if "rf101" in args.models:
            with tempfile.TemporaryDirectory() as tmp:
                inference += rf101_rows(args, device, Path(tmp))
        if "shipped" in args.models:
            inference += shipped_rows(args, device)
    if "train" in args.parts and args.compile:
        train += training_rows(args, device, compiled=True)
        models, variants = list(dict.fromkeys(row["model"] for row in train)), list(TRAIN_VARIANTS)
        train.sort(key=lambda row: (models.index(row["model"]), variants.index(row["variant"])))
    lines = [*header, ""]
    if train:
        lines += [
            f"Training: SGD steps on random batches on the device, {args.steps} timed after {args.warmup}",
            "",
            *training_table(train),
            "",
        ]
    if inference:
        inputs = {
            "rf101": f"rf101 at {args.size[0]}x{args.size[1]}",
            "shipped": f"the shipped model on {args.image.name}",
        }
        lines += [
            f"Inference: batch 1 ({', '.join(inputs[m] for m in args.models)}), median of {args.repeats} after "
            f"{args.warmup}; differences against the first row of each model",
            "",
            *inference_table(inference),
        ]
    text = "\n".join(lines)
    print("\n" + "\n".join(lines[len(header) + 1 :]))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        plain = [{k: v for k, v in row.items() if k != "logits"} for row in inference]
        args.json.write_text(json.dumps({"header": header, "training": train, "inference": plain}, indent=1))
    failed = [row for row in train + inference if "error" in row]
    if failed:
        print(f"{len(failed)} variant(s) failed: see the tables", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
