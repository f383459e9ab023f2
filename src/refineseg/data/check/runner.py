"""Running the checks: :func:`check_dataset` builds each split, runs the layout rules on its files
(:mod:`refineseg.data.check.layout`), tallies what its masks hold with a thread pool of readers
(:func:`refineseg.data.scan.scan_pairs`) and runs :data:`refineseg.data.check.rules.RULES` on that."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..datasets import SegmentationDataset, images_in
from ..labels import DatasetError, LabelSpace, read_label_space
from ..registry import DatasetSpec, get_dataset, list_datasets
from ..scan import PairScan, scan_pairs
from .context import JPEG_SUFFIXES, SplitContext, SplitCounts
from .layout import build_failure, masks_not_png, missing_images, missing_masks, no_split
from .report import ClassStats, DataReport, RawValue, SplitReport
from .rules import RULES

__all__ = ["check_dataset", "default_splits"]


def _spec(name: str) -> DatasetSpec:
    specs = {spec.name: spec for spec in list_datasets()}
    if name not in specs:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(sorted(specs))}")
    return specs[name]


def default_splits(spec: DatasetSpec, root: Path) -> list[str]:
    """The splits checked when none are named: for ``generic`` those with masks under ``root``
    (``SPLIT.txt`` or ``SPLIT/masks/``: a ``test/images/`` kept for predicting is not a split to
    check), for other layouts all of them (absent ones are skipped).

    Args:
        spec: The registered dataset.
        root: The dataset root.

    Returns:
        The split names.
    """
    if spec.name == "generic":
        return [s for s in spec.splits if (root / f"{s}.txt").is_file() or (root / s / "masks").is_dir()]
    return list(spec.splits)


def check_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    splits: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> DataReport:
    """Read every image and mask of ``splits`` of dataset ``name`` under ``root`` and report.

    Everything wrong with the data is a :class:`~refineseg.data.check.report.Problem` in the
    report, with its check id.

    Args:
        name: A registered dataset name.
        root: The dataset root.
        splits: The splits to check (default: every split of the dataset present under ``root``).
        workers: Reader threads (default: up to 8, one per CPU).
        progress: Whether to show a progress bar on stderr.

    Returns:
        The report.

    Raises:
        DatasetError: Only for a wrong call (unknown dataset or split, no such root).
    """
    spec = _spec(name)
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: no such directory (the {name} root)")
    explicit = splits is not None
    if splits is not None:
        unknown = [s for s in splits if s not in spec.splits]
        if unknown:
            raise DatasetError(f"{name} has splits {', '.join(spec.splits)}, not {unknown[0]!r}")
        chosen = list(dict.fromkeys(splits))
    else:
        chosen = default_splits(spec, base)
    report = DataReport(spec.name, str(base))
    for split in chosen:
        _SplitCheck(
            report, SplitContext(spec, base, split), explicit=explicit, workers=workers, progress=progress
        ).run()
    if not report.splits and not report.errors:
        report.problems.append(no_split(spec, base, report.skipped))
    return report


class _SplitCheck:
    """Builds one split, reads its pairs and adds its :class:`SplitReport` and problems to the report."""

    def __init__(
        self, report: DataReport, ctx: SplitContext, *, explicit: bool, workers: int | None, progress: bool
    ) -> None:
        self.report, self.ctx = report, ctx
        self.explicit, self.workers, self.progress = explicit, workers, progress

    def run(self) -> None:
        dataset = self.build()
        if dataset is None:
            return
        if not self.report.class_names:
            self.report.class_names = list(dataset.class_names)
            self.report.colour_masks = dataset.labels.colour_masks
        counts = self.scan(dataset)
        for rule in RULES:
            self.report.problems.extend(rule(self.ctx, counts))

    def build(self) -> SegmentationDataset | None:
        ctx = self.ctx
        try:
            folder = self.generic_folder_pairs() if ctx.generic else None
            if folder is not None:
                labels = self.generic_labels()
                return SegmentationDataset(folder, labels, name=f"folder {ctx.base / ctx.split / 'images'}")
            kwargs = {"check_labels": False} if ctx.generic else {}  # the silent ignore is a rule's
            return get_dataset(ctx.spec.name, ctx.base, ctx.split, **kwargs)
        except DatasetError as exc:
            message = str(exc)
            if not self.explicit and not ctx.generic and "missing file" not in message:
                self.report.skipped[ctx.split] = message  # a default split this copy does not have
                return None
            if any(p.message == message for p in self.report.problems):  # e.g. one broken classes.txt
                return None
            self.report.problems.append(build_failure(ctx, message))
            return None

    def generic_labels(self) -> LabelSpace:
        classes = self.ctx.base / "classes.txt"
        if not classes.is_file():
            raise DatasetError(f"{classes}: missing; the generic layout needs one class name per line")
        return read_label_space(classes)

    def generic_folder_pairs(self) -> list[tuple[Path, Path]] | None:
        """For ``SPLIT/images`` + ``SPLIT/masks``: report images without masks and masks without
        images (which the dataset itself refuses, one at a time), and return the pairs that do
        match when there were such problems (None when the layout's own builder can be used)."""
        base, split = self.ctx.base, self.ctx.split
        images_dir, masks_dir = base / split / "images", base / split / "masks"
        if (base / f"{split}.txt").is_file() or not images_dir.is_dir() or not masks_dir.is_dir():
            return None
        images, masks = images_in(images_dir), images_in(masks_dir)
        by_stem: dict[str, Path] = {}
        for mask in masks:
            by_stem.setdefault(mask.stem, mask)
        pairs, no_mask, not_png = [], [], []
        for image in images:
            png = masks_dir / f"{image.stem}.png"
            if png.is_file():
                pairs.append((image, png))
            elif image.stem in by_stem:  # read here anyway, to say what else is wrong with it
                pairs.append((image, by_stem[image.stem]))
                not_png.append(by_stem[image.stem])
            else:
                no_mask.append(image)
        stems = {image.stem for image in images}
        no_image = [mask for mask in masks if mask.stem not in stems]
        self.report.problems.extend(missing_masks(self.ctx, no_mask))
        self.report.problems.extend(missing_images(self.ctx, no_image))
        self.report.problems.extend(masks_not_png(self.ctx, not_png))  # JPEG masks: a rule after reading
        return pairs if no_mask or not_png else None

    def scan(self, dataset: SegmentationDataset) -> SplitCounts:
        """Read every pair, add the split's :class:`SplitReport` and return what its masks hold."""
        labels = dataset.labels
        scans: Iterable[PairScan] = scan_pairs(dataset, workers=self.workers)
        if self.progress:
            from ..._progress import progress_bar

            desc = f"checking {self.ctx.split}"
            scans = progress_bar(scans, total=len(dataset), desc=desc, unit="img", file=sys.stderr)
        counts = SplitCounts(labels)
        for found in scans:
            counts.add(found, *dataset.pairs[found.index])
        counts.jpeg = [m for _, m in dataset.pairs if m.suffix.lower() in JPEG_SUFFIXES]
        raw_pixels, raw_images = counts.raw_pixels, counts.raw_images
        # values in value order, colours by their pixels
        order = sorted(raw_pixels, key=lambda r: -raw_pixels[r]) if labels.colour_masks else sorted(raw_pixels)
        self.report.splits.append(
            SplitReport(
                self.ctx.split,
                dataset.name,
                len(dataset),
                counts.masks_read,
                counts.total,
                [RawValue(r, raw_pixels[r], raw_images[r], labels.raw_name(r)) for r in order],
                [
                    ClassStats(name, i, counts.class_pixels[i], counts.class_images[i])
                    for i, name in enumerate(labels.class_names)
                ],
                counts.ignored_pixels,
                counts.ignored_images,
            )
        )
        return counts
