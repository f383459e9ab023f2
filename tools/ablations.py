"""Architecture ablations on CamVid: every variant trained on the same short budget and seed.

    git show 60077fa:src/refineseg/weights/files/camvid_lw_mobilenet_v2.safetensors > runs/camvid_lw_mbv2.safetensors
    python tools/ablations.py --root ../shared/datasets/camvid --output runs/ablations --epochs 4 \
        --mobilenet-weights runs/camvid_lw_mbv2.safetensors

Two groups, each a baseline and variants that change one thing:
  lw    Light-Weight RefineNet, MobileNet-v2 encoder initialised from the CamVid model shipped
        until commit 60077fa (``--mobilenet-weights``; it was the stand-in for ImageNet
        pre-training when the table was made), decoder from scratch:
        chained residual pooling with 4 (baseline), 2 or 0 stages; conv->pool against
        pool->conv; the 2-cascade and single-block variants against the 4-cascade
  rcu   RefineNet, ResNet-18 encoder and 64-channel decoder, all from scratch: with the
        published RCUs (2 adaptive per path, 3 output per block) against none
Each variant trains ``--epochs`` epochs (same recipe, seed, crops and batch order), then its
weights are evaluated on CamVid val at full resolution, single scale. The table is printed
and written to OUTPUT/ablations.md and .json. Short budgets rank variants by how fast they
learn as much as by how well they end up; read small differences as noise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _study import run_variants, slug, study_parser

VARIANTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (group, arch, model options)
    "lw: baseline (4-cascade, CRP 4 stages, pool->conv)": ("lw", "lw_refinenet_mobilenet_v2", {}),
    "lw: CRP 2 stages": ("lw", "lw_refinenet_mobilenet_v2", {"crp_stages": 2}),
    "lw: CRP 0 stages (no pooling)": ("lw", "lw_refinenet_mobilenet_v2", {"crp_stages": 0}),
    "lw: CRP conv->pool": ("lw", "lw_refinenet_mobilenet_v2", {"crp_order": "conv-pool"}),
    "lw: 2-cascade": ("lw", "lw_refinenet_mobilenet_v2", {"cascade": "2-cascade"}),
    "lw: single block": ("lw", "lw_refinenet_mobilenet_v2", {"cascade": "single"}),
    "rcu: with RCUs (2 adaptive, 3 output)": (
        "rcu",
        "refinenet_resnet18",
        {"width": 64, "top_width": 64, "dropout": 0.0},
    ),
    "rcu: without RCUs": (
        "rcu",
        "refinenet_resnet18",
        {"width": 64, "top_width": 64, "dropout": 0.0, "adaptive_rcus": 0, "output_rcus": 0},
    ),
}

COMMON = {
    "dataset": "camvid",
    "batch_size": 8,
    "crop_size": 256,
    "scale_range": (0.5, 2.0),
    "lr": 0.002,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": "poly",
    "class_weights": "sqrt_median_frequency",
    "gradient_clip_val": 5.0,
    "accelerator": "cpu",
    "devices": 1,
    "seed": 42,
    "progress": False,
}


def mobilenet_encoder(weights: Path, path: Path) -> Path:
    """The encoder of a LW-RefineNet MobileNet-v2 weights file as a state dict the encoder loads."""
    from safetensors.torch import save_file

    import refineseg

    model = refineseg.load_model(weights)
    if model.arch != "lw_refinenet_mobilenet_v2":
        raise SystemExit(f"--mobilenet-weights {weights}: holds {model.arch!r}, not lw_refinenet_mobilenet_v2")
    state = model.state_dict()
    save_file({k.removeprefix("encoder."): v.contiguous() for k, v in state.items() if k.startswith("encoder.")}, path)
    return path


def run_variant(name: str, args: argparse.Namespace, encoder: Path) -> dict[str, Any]:
    from refineseg.data import get_dataset
    from refineseg.evaluation import evaluate
    from refineseg.models import get_model
    from refineseg.training.config import TrainConfig
    from refineseg.training.run import train
    from refineseg.weights import load_model

    group, arch, options = VARIANTS[name]
    output = args.output / slug(name)
    config = TrainConfig(
        **COMMON,  # type: ignore[arg-type]
        root=str(args.root),
        arch=arch,
        model_options=options,
        weights_backbone=str(encoder) if group == "lw" else None,
        encoder_lr_ratio=0.1 if group == "lw" else 1.0,
        epochs=args.epochs,
        val_every=args.epochs,
        output=str(output),
    )
    start = time.perf_counter()
    best = output / "best.safetensors"
    if not best.is_file():
        train(config)
    seconds = time.perf_counter() - start
    result = evaluate(load_model(best), get_dataset("camvid", args.root, "val"), progress=False)
    params = sum(p.numel() for p in get_model(arch, num_classes=11, **options).parameters())
    return {
        "variant": name,
        "group": group,
        "arch": arch,
        "options": options,
        "params": params,
        "miou": result.metrics.miou,
        "pixel_accuracy": result.metrics.pixel_accuracy,
        "train_seconds": seconds,
    }


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    lines = [
        f"| variant | parameters | val mIoU % | pixel acc % | train min ({epochs} epochs) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['params']:,} | {100 * r['miou']:.2f} | {100 * r['pixel_accuracy']:.2f} "
            f"| {r['train_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = study_parser(__doc__, epochs=4)
    parser.add_argument(
        "--mobilenet-weights",
        type=Path,
        help="LW-RefineNet MobileNet-v2 CamVid weights whose encoder starts the lw group (see above)",
    )
    parser.add_argument("--only", nargs="+", choices=["lw", "rcu"], default=["lw", "rcu"], help="groups to run")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    if "lw" in args.only and args.mobilenet_weights is None:
        parser.error("the lw group needs --mobilenet-weights (see the command at the top of --help)")
    encoder = (
        mobilenet_encoder(args.mobilenet_weights, args.output / "mobilenet_encoder.safetensors")
        if "lw" in args.only
        else Path()
    )
    names = [name for name, (group, _, _) in VARIANTS.items() if group in args.only]
    run_variants(
        names,
        lambda name: run_variant(name, args, encoder),
        lambda rows: table(rows, args.epochs),
        args.output,
        "ablations",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
