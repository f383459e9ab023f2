"""Reading a dataset's masks as they are stored: raw values (or colours) and their pixel counts.

Used when a ``generic`` dataset is built (to refuse a declaration that would silently drop
the foreground) and by ``refineseg check-data``. Decoding PNGs releases the GIL, so a
thread pool reads masks in parallel without the cost of processes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .datasets import SegmentationDataset
from .labels import IGNORE_INDEX, Colour, decode_colour, encode_colours

__all__ = ["RawKey", "raw_counts", "scan_masks", "silent_ignore_problem"]

RawKey = int | Colour  # a raw mask value, or an RGB colour in colour-mask datasets


def raw_counts(mask: np.ndarray) -> Counter[RawKey]:
    """Pixels per raw value (HxW masks) or per colour (HxWx3 masks)."""
    if mask.ndim == 2:
        hist = np.bincount(mask.ravel(), minlength=256)
        return Counter({int(v): int(hist[v]) for v in np.flatnonzero(hist)})
    codes, counts = np.unique(encode_colours(mask), return_counts=True)
    return Counter({decode_colour(int(c)): int(n) for c, n in zip(codes, counts, strict=True)})


def default_workers() -> int:
    return min(8, os.cpu_count() or 1)


def scan_masks(
    dataset: SegmentationDataset, indices: Iterable[int] | None = None, *, workers: int | None = None
) -> Iterator[tuple[int, Counter[RawKey]]]:
    """``(index, raw counts)`` for each mask, in order, read by a thread pool."""
    order = list(range(len(dataset)) if indices is None else indices)

    def count(index: int) -> tuple[int, Counter[RawKey]]:
        return index, raw_counts(dataset.read_raw_mask(index))

    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        yield from pool.map(count, order)


def silent_ignore_problem(dataset: SegmentationDataset, where: str) -> str | None:
    """The typical 0/255 export declared as plain classes: masks hold values that are ignored
    while a declared class has no pixels at all, so the foreground would be dropped silently.

    Returns the explanation with the ``classes.txt`` fix, or None. Stops reading as soon as
    every class has been seen (then nothing can be ambiguous), so a sound dataset costs a
    few masks. Datasets that declare their void values (``@ignore``) are taken as meant.
    """
    labels = dataset.labels
    if labels.ignore_declared:
        return None
    seen = np.zeros(labels.num_classes, dtype=bool)
    ignored: Counter[RawKey] = Counter()
    for _, counts in scan_masks(dataset):
        for raw, pixels in counts.items():
            train = labels.train_id(raw)
            if train == IGNORE_INDEX:
                ignored[raw] += pixels
            else:
                seen[train] = True
        if seen.all():
            return None
    if not ignored:
        return None
    empty = [labels.class_names[i] for i in np.flatnonzero(~seen)]
    raw, pixels = ignored.most_common(1)[0]
    value = f"color={','.join(map(str, raw))}" if isinstance(raw, tuple) else f"value={raw}"
    return (
        f"{where}: class {empty[0]!r} has no pixels in any mask of {dataset.name}, while {pixels} pixels hold "
        f"{value.split('=')[1]}, which is ignored; this is how 0/255 binary exports look, and training would "
        f"silently drop that foreground. If {value.split('=')[1]} is {empty[0]}, write '{empty[0]} {value}' "
        f"in classes.txt; if it really is void, declare it with '@ignore {value}'"
    )
