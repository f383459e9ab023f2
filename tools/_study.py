"""What the training studies in tools/ share: run variants in turn, keep the rows, write the table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Row = dict[str, Any]

# the shipped recipe, which the CamVid studies change one setting of
RECIPE = Path(__file__).resolve().parents[1] / "configs" / "camvid_refinenet_efficientnet_lite0.yaml"
# CamVid's five rare classes (under 2% of the pixels each); the other six are the frequent ones
RARE = ("Pole", "SignSymbol", "Fence", "Pedestrian", "Bicyclist")


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def train_recipe_variant(name: str, changes: dict[str, Any], args: argparse.Namespace) -> Row:
    """Train the shipped recipe with ``changes`` for ``args.epochs`` into OUTPUT/SLUG, evaluate the
    best checkpoint on the recipe's validation split (CamVid val unless ``changes`` name another;
    full resolution, single scale) and return its row. A variant that finished before is read
    back from its ``comparison_result.json`` instead of trained again."""
    from refineseg.data import get_dataset
    from refineseg.evaluation import evaluate
    from refineseg.inference.precision import cpu_features
    from refineseg.training import TrainConfig, last_checkpoint, load_recipe, train, training_time
    from refineseg.weights import load_model

    output = args.output / slug(name)
    result_file = output / "comparison_result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    settings = {**load_recipe(RECIPE), **changes}
    settings.update(root=str(args.root), epochs=args.epochs, val_every=args.epochs, output=str(output), progress=False)
    # a variant stopped midway (the study was interrupted) continues from its last whole epoch;
    # its checkpoints carry the time trained before, which the row sums
    settings["resume"] = last_checkpoint(output) is not None
    best = train(TrainConfig(**settings))
    timed = training_time(output)
    assert timed is not None  # train() has written its last checkpoint
    val_split, train_split = settings.get("val_split", "val"), settings.get("train_split", "train")
    # PyTorch in fp32, as every row before --backend auto became the default: no runtime choice moves a row
    result = evaluate(load_model(best), get_dataset("camvid", args.root, val_split), progress=False, backend="pytorch")
    per_class = dict(zip(result.class_names, result.metrics.per_class_iou, strict=True))
    row = {
        "variant": name,
        "changes": changes,
        "miou": result.metrics.miou,
        "pixel_accuracy": result.metrics.pixel_accuracy,
        "rare_miou": sum(per_class[c] for c in RARE) / len(RARE),
        "frequent_miou": sum(v for c, v in per_class.items() if c not in RARE) / (len(per_class) - len(RARE)),
        "per_class_iou": per_class,
        "train_seconds": timed.seconds,
        # fewer than the epochs where the variant resumed from a checkpoint that predates the timing
        "timed_epochs": timed.timed_epochs,
        "resumed": settings["resume"],
        "val_split": val_split,
        "train_images": args.epochs * len(get_dataset("camvid", args.root, train_split)),
        "cpu": cpu_features().describe(),
    }
    result_file.write_text(json.dumps(row, indent=1))
    return row


def train_minutes(row: Row, epochs: int) -> str:
    """A row's training time for a table: minutes, and which part of the run they cover where
    not all of it (rows resumed from checkpoints that did not carry their time yet)."""
    if row["train_seconds"] is None:  # a run whose wall clock was not its training time (paused)
        return "n/a"
    minutes = f"{row['train_seconds'] / 60:.1f}"
    timed = row.get("timed_epochs", 0 if row.get("resumed") else epochs)
    if timed >= epochs:
        return minutes
    return f"{minutes} ({timed}/{epochs} epochs timed)" if timed else f"{minutes} (resumed part)"


def run_variants(
    names: Iterable[str],
    run: Callable[[str], Row],
    table: Callable[[list[Row]], str],
    output: Path,
    stem: str,
    *,
    finished: Callable[[], list[Row]] | None = None,
) -> list[Row]:
    """``run`` each variant (the rows are rewritten to OUTPUT/STEM.json after each, so a study
    stopped midway keeps what it measured), then print the table and write OUTPUT/STEM.md: of
    the rows ``finished`` gives (every variant measured so far, this run's or earlier ones'),
    else of this run's."""
    rows: list[Row] = []
    for name in names:
        rows.append(run(name))
        print(f"{name}: mIoU {100 * rows[-1]['miou']:.2f}% ({rows[-1]['train_seconds'] / 60:.1f} min)", flush=True)
        (output / f"{stem}.json").write_text(json.dumps(finished() if finished else rows, indent=1))
    rows = finished() if finished else rows
    text = table(rows)
    (output / f"{stem}.md").write_text(text + "\n")
    print(text)
    return rows


def study_parser(description: str | None, *, epochs: int) -> argparse.ArgumentParser:
    """The options every study takes: the CamVid root, the output folder, the budget."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="CamVid directory")
    parser.add_argument("--output", type=Path, required=True, help="folder for the runs and the table")
    parser.add_argument("--epochs", type=int, default=epochs, help=f"training budget per variant (default {epochs})")
    return parser


def study_main(
    description: str | None,
    variants: dict[str, dict[str, Any]],
    table: Callable[[list[Row], int], str],
    stem: str,
    *,
    epochs: int,
) -> int:
    """The command line of a study of the shipped recipe: parse, train the chosen variants
    (``--only``, default all) with :func:`train_recipe_variant`, write OUTPUT/STEM.md and .json
    with every variant measured so far (``--only`` adds rows to the table, never drops them)."""
    parser = study_parser(description, epochs=epochs)
    parser.add_argument("--only", nargs="+", choices=list(variants), metavar="VARIANT", help="variants to run")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)

    def finished() -> list[Row]:  # the table lists every variant measured so far, in the study's order
        files = [args.output / slug(name) / "comparison_result.json" for name in variants]
        return [json.loads(f.read_text()) for f in files if f.is_file()]

    run_variants(
        args.only or variants,
        lambda name: train_recipe_variant(name, variants[name], args),
        lambda rows: table(rows, args.epochs),
        args.output,
        stem,
        finished=finished,
    )
    return 0
