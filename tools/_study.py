"""What the training studies in tools/ share: run variants in turn, keep the rows, write the table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def run_variants(
    names: Iterable[str], run: Callable[[str], Row], table: Callable[[list[Row]], str], output: Path, stem: str
) -> list[Row]:
    """``run`` each variant (the rows are rewritten to OUTPUT/STEM.json after each, so a study
    stopped midway keeps what it measured), then print the table and write OUTPUT/STEM.md."""
    rows: list[Row] = []
    for name in names:
        rows.append(run(name))
        print(f"{name}: mIoU {100 * rows[-1]['miou']:.2f}% ({rows[-1]['train_seconds'] / 60:.1f} min)", flush=True)
        (output / f"{stem}.json").write_text(json.dumps(rows, indent=1))
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
