"""Split expressions: several splits as one, and a subset by file-name prefix.

``train+val`` reads both splits as one dataset; ``train:0006R0`` keeps the pairs whose image
file name starts with ``0006R0``; ``train+val:-0006R0`` keeps every pair but those. In CamVid
and Cityscapes a file name starts with its video sequence or city, so a prefix selects whole
sequences: validating on a sequence never trained on measures how a recipe generalises, which
CamVid's val split cannot (its 101 images are frames of a train sequence, 0016E5).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from .datasets import DatasetError, SegmentationDataset

__all__ = ["SplitExpression", "parse_split", "read_split"]


@dataclass(frozen=True)
class SplitExpression:
    """A parsed split expression.

    Attributes:
        splits: The dataset's splits read together, in order.
        prefixes: File-name prefixes to keep (or, with ``exclude``, to drop); empty keeps all.
        exclude: Drop the pairs matching ``prefixes`` instead of keeping them.
    """

    splits: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    exclude: bool = False

    def keeps(self, file_name: str) -> bool:
        """Whether a pair whose image is ``file_name`` belongs to the expression's subset.

        Args:
            file_name: The image's file name (no folder).

        Returns:
            ``True`` to keep the pair.
        """
        if not self.prefixes:
            return True
        return file_name.startswith(self.prefixes) != self.exclude


def parse_split(expression: str) -> SplitExpression:
    """Read ``SPLIT[+SPLIT...][:[-]PREFIX[,PREFIX...]]``.

    Args:
        expression: E.g. ``"train"``, ``"train+val"``, ``"train:0006R0"``, ``"train+val:-0006R0,0001TP"``.

    Returns:
        The parsed expression.

    Raises:
        DatasetError: If a part is empty.
    """
    head, colon, tail = expression.partition(":")
    splits = tuple(s.strip() for s in head.split("+"))
    exclude = tail.startswith("-")
    prefixes = tuple(p.strip() for p in tail.removeprefix("-").split(",")) if tail else ()
    if not all(splits) or not all(prefixes) or (colon and not prefixes):
        raise DatasetError(
            f"split {expression!r}: expected SPLIT[+SPLIT...][:[-]PREFIX[,PREFIX...]], e.g. train+val:-0006R0"
        )
    return SplitExpression(splits, prefixes, exclude)


def read_split(expression: str, build: Callable[[str], SegmentationDataset]) -> SegmentationDataset:
    """The dataset an expression names, built split by split with ``build``.

    A plain split name returns ``build(name)`` itself. Otherwise the first split's dataset is
    copied (so its class and its way of reading files are kept: every split of one dataset
    reads alike) with the pairs of all the splits that the prefixes keep.

    Args:
        expression: A split expression (see :func:`parse_split`).
        build: Builds one plain split.

    Returns:
        The dataset.

    Raises:
        DatasetError: If the expression is malformed or keeps no pair.
    """
    parsed = parse_split(expression)
    parts = [build(split) for split in parsed.splits]
    if len(parts) == 1 and not parsed.prefixes:
        return parts[0]
    pairs = [pair for part in parts for pair in part.pairs if parsed.keeps(pair[0].name)]
    if not pairs:
        raise DatasetError(f"split {expression!r}: no image file name matches {', '.join(parsed.prefixes)}")
    combined = copy.copy(parts[0])
    combined.pairs = pairs
    name = parts[0].name  # e.g. "CamVid train (ROOT)"
    combined.name = (
        name.replace(parsed.splits[0], expression, 1) if parsed.splits[0] in name else f"{name} [{expression}]"
    )
    return combined
