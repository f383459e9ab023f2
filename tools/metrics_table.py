"""Print the metric and per-class IoU tables of ``refineseg evaluate`` results side by side, in Markdown.

    python tools/metrics_table.py "twin, single=twin.json" "twin, scales + flip=twin_ms.json"
    python tools/metrics_table.py --delta "fp32=twin.json" "bf16=twin_bf16.json" "int8=twin_int8.json"

Each argument is ``LABEL=FILE``: a column heading and a JSON file that ``refineseg evaluate
--output`` wrote. The tables are those of docs/MODEL_CARD_CAMVID.md, so the card's figures are
copied from this script's output instead of by hand. With ``--delta`` every column after the
first also gives its difference from the first in points (how the card reports bf16 and int8).
All files must cover the same classes in the same order; a class absent from a split (IoU
``null``) prints as ``n/a``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

# (key in the evaluate JSON, row heading); IoUs and accuracies are fractions there
METRICS = (
    ("miou", "**mIoU**"),
    ("pixel_accuracy", "pixel accuracy"),
    ("mean_accuracy", "mean class accuracy"),
    ("fwiou", "frequency-weighted IoU"),
)


def column(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse ``LABEL=FILE`` and read the file's metrics."""
    label, sep, name = spec.rpartition("=")
    if not sep or not label or not name:
        raise ValueError(f"{spec!r}: expected LABEL=FILE (a column heading and an evaluate JSON)")
    path = Path(name)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a refineseg evaluate JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a refineseg evaluate JSON (a {type(data).__name__}, not an object)")
    missing = [key for key, _ in METRICS if key not in data] + ([] if "per_class_iou" in data else ["per_class_iou"])
    if missing:
        raise ValueError(f"{path}: not a refineseg evaluate JSON (no {', '.join(missing)})")
    return label, data


def _cell(value: float | None, base: float | None, delta: bool) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    text = f"{100 * value:.2f}"
    if delta and base is not None and not math.isnan(base):
        text += f" ({100 * (value - base):+.2f})"
    return text


def _row(heading: str, values: list[float | None], delta: bool) -> str:
    """One table row; with ``delta`` the later cells also give their difference from the first."""
    cells = [_cell(value, values[0], delta and i > 0) for i, value in enumerate(values)]
    return f"| {heading} | {' | '.join(cells)} |"


def tables(columns: list[tuple[str, dict[str, Any]]], *, delta: bool = False) -> str:
    """The metric table and the class IoU table, Markdown, one column per result."""
    classes = list(columns[0][1]["per_class_iou"])
    for label, data in columns[1:]:
        if list(data["per_class_iou"]) != classes:
            raise ValueError(f"{label!r} has other classes than {columns[0][0]!r}: {', '.join(data['per_class_iou'])}")
    heads = " | ".join(label for label, _ in columns)
    rule = "|---" * (len(columns) + 1) + "|"
    lines = [f"| metric (%) | {heads} |", rule]
    lines += [_row(name, [data[key] for _, data in columns], delta) for key, name in METRICS]
    lines += ["", f"| class IoU (%) | {heads} |", rule]
    lines += [_row(cls, [data["per_class_iou"][cls] for _, data in columns], delta) for cls in classes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("columns", nargs="+", metavar="LABEL=FILE", help="a column heading and an evaluate JSON")
    parser.add_argument("--delta", action="store_true", help="also give each later column's difference from the first")
    args = parser.parse_args(argv)
    try:
        print(tables([column(spec) for spec in args.columns], delta=args.delta))
    except ValueError as exc:
        print(f"metrics_table: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
