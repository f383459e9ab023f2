"""What the benchmark loaders share: finding a dataset's folder, checking a split, reading id lists."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from .datasets import IGNORE_INDEX, DatasetError, require_dir

__all__ = ["check_split", "first_dir", "first_file", "locate", "read_ids", "shifted_labels"]


def check_split(dataset: str, split: str, splits: Sequence[str]) -> None:
    """Refuse a split the dataset does not have.

    Args:
        dataset: The dataset's name, for the message.
        split: The requested split.
        splits: The dataset's splits.

    Raises:
        DatasetError: If ``split`` is not in ``splits``.
    """
    if split not in splits:
        raise DatasetError(f"{dataset} split must be one of {', '.join(splits)}, got {split!r}")


def locate(root: str | os.PathLike[str], inside: Sequence[str], marker: str, what: str) -> Path:
    """The dataset's folder: ``root`` or one of the folders ``inside`` it, whichever holds ``marker``,
    so that either the dataset's own folder or the one its archive was unpacked into can be given.

    Args:
        root: The folder the user gave.
        inside: Relative folders to try in ``root``, after ``root`` itself.
        marker: A sub-folder the dataset's folder holds.
        what: The dataset's name, for messages.

    Returns:
        The first candidate holding ``marker``.

    Raises:
        DatasetError: If ``root`` is missing or no candidate holds ``marker``.
    """
    base = require_dir(Path(root), f"{what} root")
    for rel in ("", *inside):
        if (base / rel / marker).is_dir():
            return base / rel
    elsewhere = "".join(f" or {rel}/{marker}/" for rel in inside)
    raise DatasetError(f"{base}: not the {what} root; expected {marker}/{elsewhere} in it")


def read_ids(path: Path, what: str) -> list[str]:
    """Image ids of a split list: one per line, a bare id or an ``/dir/ID.jpg [/dir/ID.png]`` pair
    (the DeepLab list style), whose image stem is the id.

    Args:
        path: The list file.
        what: The list's role, for the message.

    Returns:
        The ids, in file order.

    Raises:
        DatasetError: If ``path`` is not a file.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such split list ({what})")
    return [PurePosixPath(line.split()[0]).stem for line in path.read_text().splitlines() if line.strip()]


def shifted_labels(num_classes: int) -> dict[int, int]:
    """``raw_to_train`` for masks where 0 is void and classes are 1..num_classes.

    Args:
        num_classes: Number of classes.

    Returns:
        ``{0: IGNORE_INDEX, 1: 0, 2: 1, ...}``.
    """
    return {0: IGNORE_INDEX, **{raw: raw - 1 for raw in range(1, num_classes + 1)}}


def first_file(paths: Sequence[Path]) -> Path | None:
    """The first existing file.

    Args:
        paths: Candidates, in order of preference.

    Returns:
        The first that is a file, or ``None``.
    """
    return next((p for p in paths if p.is_file()), None)


def first_dir(paths: Sequence[Path]) -> Path | None:
    """The first existing folder.

    Args:
        paths: Candidates, in order of preference.

    Returns:
        The first that is a directory, or ``None``.
    """
    return next((p for p in paths if p.is_dir()), None)
