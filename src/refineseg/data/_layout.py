"""What the benchmark loaders share: finding a dataset's folder, checking a split, reading id lists."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from .datasets import IGNORE_INDEX, DatasetError, require_dir

__all__ = ["check_split", "first_dir", "first_file", "locate", "read_ids", "shifted_labels"]


def check_split(dataset: str, split: str, splits: Sequence[str]) -> None:
    if split not in splits:
        raise DatasetError(f"{dataset} split must be one of {', '.join(splits)}, got {split!r}")


def locate(root: str | os.PathLike[str], inside: Sequence[str], marker: str, what: str) -> Path:
    """The dataset's folder: ``root`` or one of the folders ``inside`` it, whichever holds ``marker``,
    so that either the dataset's own folder or the one its archive was unpacked into can be given."""
    base = require_dir(Path(root), f"{what} root")
    for rel in ("", *inside):
        if (base / rel / marker).is_dir():
            return base / rel
    elsewhere = "".join(f" or {rel}/{marker}/" for rel in inside)
    raise DatasetError(f"{base}: not the {what} root; expected {marker}/{elsewhere} in it")


def read_ids(path: Path, what: str) -> list[str]:
    """Image ids of a split list: one per line, a bare id or an ``/dir/ID.jpg [/dir/ID.png]`` pair
    (the DeepLab list style), whose image stem is the id."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such split list ({what})")
    return [PurePosixPath(line.split()[0]).stem for line in path.read_text().splitlines() if line.strip()]


def shifted_labels(num_classes: int) -> dict[int, int]:
    """``raw_to_train`` for masks where 0 is void and classes are 1..num_classes."""
    return {0: IGNORE_INDEX, **{raw: raw - 1 for raw in range(1, num_classes + 1)}}


def first_file(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def first_dir(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if p.is_dir()), None)
