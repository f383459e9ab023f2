"""What ``refineseg predict`` segments: files, folders and glob patterns expanded into named items."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..constants import IMAGE_SUFFIXES as DATASET_IMAGE_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "InputItem", "collect_inputs", "is_video"]

# what a dataset folder may hold, and the formats people also segment one by one
IMAGE_SUFFIXES = (*DATASET_IMAGE_SUFFIXES, ".gif", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class InputItem:
    """One image or video to segment.

    Attributes:
        path: The file.
        name: Its outputs' name without suffix, relative to the output folder: the file's stem,
            or its path inside a folder given as input (so two ``a.jpg`` in sub-folders differ).
        is_video: Whether it is segmented frame by frame into a video.
    """

    path: Path
    name: str
    is_video: bool


def is_video(path: Path) -> bool:
    """Whether ``path`` names a video by its suffix.

    Args:
        path: A file name.

    Returns:
        ``True`` for the suffixes in :data:`VIDEO_SUFFIXES`.
    """
    return path.suffix.lower() in VIDEO_SUFFIXES


def _count(files: Sequence[Path]) -> str:
    """``"3 images"``, ``"1 video"``, ``"2 images and 1 video"``."""
    videos = sum(is_video(p) for p in files)
    parts = [(len(files) - videos, "image"), (videos, "video")]
    return " and ".join(f"{n} {what}{'s' if n != 1 else ''}" for n, what in parts if n)


def _nothing_in_folder(folder: Path, media: Sequence[Path], exclude: Path | None) -> str:
    """Why the input folder ``folder`` gives nothing to segment: it has no images, or all are outputs."""
    if not media or exclude is None:
        return f"{folder}: no images or videos in this folder"
    verb = "is" if len(media) == 1 else "are"
    if folder.resolve() == exclude.resolve():
        where = "--output is the same folder"
    else:
        where = f"they are inside --output {exclude}, whose files are never read as inputs"
    return f"{folder}: its {_count(media)} {verb} skipped because {where}; choose another --output"


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: Path | None = None
) -> tuple[list[InputItem], list[str]]:
    """Expand files, folders (recursively: their images and videos) and glob patterns.

    Args:
        inputs: Files, folders and glob patterns, as given on the command line.
        exclude: A folder (the output folder) whose files are skipped when folders are scanned.

    Returns:
        The items in order without duplicates, and one error line per input that names nothing.
    """
    items: list[InputItem] = []
    errors: list[str] = []
    seen: set[Path] = set()
    excluded = exclude.resolve() if exclude is not None else None

    def add(path: Path, name: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            items.append(InputItem(path, name, is_video(path)))

    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            add(path, path.stem)
        elif path.is_dir():
            media = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES
            )
            found = [p for p in media if not (excluded is not None and p.resolve().is_relative_to(excluded))]
            if not found:
                errors.append(_nothing_in_folder(path, media, exclude))
            for p in found:
                add(p, p.relative_to(path).with_suffix("").as_posix())
        elif glob.has_magic(str(raw)):
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=True) if Path(m).is_file())
            if not matches:
                errors.append(f"{raw}: no files match this pattern")
            for p in matches:
                add(p, p.stem)
        else:
            errors.append(f"{path}: no such file or directory")
    return items, errors
