"""Checking a dataset before training: read every image and mask and report what would go wrong.

:func:`check_dataset` reads every (image, mask) pair of the chosen splits with a thread pool
(:func:`.scan.scan_pairs`) and returns a :class:`DataReport`: per split, the raw mask values
(or colours) with their pixel counts and what each becomes, and per class its pixels and the
images that show it; plus the :class:`Problem` list, each with the one-line fix.

Severity: an ``error`` means the data cannot train as declared, a ``warning`` that it can, but
something is likely unintended.

errors
    a split that cannot be built (missing files, a broken ``classes.txt``); images without masks;
    unreadable images or masks; an image and its mask of different sizes; RGB colour masks while
    the classes are declared by value; the silent ignore (ignored pixels, typically 255 in a 0/255
    binary export, while a declared class has no pixels at all); JPEG mask files; masks the
    ``generic`` folder layout does not read (not ``STEM.png``); a class with no pixels in a
    training split (``train``, ``trainval``, ``train_*``): the model cannot learn it.
warnings
    masks without images (not used); mask values (or colours) that no class declares (ignored);
    many rare undeclared values (masks that look JPEG-compressed or resized with interpolation);
    a class with no pixels in an evaluation split (its IoU cannot be measured).

Fixes that edit ``classes.txt`` name each edit (``line 7 'bus' to '@ignore value=6'``) and never
change what another class's mask values mean: a line is never removed (every later class would
take the index, and so the mask value, of the one before it). A class is dropped by turning its
line into an ``@ignore`` line of its values and giving each later class that relied on its line
index its value explicitly (``car`` -> ``car value=7``); a value is added to a class's existing
values, not put in their place.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datasets import SegmentationDataset, images_in
from .labels import IGNORE_INDEX, IGNORE_LINE, Colour, DatasetError, LabelSpace, read_label_space
from .registry import DatasetSpec, get_dataset, list_datasets
from .scan import PairScan, RawKey, find_silent_ignore, is_binary, is_training_split, raw_declaration, scan_pairs

__all__ = [
    "ERROR",
    "WARNING",
    "ClassStats",
    "DataReport",
    "Problem",
    "RawValue",
    "SplitReport",
    "check_dataset",
    "format_report",
]

ERROR = "error"
WARNING = "warning"

JPEG_SUFFIXES = (".jpg", ".jpeg")
RARE_SHARE = 0.001  # a value holding less than 0.1% of a split's pixels is rare
RARE_VALUES = 10  # more rare undeclared values than this look like JPEG or interpolation artefacts
SHOWN = 5  # files named in a problem's message (the JSON lists them all)
TABLE_ROWS = 20  # raw values shown in the text report (the JSON lists them all)


@dataclass
class Problem:
    """One thing wrong with the data.

    Attributes:
        severity: :data:`ERROR` or :data:`WARNING`.
        check: A short id (``missing-mask``, ``silent-ignore``...).
        message: What is wrong, naming the first few files.
        fix: The one-line fix.
        split: The split it was found in, or ``None`` for the whole dataset.
        files: Every file concerned.
    """

    severity: str
    check: str
    message: str
    fix: str
    split: str | None = None
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Returns:
            One key per attribute.
        """
        return dataclasses.asdict(self)


@dataclass
class RawValue:
    """A raw mask value (or RGB colour), its pixels, the images holding it, and what it becomes.

    Attributes:
        value: The raw value, or an RGB colour for colour masks.
        pixels: Pixels holding it.
        images: Masks holding it.
        maps_to: What it becomes: a class name or how it is ignored.
    """

    value: RawKey
    pixels: int
    images: int
    maps_to: str


@dataclass
class ClassStats:
    """One class's pixels and images in a split.

    Attributes:
        name: The class name.
        train_id: Its train id.
        pixels: Pixels of the class.
        images: Masks that show it.
    """

    name: str
    train_id: int
    pixels: int
    images: int


@dataclass
class SplitReport:
    """What the masks of one split hold. Shares are of all mask pixels / of the masks read.

    Attributes:
        split: The split name.
        source: The dataset's own name for it, e.g. ``"folder ROOT/train/images"``.
        images: (image, mask) pairs listed.
        masks_read: Masks that could be read and counted.
        pixels: Mask pixels counted.
        raw_values: Every raw value (or colour) found.
        classes: Per class, in train-id order.
        ignored_pixels: Pixels that become ignore.
        ignored_images: Masks with ignored pixels.
    """

    split: str
    source: str
    images: int
    masks_read: int
    pixels: int
    raw_values: list[RawValue]
    classes: list[ClassStats]
    ignored_pixels: int
    ignored_images: int

    def pixel_share(self, pixels: int) -> float:
        """A pixel count as a share of all mask pixels counted.

        Args:
            pixels: A pixel count.

        Returns:
            The share in 0..1 (0.0 when no pixel was counted).
        """
        return pixels / self.pixels if self.pixels else 0.0

    def image_share(self, images: int) -> float:
        """A mask count as a share of the masks read.

        Args:
            images: A number of masks.

        Returns:
            The share in 0..1 (0.0 when no mask was read).
        """
        return images / self.masks_read if self.masks_read else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The split's report as JSON-ready data, with shares.

        Returns:
            A dict with the split's counts, ``raw_values``, ``classes`` and ``ignored``.
        """
        return {
            "split": self.split,
            "source": self.source,
            "images": self.images,
            "masks_read": self.masks_read,
            "pixels": self.pixels,
            "raw_values": [
                {
                    "value": list(v.value) if isinstance(v.value, tuple) else v.value,
                    "pixels": v.pixels,
                    "pixel_share": self.pixel_share(v.pixels),
                    "images": v.images,
                    "maps_to": v.maps_to,
                }
                for v in self.raw_values
            ],
            "classes": [
                {
                    "name": c.name,
                    "train_id": c.train_id,
                    "pixels": c.pixels,
                    "pixel_share": self.pixel_share(c.pixels),
                    "images": c.images,
                    "image_share": self.image_share(c.images),
                }
                for c in self.classes
            ],
            "ignored": {
                "pixels": self.ignored_pixels,
                "pixel_share": self.pixel_share(self.ignored_pixels),
                "images": self.ignored_images,
                "image_share": self.image_share(self.ignored_images),
            },
        }


@dataclass
class DataReport:
    """Everything :func:`check_dataset` found; ``ok`` when no problem is an error.

    Attributes:
        dataset: The dataset name.
        root: The dataset root.
        class_names: The declared classes (empty when no split could be built).
        colour_masks: Whether the classes are declared by mask colour.
        splits: One report per split read.
        skipped: Default splits not found under the root, and why.
        problems: Everything wrong, errors and warnings.
    """

    dataset: str
    root: str
    class_names: list[str] = field(default_factory=list)
    colour_masks: bool = False
    splits: list[SplitReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that are errors."""
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that are warnings."""
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """Whether no problem is an error (the data can train as declared)."""
        return not self.errors

    @property
    def num_images(self) -> int:
        """(image, mask) pairs over all splits read."""
        return sum(s.images for s in self.splits)

    def summary(self) -> str:
        """The report's last line.

        Returns:
            ``OK: ... can train as declared`` or ``N errors, M warnings: ...``.
        """
        errors, warnings = len(self.errors), len(self.warnings)
        if errors:
            checks = ", ".join(dict.fromkeys(p.check for p in self.errors))
            return f"{_count(errors, 'error')}, {_count(warnings, 'warning')}: {checks}; fix the errors above to train"
        splits = ", ".join(s.split for s in self.splits)
        more = f" ({_count(warnings, 'warning')} above)" if warnings else ""
        return f"OK: {_count(self.num_images, 'image')} in {splits} can train as declared{more}"

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``refineseg check-data --json`` writes).

        Returns:
            A dict with the splits, problems, counts of errors and warnings, ``ok`` and the summary.
        """
        return {
            "dataset": self.dataset,
            "root": self.root,
            "classes": self.class_names,
            "colour_masks": self.colour_masks,
            "splits": [s.as_dict() for s in self.splits],
            "skipped_splits": self.skipped,
            "problems": [p.as_dict() for p in self.problems],
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "ok": self.ok,
            "summary": self.summary(),
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 'es' if noun.endswith('s') else 's'}"


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _reason(error: str, path: Path) -> str:
    """A reader's error without the path it starts with (the message names the files)."""
    return error.removeprefix(f"{path}: ")


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

    Everything wrong with the data is a :class:`Problem` in the report.

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
        _SplitCheck(report, spec, base, split, explicit=explicit, workers=workers, progress=progress).run()
    if not report.splits and not report.errors:
        why = "".join(f"; {s}: {reason}" for s, reason in report.skipped.items())
        report.problems.append(
            Problem(
                ERROR,
                "no-split",
                f"no split of {name} found under {base}{why}",
                f"point --root at the dataset's folder ({spec.description}), or name the split with --split",
            )
        )
    return report


def _names(paths: Sequence[Path | str], base: Path) -> str:
    shown = ", ".join(_rel(p, base) for p in paths[:SHOWN])
    return shown + (f" (and {len(paths) - SHOWN} more)" if len(paths) > SHOWN else "")


def _rel(path: Path | str, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def _raw_text(raw: RawKey) -> str:
    return ",".join(map(str, raw)) if isinstance(raw, tuple) else str(raw)


def _declared(labels: LabelSpace, raw: RawKey) -> bool:
    """A raw value or colour some line declares: a class, ``@ignore``, or (by default) 255 or a plain id."""
    if isinstance(raw, tuple):
        return raw in (labels.mask_colors or {})
    return raw in (labels.raw_to_train or {}) or raw == IGNORE_INDEX or labels.train_id(raw) != IGNORE_INDEX


def _declaration(raws: Sequence[RawKey]) -> str:
    """``value=7,9`` or ``color=1,2,3;4,5,6`` for several raw values of one kind."""
    if raws and isinstance(raws[0], tuple):
        return "color=" + ";".join(_raw_text(r) for r in raws)
    return "value=" + ",".join(_raw_text(r) for r in raws)


@dataclass(frozen=True)
class _ClassLine:
    """One class line of ``classes.txt``: where it is and what it says (fields, without the comment)."""

    number: int  # 1-based line number in the file
    text: str  # the fields joined by single spaces
    name: str


def _class_lines(path: Path) -> list[_ClassLine]:
    """The class lines of ``classes.txt`` in order (line i is train id i); ``@ignore`` lines are not classes."""
    lines = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if fields and fields[0] != IGNORE_LINE:
            lines.append(_ClassLine(number, " ".join(fields), fields[0]))
    return lines


def _change(line: _ClassLine, new: str) -> str:
    """How the fixes name one edit of classes.txt: ``line 7 'bus' to '@ignore value=6'``."""
    return f"line {line.number} '{line.text}' to '{new}'"


def _with_raw(text: str, raw: RawKey, own: Sequence[RawKey] = ()) -> str:
    """A class line that also declares ``raw``: appended to its ``value=``/``color=`` field, or a new
    field listing ``own`` (the values the line declares implicitly, its train id) and ``raw``."""
    key = "color=" if isinstance(raw, tuple) else "value="
    sep = ";" if isinstance(raw, tuple) else ","
    fields = text.split()
    for i, f in enumerate(fields):
        if f.startswith(key) or (key == "color=" and f.startswith("colour=")):
            fields[i] = f + sep + _raw_text(raw)
            return " ".join(fields)
    return " ".join([*fields, key + sep.join(_raw_text(r) for r in (*own, raw))])


def _raws_of(labels: LabelSpace, train: int) -> list[RawKey]:
    """The raw values (or colours) that become class ``train``."""
    if labels.colour_masks:
        return [c for c, t in (labels.mask_colors or {}).items() if t == train]
    return [v for v in range(256) if labels.train_id(v) == train]


def _drop_edits(labels: LabelSpace, lines: list[_ClassLine], drop: set[str]) -> list[str] | None:
    """The classes.txt edits that take the classes ``drop`` out while every other class keeps its mask
    values: each dropped line becomes an ``@ignore`` line of its values, and a later class line that
    names no value (so its value was its line's index) is pinned to that value. None when nothing
    would remain, or when the lines do not match ``labels``."""
    if len(lines) != labels.num_classes or all(line.name in drop for line in lines):
        return None
    edits, dropped_before = [], False
    for train, line in enumerate(lines):
        if line.name in drop:
            edits.append(_change(line, f"{IGNORE_LINE} {_declaration(_raws_of(labels, train))}"))
            dropped_before = True
        elif dropped_before and not labels.colour_masks and "value=" not in line.text:
            edits.append(_change(line, f"{line.text} value={train}"))
    return edits


class _SplitCheck:
    """Builds one split, reads its pairs and adds its :class:`SplitReport` and problems to the report."""

    def __init__(
        self,
        report: DataReport,
        spec: DatasetSpec,
        base: Path,
        split: str,
        *,
        explicit: bool,
        workers: int | None,
        progress: bool,
    ) -> None:
        self.report, self.spec, self.base, self.split = report, spec, base, split
        self.explicit, self.workers, self.progress = explicit, workers, progress
        self.generic = spec.name == "generic"  # the classes were declared by the user, in classes.txt
        self.silent_class: str | None = None  # the empty class the silent-ignore problem names

    def problem(self, severity: str, check: str, message: str, fix: str, files: Iterable[Path | str] = ()) -> None:
        self.report.problems.append(Problem(severity, check, message, fix, self.split, [str(f) for f in files]))

    def class_lines(self, labels: LabelSpace) -> list[_ClassLine] | None:
        """The generic dataset's class lines, when they are the classes of ``labels`` (else None: no
        line-by-line fix is given)."""
        try:
            lines = _class_lines(self.base / "classes.txt")
        except (OSError, UnicodeDecodeError):
            return None
        return lines if tuple(line.name for line in lines) == labels.class_names else None

    # building

    def run(self) -> None:
        dataset = self.build()
        if dataset is None:
            return
        if not self.report.class_names:
            self.report.class_names = list(dataset.class_names)
            self.report.colour_masks = dataset.labels.colour_masks
        self.scan(dataset)

    def build(self) -> SegmentationDataset | None:
        try:
            folder = self.generic_folder_pairs() if self.generic else None
            if folder is not None:
                labels = self.generic_labels()
                return SegmentationDataset(folder, labels, name=f"folder {self.base / self.split / 'images'}")
            kwargs = {"check_labels": False} if self.generic else {}  # the silent ignore is reported below
            return get_dataset(self.spec.name, self.base, self.split, **kwargs)
        except DatasetError as exc:
            message = str(exc)
            if not self.explicit and not self.generic and "missing file" not in message:
                self.report.skipped[self.split] = message  # a default split this copy does not have
                return None
            if any(p.message == message for p in self.report.problems):  # e.g. one broken classes.txt
                return None
            if "missing file" in message:
                fix = "add the missing files, or take their entries out of the split"
            elif "classes.txt" in message:
                fix = "correct classes.txt: one 'NAME [R G B] [value=V] [color=R,G,B]' line per class, see --help"
            else:
                fix = f"lay the data out as {self.spec.name} expects: {self.spec.description}"
            self.problem(ERROR, "build", message, fix)
            return None

    def generic_labels(self) -> LabelSpace:
        classes = self.base / "classes.txt"
        if not classes.is_file():
            raise DatasetError(f"{classes}: missing; the generic layout needs one class name per line")
        return read_label_space(classes)

    def generic_folder_pairs(self) -> list[tuple[Path, Path]] | None:
        """For ``SPLIT/images`` + ``SPLIT/masks``: report images without masks and masks without
        images (which the dataset itself refuses, one at a time), and return the pairs that do
        match when there were such problems (None when the layout's own builder can be used)."""
        images_dir, masks_dir = self.base / self.split / "images", self.base / self.split / "masks"
        if (self.base / f"{self.split}.txt").is_file() or not images_dir.is_dir() or not masks_dir.is_dir():
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
        where = f"{self.split}/masks/STEM.png"
        if no_mask:
            self.problem(
                ERROR,
                "missing-mask",
                f"{_count(len(no_mask), 'image')} in {self.split}/images without a mask {where}: "
                f"{_names(no_mask, self.base)}",
                f"add each image's mask as {where}, or move those images out of {self.split}/images",
                no_mask,
            )
        if no_image:
            self.problem(
                WARNING,
                "missing-image",
                f"{_count(len(no_image), 'mask')} in {self.split}/masks without an image (not used): "
                f"{_names(no_image, self.base)}",
                f"add their images to {self.split}/images with the same stem, or remove those masks",
                no_image,
            )
        other = [m for m in not_png if m.suffix.lower() not in JPEG_SUFFIXES]  # JPEG masks are reported below
        if other:
            self.problem(
                ERROR,
                "mask-not-png",
                f"{_count(len(other), 'mask')} not named {where}, which is all the generic layout reads: "
                f"{_names(other, self.base)}",
                f"save those masks as PNG, named {where}",
                other,
            )
        return pairs if no_mask or not_png else None

    # reading

    def scan(self, dataset: SegmentationDataset) -> None:
        labels = dataset.labels
        scans: Iterable[PairScan] = scan_pairs(dataset, workers=self.workers)
        if self.progress:
            from .._progress import progress_bar

            scans = progress_bar(scans, total=len(dataset), desc=f"checking {self.split}", unit="img", file=sys.stderr)
        raw_pixels: Counter[RawKey] = Counter()
        raw_images: Counter[RawKey] = Counter()
        class_pixels = [0] * labels.num_classes
        class_images = [0] * labels.num_classes
        ignored_pixels = ignored_images = masks_read = 0
        bad_images: list[tuple[Path, str]] = []
        bad_masks: list[tuple[Path, str]] = []
        colour_masks: list[Path] = []
        colours: Counter[Colour] = Counter()
        mismatched: list[tuple[Path, Path, tuple[int, int], tuple[int, int]]] = []
        for found in scans:
            image_path, mask_path = dataset.pairs[found.index]
            if found.image_error is not None:
                bad_images.append((image_path, found.image_error))
            if found.colours is not None:
                colour_masks.append(mask_path)
                colours.update(found.colours)
            elif found.mask_error is not None:
                bad_masks.append((mask_path, found.mask_error))
            if found.image_size and found.mask_size and found.image_size != found.mask_size:
                mismatched.append((image_path, mask_path, found.image_size, found.mask_size))
            if found.counts is None:
                continue
            masks_read += 1
            present: set[int] = set()
            ignored_here = False
            for raw, pixels in found.counts.items():
                raw_pixels[raw] += pixels
                raw_images[raw] += 1
                train = labels.train_id(raw)
                if train == IGNORE_INDEX:
                    ignored_pixels += pixels
                    ignored_here = True
                else:
                    class_pixels[train] += pixels
                    present.add(train)
            for train in present:
                class_images[train] += 1
            ignored_images += ignored_here
        total = sum(raw_pixels.values())
        # values in value order, colours by their pixels
        order = sorted(raw_pixels, key=lambda r: -raw_pixels[r]) if labels.colour_masks else sorted(raw_pixels)
        self.report.splits.append(
            SplitReport(
                self.split,
                dataset.name,
                len(dataset),
                masks_read,
                total,
                [RawValue(r, raw_pixels[r], raw_images[r], labels.raw_name(r)) for r in order],
                [ClassStats(name, i, class_pixels[i], class_images[i]) for i, name in enumerate(labels.class_names)],
                ignored_pixels,
                ignored_images,
            )
        )
        self.file_problems(bad_images, bad_masks, mismatched)
        if colour_masks:
            self.colour_mask_problem(labels, colour_masks, colours)
        jpeg = [m for _, m in dataset.pairs if m.suffix.lower() in JPEG_SUFFIXES]
        if jpeg:
            where = f" named {self.split}/masks/STEM.png" if self.generic else ""
            self.problem(
                ERROR,
                "jpeg-masks",
                f"{_count(len(jpeg), 'mask')} saved as JPEG, whose compression changes label values along every "
                f"edge: {_names(jpeg, self.base)}",
                f"re-export the masks as PNG (lossless){where}",
                jpeg,
            )
        self.value_problems(labels, raw_pixels, raw_images, class_pixels, total, jpeg_found=bool(jpeg))
        if masks_read:
            self.absent_classes(labels, class_pixels)

    def file_problems(
        self,
        bad_images: list[tuple[Path, str]],
        bad_masks: list[tuple[Path, str]],
        mismatched: list[tuple[Path, Path, tuple[int, int], tuple[int, int]]],
    ) -> None:
        if bad_images:
            self.problem(
                ERROR,
                "unreadable-image",
                f"{_count(len(bad_images), 'image')} cannot be read: {_names([p for p, _ in bad_images], self.base)}"
                f" ({_reason(bad_images[0][1], bad_images[0][0])})",
                "re-export those images (PNG or JPEG), or remove them with their masks",
                [p for p, _ in bad_images],
            )
        if bad_masks:
            self.problem(
                ERROR,
                "unreadable-mask",
                f"{_count(len(bad_masks), 'mask')} cannot be read: {_names([p for p, _ in bad_masks], self.base)}"
                f" ({_reason(bad_masks[0][1], bad_masks[0][0])})",
                "re-export those masks as single-channel PNG label images (values 0..255)",
                [p for p, _ in bad_masks],
            )
        if mismatched:
            shown = ", ".join(
                f"{_rel(mask, self.base)} is {mw}x{mh} but {_rel(image, self.base)} is {iw}x{ih}"
                for image, mask, (iw, ih), (mw, mh) in mismatched[:SHOWN]
            )
            more = f" (and {len(mismatched) - SHOWN} more)" if len(mismatched) > SHOWN else ""
            self.problem(
                ERROR,
                "size-mismatch",
                f"{_count(len(mismatched), 'mask')} {_verb(len(mismatched), 'differs', 'differ')} in size from "
                f"{_verb(len(mismatched), 'its image', 'their images')} (width x height): {shown}{more}",
                "resize those masks to their images with nearest-neighbour interpolation, or re-export them",
                [mask for _, mask, _, _ in mismatched],
            )

    def colour_mask_problem(self, labels: LabelSpace, masks: list[Path], colours: Counter[Colour]) -> None:
        total = sum(colours.values()) or 1
        top = [c for c, _ in colours.most_common(8)]
        shown = ", ".join(f"{_raw_text(c)} ({100 * colours[c] / total:.1f}%)" for c in top)
        more = f" and {len(colours) - 8} more" if len(colours) > 8 else ""
        if self.generic:
            # on each class's own line: a new line would be a new class (or a second declaration)
            by_palette = {colour: train for train, colour in enumerate(labels.palette)}
            lines = self.class_lines(labels)
            edits = [
                _change(lines[by_palette[c]], _with_raw(lines[by_palette[c]].text, c))
                for c in top
                if lines is not None and c in by_palette
            ]
            rest = [f"'NAME color={_raw_text(c)}'" for c in top if lines is None or c not in by_palette]
            fix = "declare each class by its mask colour on its own line of classes.txt (every class needs one)"
            if edits:
                fix += ": change " + ", ".join(edits)
            if rest:
                where = "the line of the class it is" if len(rest) == 1 else "the lines of the classes they are"
                fix += f"{'; and' if edits else ':'} {' and '.join(rest)} on {where}"
        else:
            fix = (
                f"{self.spec.name} reads index masks: convert the colour masks to class values, or use the generic "
                f"layout with 'NAME color=R,G,B' lines in classes.txt"
            )
        self.problem(
            ERROR,
            "colour-masks",
            f"{_count(len(masks), 'mask')} {_verb(len(masks), 'is an RGB colour mask', 'are RGB colour masks')}, "
            "but the classes are declared by value: "
            f"{_names(masks, self.base)}; colours found: {shown}{more}",
            fix,
            masks,
        )

    def value_problems(
        self,
        labels: LabelSpace,
        raw_pixels: Counter[RawKey],
        raw_images: Counter[RawKey],
        class_pixels: list[int],
        total: int,
        *,
        jpeg_found: bool,
    ) -> None:
        undeclared = [r for r in raw_pixels if not _declared(labels, r)]
        named: RawKey | None = None
        if self.generic:
            ignored = Counter({r: n for r, n in raw_pixels.items() if labels.train_id(r) == IGNORE_INDEX})
            found = find_silent_ignore(
                labels,
                [n > 0 for n in class_pixels],
                ignored,
                training=is_training_split(self.split),
                binary=is_binary(raw_pixels, ignored),
            )
            binary = set(raw_pixels) == {0, IGNORE_INDEX} and not _declares_255(labels)
            if found is not None or binary:
                named = found.raw if found is not None else IGNORE_INDEX
                empty = found.empty if found is not None else "NAME"
                pixels = found.pixels if found is not None else raw_pixels[IGNORE_INDEX]
                value, shown = raw_declaration(named), _raw_text(named)
                hold = _verb(pixels, "pixel holds", "pixels hold")
                if binary:
                    what = f"the masks are 0/255 binary exports: {pixels:,} {hold} 255, which is ignored"
                else:
                    what = f"{pixels:,} {hold} {shown}, which is ignored"
                if found is not None:
                    self.silent_class = found.empty
                    message = f"{what}, while class {empty!r} has no pixels at all: training would silently drop it"
                else:
                    message = f"{what} by default; the foreground would count in no loss and no metric"
                lines = self.class_lines(labels)
                void = f"add the line '{IGNORE_LINE} {value}' to classes.txt if {shown} really is void"
                if found is not None and lines is not None:
                    line = lines[labels.class_names.index(empty)]  # the class has no pixels: its own value is unused
                    fix = f"in classes.txt change {_change(line, _with_raw(line.text, named))}, or {void}"
                elif found is not None:
                    fix = f"declare {shown} on the line of class {empty!r} in classes.txt ('{value}'), or {void}"
                else:
                    fix = (
                        f"add the line 'NAME {value}' after the last class line of classes.txt (NAME: the "
                        f"foreground's class), or {void}"
                    )
                self.problem(ERROR if found is not None else WARNING, "silent-ignore", message, fix)
        rare = [r for r in undeclared if raw_pixels[r] < RARE_SHARE * total]
        if not jpeg_found and len(rare) > RARE_VALUES:
            self.problem(
                WARNING,
                "jpeg-like",
                f"{len(rare)} undeclared mask values each hold under {100 * RARE_SHARE:g}% of the pixels "
                f"({', '.join(_raw_text(r) for r in sorted(rare, key=lambda r: -raw_pixels[r])[:8])}...): the masks "
                "look JPEG-compressed or resized with interpolation, which blends labels along edges",
                "re-export the masks as PNG, resizing them (if at all) with nearest-neighbour interpolation",
            )
        undeclared = sorted((r for r in undeclared if r != named), key=lambda r: -raw_pixels[r])
        if undeclared:
            kind = "colour" if labels.colour_masks else "value"
            shown = ", ".join(
                f"{_raw_text(r)} ({raw_pixels[r]:,} px in {_count(raw_images[r], 'mask')})" for r in undeclared[:8]
            )
            more = f" and {len(undeclared) - 8} more" if len(undeclared) > 8 else ""
            if self.generic:
                decl = _declaration(undeclared[:8])
                fix = (
                    f"declare each in classes.txt on the line of the class it belongs to, keeping the values that "
                    f"line has{self.example_edit(labels, undeclared[0])}, or add the line '{IGNORE_LINE} {decl}' if "
                    "they are void"
                )
            else:
                fix = f"re-export the masks with {self.spec.name}'s label values; these pixels are ignored in training"
            self.problem(
                WARNING,
                "undeclared-values",
                f"{_count(len(undeclared), 'mask ' + kind)} that no class declares, ignored in training: {shown}{more}",
                fix,
            )

    def example_edit(self, labels: LabelSpace, raw: RawKey) -> str:
        """`` (e.g. line 3 'car' to 'car value=2,7' if 7 is car)``: declaring ``raw`` on a class line,
        shown on the first class after background; empty when classes.txt cannot be read."""
        lines = self.class_lines(labels)
        if not lines:
            return ""
        train = 1 if len(lines) > 1 else 0
        line = lines[train]
        own = [] if labels.colour_masks or "value=" in line.text else [train]
        return f" (e.g. {_change(line, _with_raw(line.text, raw, own))} if {_raw_text(raw)} is {line.name})"

    def absent_classes(self, labels: LabelSpace, class_pixels: list[int]) -> None:
        absent = [
            name
            for name, pixels in zip(labels.class_names, class_pixels, strict=True)
            if pixels == 0 and name != self.silent_class
        ]
        if not absent:
            return
        n = len(absent)
        never = f"{_count(n, 'class')} never {_verb(n, 'occurs', 'occur')} in {self.split}: "
        names = ", ".join(repr(name) for name in absent)
        them = _verb(n, "it", "them")
        show = f"add {self.split} images that show {them}"
        its = _verb(n, "its", "their")
        correct = f", or correct {its} value=/color= in classes.txt if {its} pixels are there under another value"
        if is_training_split(self.split):
            if self.generic:
                lines = self.class_lines(labels)
                edits = _drop_edits(labels, lines, set(absent)) if lines is not None else None
                # removing a line would shift every later class to another index: a silent relabelling
                drop = (
                    f", or drop {them} without changing any other class's mask values: in classes.txt change "
                    + ", ".join(edits)
                    if edits
                    else ""
                )
                hint = correct + drop
            else:
                hint = f" (is --root the whole {self.spec.name} dataset?)"
            message = f"{never}{names}; the model cannot learn {them}"
            self.problem(ERROR, "class-absent", message, show + hint)
        else:
            hint = correct if self.generic else ""
            message = f"{never}{names}; {its} IoU cannot be measured there"
            self.problem(
                WARNING, "class-absent", message, f"{show} (evaluation reports n/a for {them} meanwhile){hint}"
            )


def _declares_255(labels: LabelSpace) -> bool:
    return IGNORE_INDEX in (labels.raw_to_train or {}) or labels.ignore_declared


# the text report


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], indent: str = "  ") -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        text = "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()
        return indent + text

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _share(x: float) -> str:
    return f"{100 * x:.1f}%"


def format_split(split: SplitReport, colour_masks: bool) -> str:
    """One split's part of the text report: a table of raw values and one of classes.

    Args:
        split: The split's report.
        colour_masks: Whether raw values are colours (for the column header).

    Returns:
        The text, without a trailing newline.
    """
    header = (
        f"{split.split}: {_count(split.images, 'image')} ({split.source}), {_count(split.masks_read, 'mask')} read, "
        f"{split.pixels:,} mask pixels"
    )
    values = split.raw_values
    keep = set(sorted(range(len(values)), key=lambda i: -values[i].pixels)[:TABLE_ROWS])
    shown = [v for i, v in enumerate(values) if i in keep]
    rest = [v for i, v in enumerate(values) if i not in keep]
    value_rows = [
        [_raw_text(v.value), f"{v.pixels:,}", _share(split.pixel_share(v.pixels)), f"{v.images:,}", v.maps_to]
        for v in shown
    ]
    parts = [header]
    if not split.masks_read:
        return "\n".join([*parts, "  no mask could be read (see the problems below)"])
    if value_rows:
        head = "mask colour" if colour_masks else "mask value"
        parts += [
            "",
            _table([head, "pixels", "share", "masks", "becomes"], value_rows, [False, True, True, True, False]),
        ]
        if rest:
            pixels = sum(v.pixels for v in rest)
            parts.append(f"  ... and {len(rest)} more ({pixels:,} pixels, {_share(split.pixel_share(pixels))})")
    class_rows = [
        [
            c.name,
            f"{c.pixels:,}",
            _share(split.pixel_share(c.pixels)),
            f"{c.images:,}",
            _share(split.image_share(c.images)),
        ]
        for c in split.classes
    ]
    class_rows.append(
        [
            "(ignored)",
            f"{split.ignored_pixels:,}",
            _share(split.pixel_share(split.ignored_pixels)),
            f"{split.ignored_images:,}",
            _share(split.image_share(split.ignored_images)),
        ]
    )
    parts += [
        "",
        _table(
            ["class", "pixels", "pixel share", "images", "image share"], class_rows, [False, True, True, True, True]
        ),
    ]
    return "\n".join(parts)


def format_report(report: DataReport) -> str:
    """The readable report: per split a table of raw values and one of classes, then the problems
    with their fixes, ending with the one-line verdict (:meth:`DataReport.summary`).

    Args:
        report: What :func:`check_dataset` returned.

    Returns:
        The text, without a trailing newline.
    """
    classes = ", ".join(report.class_names) if report.class_names else "unknown (no split could be built)"
    parts = [
        f"check-data: {report.dataset} dataset at {report.root}",
        f"classes ({len(report.class_names)}): {classes}",
    ]
    for split in report.splits:
        parts += ["", format_split(split, report.colour_masks)]
    if report.skipped:
        parts += ["", "splits not found (skipped):"]
        parts += [f"  {split}: {reason}" for split, reason in report.skipped.items()]
    if report.problems:
        errors, warnings = len(report.errors), len(report.warnings)
        parts += ["", f"problems ({_count(errors, 'error')}, {_count(warnings, 'warning')}):"]
        for problem in sorted(report.problems, key=lambda p: p.severity != ERROR):
            where = f"{problem.split}: " if problem.split else ""
            parts.append(f"  {problem.severity.upper():<7}  {where}{problem.message}")
            parts.append(f"  {'':<7}  fix: {problem.fix}")
    parts += ["", report.summary()]
    return "\n".join(parts)
