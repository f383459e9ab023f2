"""Print the validation learning curve of one or more training runs as a Markdown table.

    python tools/learning_curve.py runs/camvid_lw_mbv2 runs/camvid_lw_mbv2_ft

Reads every ``RUN/logs/csv/version_*/metrics.csv`` that ``refineseg train`` wrote (one version
per launch, so a resumed run has several) and lists, per validated epoch, the validation mIoU,
pixel accuracy and mean class accuracy, and the last training loss. Runs given one after the
other (a fine-tuning stage after its first stage) continue the epoch count.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def read_curve(run: Path) -> list[dict[str, float]]:
    """Validation rows by epoch, the latest launch winning where a resume repeated an epoch."""
    files = sorted((run / "logs" / "csv").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not files:
        raise FileNotFoundError(f"{run}: no logs/csv/version_*/metrics.csv (is it a refineseg train output?)")
    by_epoch: dict[int, dict[str, float]] = {}
    losses: dict[int, float] = {}
    for path in files:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                if row.get("train/loss_epoch"):
                    losses[epoch] = float(row["train/loss_epoch"])
                if row.get("val/miou"):
                    by_epoch[epoch] = {
                        "miou": float(row["val/miou"]),
                        "pixel_accuracy": float(row["val/pixel_accuracy"]),
                        "mean_accuracy": float(row["val/mean_accuracy"]),
                    }
    return [
        {"epoch": epoch, **values, "train_loss": losses.get(epoch, float("nan"))}
        for epoch, values in sorted(by_epoch.items())
    ]


def _planned_epochs(run: Path, curve: list[dict[str, float]]) -> int:
    config = run / "config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["epochs"])
    return int(curve[-1]["epoch"]) + 1 if curve else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="refineseg train output folders, in training order")
    args = parser.parse_args(argv)
    print("| run | epoch | val mIoU (%) | pixel acc (%) | mean class acc (%) | train loss |")
    print("|---|---|---|---|---|---|")
    offset = 0
    best = (0.0, "", 0)
    for run in args.runs:
        try:
            curve = read_curve(run)
        except FileNotFoundError as exc:
            print(f"learning_curve: error: {exc}", file=sys.stderr)
            return 1
        for row in curve:
            epoch = offset + int(row["epoch"]) + 1
            print(
                f"| {run.name} | {epoch} | {100 * row['miou']:.2f} | {100 * row['pixel_accuracy']:.2f} "
                f"| {100 * row['mean_accuracy']:.2f} | {row['train_loss']:.3f} |"
            )
            best = max(best, (row["miou"], run.name, epoch))
        offset += _planned_epochs(run, curve)
    print(f"\nbest: {100 * best[0]:.2f}% val mIoU ({best[1]}, epoch {best[2]}; epochs counted from 1 across the runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
