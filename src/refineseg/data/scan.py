"""Reading a dataset's masks as they are stored: raw values (or colours) and their pixel counts.

Used when a ``generic`` dataset is built (to refuse a declaration that would silently drop
the foreground) and by ``refineseg check-data`` (:func:`scan_pairs` reads every image and
mask and records what went wrong instead of raising). Decoding PNGs releases the GIL, so a
thread pool reads masks in parallel without the cost of processes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .datasets import SegmentationDataset, read_mask, read_rgb
from .labels import IGNORE_INDEX, Colour, DatasetError, LabelSpace, decode_colour, encode_colours

__all__ = [
    "PairScan",
    "RawKey",
    "SilentIgnore",
    "find_silent_ignore",
    "raw_counts",
    "scan_masks",
    "scan_pairs",
    "silent_ignore_problem",
]

RawKey = int | Colour  # a raw mask value, or an RGB colour in colour-mask datasets

_T = TypeVar("_T")


def raw_counts(mask: np.ndarray) -> Counter[RawKey]:
    """Pixels per raw value (HxW masks) or per colour (HxWx3 masks).

    Args:
        mask: HxW uint8 values or HxWx3 uint8 colours.

    Returns:
        Pixel counts of the values (or colours) present.
    """
    if mask.ndim == 2:
        hist = np.bincount(mask.ravel(), minlength=256)
        return Counter({int(v): int(hist[v]) for v in np.flatnonzero(hist)})
    codes, counts = np.unique(encode_colours(mask), return_counts=True)
    return Counter({decode_colour(int(c)): int(n) for c, n in zip(codes, counts, strict=True)})


def default_workers() -> int:
    """Reader threads when none are asked for.

    Returns:
        The CPU count, at most 8.
    """
    return min(8, os.cpu_count() or 1)


def _in_pool(read: Callable[[int], _T], order: list[int], workers: int | None) -> Iterator[_T]:
    # pool.map submits everything at once; closing this generator early cancels what has not started
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        yield from pool.map(read, order)


def scan_masks(
    dataset: SegmentationDataset, indices: Iterable[int] | None = None, *, workers: int | None = None
) -> Iterator[tuple[int, Counter[RawKey]]]:
    """``(index, raw counts)`` for each mask, in order, read by a thread pool.

    Args:
        dataset: The dataset.
        indices: The pairs to read (default: all).
        workers: Reader threads (default: :func:`default_workers`).

    Returns:
        An iterator of ``(index, raw counts)``; a mask that cannot be read raises ``DatasetError``.
    """
    order = list(range(len(dataset)) if indices is None else indices)

    def count(index: int) -> tuple[int, Counter[RawKey]]:
        return index, raw_counts(dataset.read_raw_mask(index))

    return _in_pool(count, order, workers)


@dataclass(frozen=True)
class PairScan:
    """What reading one (image, mask) pair of a dataset found; errors are recorded, not raised.

    Attributes:
        index: The pair's index in the dataset.
        image_size: ``(width, height)``, ``None`` when the image is unreadable.
        mask_size: ``(width, height)``, ``None`` when the mask is unreadable.
        counts: Pixels per raw value (or colour) of a readable mask.
        colours: For a value mask refused as an RGB colour mask: its colours.
        image_error: Why the image could not be read, or ``None``.
        mask_error: Why the mask could not be read, or ``None``.
    """

    index: int
    image_size: tuple[int, int] | None = None
    mask_size: tuple[int, int] | None = None
    counts: Counter[RawKey] | None = None
    colours: Counter[Colour] | None = None
    image_error: str | None = None
    mask_error: str | None = None


COLOUR_MASK_REFUSAL = "RGB colour mask"  # what read_mask says when a value mask has colours


def scan_pair(dataset: SegmentationDataset, index: int) -> PairScan:
    """Read pair ``index`` of ``dataset``: image and mask sizes, the mask's raw counts, or what failed.

    Args:
        dataset: The dataset.
        index: The pair's index.

    Returns:
        What was found; never raises for a bad file.
    """
    image_path, mask_path = dataset.pairs[index]
    image_size = image_error = mask_size = counts = colours = mask_error = None
    try:
        image = read_rgb(image_path)
        image_size = (image.shape[1], image.shape[0])
        del image
    except DatasetError as exc:
        image_error = str(exc)
    try:
        mask = dataset.read_raw_mask(index)
        counts = raw_counts(mask)
    except DatasetError as exc:
        mask_error = str(exc)
        mask = None
        if COLOUR_MASK_REFUSAL in mask_error:
            try:
                mask = read_mask(mask_path, colour=True)
                colours = Counter({k: v for k, v in raw_counts(mask).items() if isinstance(k, tuple)})
            except DatasetError:
                mask = None
    if mask is not None:
        mask_size = (mask.shape[1], mask.shape[0])
    return PairScan(index, image_size, mask_size, counts, colours, image_error, mask_error)


def scan_pairs(
    dataset: SegmentationDataset, indices: Iterable[int] | None = None, *, workers: int | None = None
) -> Iterator[PairScan]:
    """:func:`scan_pair` for each pair, in order, read by a thread pool; never raises for a bad file.

    Args:
        dataset: The dataset.
        indices: The pairs to read (default: all).
        workers: Reader threads (default: :func:`default_workers`).

    Returns:
        An iterator of scans, in the order of ``indices``.
    """
    order = list(range(len(dataset)) if indices is None else indices)
    return _in_pool(lambda index: scan_pair(dataset, index), order, workers)


@dataclass(frozen=True)
class SilentIgnore:
    """A declared class with no pixels while masks hold ignored values.

    Attributes:
        empty: The class without pixels.
        raw: The most common ignored raw value (or colour).
        pixels: How many pixels hold it.
    """

    empty: str
    raw: RawKey
    pixels: int


def class_pixels(dataset: SegmentationDataset, *, workers: int | None = None) -> np.ndarray:
    """Pixels per train id over every mask of ``dataset`` (masks only, read in parallel).

    Args:
        dataset: The dataset.
        workers: Reader threads (default: :func:`default_workers`).

    Returns:
        int64 pixel counts, one per class; ignored pixels are not counted.
    """
    labels = dataset.labels
    totals = np.zeros(labels.num_classes, dtype=np.int64)
    for _, counts in scan_masks(dataset, workers=workers):
        for raw, pixels in counts.items():
            train = labels.train_id(raw)
            if train != IGNORE_INDEX:
                totals[train] += pixels
    return totals


def is_training_split(split: str) -> bool:
    """``train``, ``trainval``, ``train_aug``...: a class absent from these cannot be learnt.

    Args:
        split: A split name.

    Returns:
        Whether the name starts with ``train``.
    """
    return split.startswith("train")


def find_silent_ignore(
    labels: LabelSpace, seen: Sequence[bool], ignored: Counter[RawKey], *, training: bool, binary: bool
) -> SilentIgnore | None:
    """The 0/255 trap from what the masks hold.

    A training split with ignored pixels and an empty class is the trap (the model could not
    learn that class anyway); an evaluation split is only when it is binary, since a small
    val split may lack a rare class beside genuine void pixels.

    Args:
        labels: The dataset's label space.
        seen: ``seen[i]``: whether class ``i`` has pixels.
        ignored: The pixels per raw value that becomes ignore.
        training: Whether the split is a training split.
        binary: Whether the masks hold just two raw values, one of them ignored (the
            signature of a binary export).

    Returns:
        The trap found, or ``None`` when the void values were declared (``@ignore``), when
            every class has pixels, or when nothing is ignored.
    """
    if labels.ignore_declared or all(seen) or not ignored or not (training or binary):
        return None
    empty = next(name for name, present in zip(labels.class_names, seen, strict=True) if not present)
    raw, pixels = ignored.most_common(1)[0]
    return SilentIgnore(empty, raw, pixels)


def is_binary(raw_values: Iterable[RawKey], ignored: Counter[RawKey]) -> bool:
    """Masks that hold two raw values, one of which is ignored: 0/255 (or 0/1 read as void).

    Args:
        raw_values: Every raw value (or colour) the masks hold.
        ignored: The pixels per raw value that becomes ignore.

    Returns:
        Whether the masks look like a binary export.
    """
    return len(set(raw_values)) == 2 and len(ignored) == 1


def raw_declaration(raw: RawKey) -> str:
    """How ``classes.txt`` names a raw value or colour: ``value=255`` or ``color=R,G,B``.

    Args:
        raw: A raw value or RGB colour.

    Returns:
        The ``classes.txt`` key and value.
    """
    return f"color={','.join(map(str, raw))}" if isinstance(raw, tuple) else f"value={raw}"


def silent_ignore_problem(dataset: SegmentationDataset, split: str, where: str) -> str | None:
    """The typical 0/255 export declared as plain classes (see :func:`find_silent_ignore`), so
    the foreground would be dropped silently.

    Stops reading as soon as every class has been seen (then nothing can be ambiguous), so a
    sound dataset costs a few masks. Datasets that declare their void values (``@ignore``) are
    taken as meant.

    Args:
        dataset: The dataset.
        split: Its split name (training splits are judged more strictly).
        where: Where the classes are declared (the ``classes.txt`` path), for the message.

    Returns:
        The explanation with the ``classes.txt`` fix, or ``None``.
    """
    labels = dataset.labels
    if labels.ignore_declared:
        return None
    seen = np.zeros(labels.num_classes, dtype=bool)
    ignored: Counter[RawKey] = Counter()
    values: set[RawKey] = set()
    for _, counts in scan_masks(dataset):
        values.update(counts)
        for raw, pixels in counts.items():
            train = labels.train_id(raw)
            if train == IGNORE_INDEX:
                ignored[raw] += pixels
            else:
                seen[train] = True
        if seen.all():
            return None
    training = is_training_split(split)
    found = find_silent_ignore(labels, seen.tolist(), ignored, training=training, binary=is_binary(values, ignored))
    if found is None:
        return None
    value = raw_declaration(found.raw)
    shown = value.split("=")[1]
    return (
        f"{where}: class {found.empty!r} has no pixels in any mask of {dataset.name}, while {found.pixels} pixels "
        f"hold {shown}, which is ignored; this is how 0/255 binary exports look, and training would "
        f"silently drop that foreground. If {shown} is {found.empty}, write '{found.empty} {value}' "
        f"in classes.txt; if it really is void, declare it with '@ignore {value}'"
    )
