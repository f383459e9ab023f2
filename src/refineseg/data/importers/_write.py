"""What the importers share: the sample they hand over, finding images, and writing the ``generic`` layout.

A reader (one per annotation format) turns an export into a :class:`~refineseg.data.datasets.LabelSpace`
and a list of :class:`Sample`; :func:`write_dataset` draws each mask only when it is written, so a
large export is never held in memory as pixels. Everything is written into a sibling
``ROOT.partial-XXXXXXXX`` folder that is renamed to ``ROOT`` at the end, so ``ROOT`` either does
not exist or is complete: an interrupted or refused (``strict``) import leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..._io import atomic_write
from ..datasets import IGNORE_INDEX, IMAGE_SUFFIXES, DatasetError, LabelSpace, default_palette, images_in
from ..labels import IGNORE_LINE, Colour

__all__ = [
    "IGNORE_COLOUR",
    "AnnotationImportError",
    "EmbeddedImage",
    "ImageFinder",
    "ImportReport",
    "Sample",
    "check_output",
    "class_token",
    "class_tokens",
    "classes_txt",
    "far_out_of_bounds",
    "out_of_bounds",
    "palette_png",
    "read_class_file",
    "split_names",
    "write_dataset",
]


# the colour of ignored (255) pixels in written masks: PASCAL VOC's border colour, so they look familiar
IGNORE_COLOUR: Colour = (224, 224, 192)
# the most classes an 8-bit mask holds when 255 means "ignore"
MAX_CLASSES = 255
# vertices less than this (pixels) outside the image are clipped without a problem: a click on the border
SUBPIXEL = 1.0
# Pillow's format name -> the suffix an embedded image is written with
FORMAT_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


@dataclass(frozen=True)
class Sample:
    """One annotated image, its mask drawn only when it is written.

    Attributes:
        source: Names the annotation (file, and entry where a file holds many) in problem messages.
        image: The image file, or ``None`` when the reader could not find it (and has reported it).
        draw: ``draw(width, height)`` makes the HxW uint8 mask, or ``None`` when it cannot
            (having reported why).
        size: The ``(width, height)`` the annotation was made for, when the format records it;
            checked against the image before drawing.
        embedded: The image stored in the annotation, used when ``image`` is ``None``.
    """

    source: str
    image: Path | None
    draw: Callable[[int, int], np.ndarray | None]
    size: tuple[int, int] | None = None
    embedded: EmbeddedImage | None = None


@dataclass(frozen=True)
class EmbeddedImage:
    """An image stored inside the annotation file (LabelMe's ``imageData``), read when written.

    It is written as it is stored (the same bytes), named ``stem`` plus the suffix of its format.

    Attributes:
        stem: The name stem to write it under.
        read: Returns the image file's bytes; may raise ``OSError`` or ``ValueError``.
    """

    stem: str
    read: Callable[[], bytes]


@dataclass
class ImportReport:
    """What an import wrote: images per split, the classes, and every problem met (one line each).

    Attributes:
        format: The annotation format.
        output: The dataset folder.
        class_names: The classes, in train-id order.
        train: Images written to ``train``.
        val: Images written to ``val``.
        skipped: Annotated images that were not written (each has a problem line).
        problems: One line per problem.
        notes: One line per thing worth knowing that is not a problem (``strict`` ignores them),
            e.g. shapes without area that were left out.
        written: ``False`` when nothing was put at ``output``.
    """

    format: str
    output: Path
    class_names: tuple[str, ...]
    train: int = 0
    val: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        """One line: where, images per split, the classes and the number of problems.

        Returns:
            The line, without a newline.
        """
        where = f"wrote {self.output}" if self.written else f"nothing written to {self.output}"
        parts = [f"train {self.train} image{_s(self.train)}"]
        if self.val:
            parts.append(f"val {self.val} image{_s(self.val)}")
        names = ", ".join(self.class_names)
        return (
            f"{where}: {', '.join(parts)}; {len(self.class_names)} classes ({names}); "
            f"{len(self.problems)} problem{_s(len(self.problems))}"
            + (f", {self.skipped} image{_s(self.skipped)} skipped" if self.skipped else "")
        )


class AnnotationImportError(DatasetError):
    """An import that wrote nothing (``strict`` and problems, or no usable image).

    Args:
        message: The error message.
        report: The import's report, whose ``problems`` list why; kept as ``self.report``.
    """

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def check_output(output: Path) -> None:
    """Refuse an ``output`` that holds anything: an import never overwrites or merges.

    Args:
        output: The import's output folder.

    Raises:
        DatasetError: If ``output`` is a non-empty folder or exists and is not a folder.
    """
    if output.is_dir():
        if any(output.iterdir()):
            raise DatasetError(f"{output}: exists and is not empty; give a new --output (nothing is overwritten)")
    elif output.exists() or output.is_symlink():
        raise DatasetError(f"{output}: exists and is not a directory; give a new --output")


def class_token(name: str) -> str:
    """``name`` as one ``classes.txt`` field: whitespace and ``#`` (a comment there) become ``_`` and the
    ``@ignore`` keyword is escaped, so the file reads back with the same classes in the same order.

    Args:
        name: A class name.

    Returns:
        The field (``"unnamed"`` for an empty name).
    """
    token = "_".join(name.replace("#", "_").split()) or "unnamed"
    return f"_{token}" if token == IGNORE_LINE else token


def class_tokens(names: Iterable[str]) -> tuple[str, ...]:
    """The class names as ``classes.txt`` fields (:func:`class_token`), made unique (``car``, ``car_2``):
    the one spelling an import uses everywhere (``classes.txt``, its report, the dataset read back).

    Args:
        names: The class names, in class-index order.

    Returns:
        One field per name, in the same order.
    """
    tokens: list[str] = []
    seen: set[str] = set()
    for name in names:
        token = base = class_token(name)
        suffix = 2
        while token in seen:
            token, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(token)
        tokens.append(token)
    return tuple(tokens)


def classes_txt(labels: LabelSpace) -> str:
    """``classes.txt``: ``NAME R G B`` per class (names made unique fields), then ``@ignore value=255``,
    which says that 255 in the masks is void on purpose (a class may have no pixels, e.g. in a small split).

    Args:
        labels: The classes and their colours.

    Returns:
        The file's text.
    """
    lines = [
        f"{token} {r} {g} {b}\n"
        for token, (r, g, b) in zip(class_tokens(labels.class_names), labels.palette, strict=True)
    ]
    return "".join(lines) + f"{IGNORE_LINE} value={IGNORE_INDEX}\n"


def read_class_file(path: Path) -> tuple[list[str], list[Colour] | None]:
    """Class names, one per line (``NAME`` or ``NAME R G B``; a name may contain spaces), and their
    colours when every line gives one. Blank lines and ``#`` comments are skipped.

    Args:
        path: The class-name file.

    Returns:
        ``(names, colours)``; ``colours`` is ``None`` unless every line gives one.

    Raises:
        DatasetError: If the file is unreadable or names no class.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable class list ({exc})") from None
    names: list[str] = []
    colours: list[Colour] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) >= 4 and all(f.isdigit() and int(f) < 256 for f in fields[-3:]):
            colours.append((int(fields[-3]), int(fields[-2]), int(fields[-1])))
            names.append(" ".join(fields[:-3]))
        else:
            names.append(stripped)
    if not names:
        raise DatasetError(f"{path}: no class names (expected one name per line)")
    return names, colours if len(colours) == len(names) else None


def out_of_bounds(xs: Iterable[float], ys: Iterable[float], width: int, height: int) -> bool:
    """Whether any vertex lies outside the image's extent, [0, width] x [0, height] in pixel units.

    Args:
        xs: Vertex x coordinates.
        ys: Vertex y coordinates.
        width: Image width.
        height: Image height.

    Returns:
        ``True`` if a vertex lies outside.
    """
    return any(x < 0 or x > width for x in xs) or any(y < 0 or y > height for y in ys)


def far_out_of_bounds(xs: Iterable[float], ys: Iterable[float], width: int, height: int) -> bool:
    """Whether any vertex lies :data:`SUBPIXEL` (1 px) or more outside the image's extent: a shape
    that really reaches out of the image, not a click on its border that overshot by a fraction of a
    pixel (such vertices are clipped without a problem).

    Args:
        xs: Vertex x coordinates.
        ys: Vertex y coordinates.
        width: Image width.
        height: Image height.

    Returns:
        ``True`` if a vertex lies 1 px or more outside.
    """
    return any(x <= -SUBPIXEL or x >= width + SUBPIXEL for x in xs) or any(
        y <= -SUBPIXEL or y >= height + SUBPIXEL for y in ys
    )


class ImageFinder:
    """Finds images in one folder by relative file name or by stem; the folder is listed once, lazily.

    Args:
        folder: The image folder (it may not exist: then nothing is found).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_name: dict[str, Path] | None = None
        self._by_stem: dict[str, list[Path]] | None = None

    def _index(self) -> None:
        files = images_in(self.folder) if self.folder.is_dir() else []
        self._by_name = {p.name: p for p in files}
        self._by_stem = {}
        for p in files:
            self._by_stem.setdefault(p.stem, []).append(p)

    def by_name(self, name: str) -> Path | None:
        """``folder/name`` (``name`` may hold sub-folders), else a file of the same base name in ``folder``.

        Args:
            name: A relative file name, with ``/`` or ``\\`` separators.

        Returns:
            The image, or ``None``.
        """
        name = name.replace("\\", "/")
        direct = self.folder / name
        if direct.is_file():
            return direct
        if self._by_name is None:
            self._index()
        assert self._by_name is not None
        return self._by_name.get(Path(name).name)

    def by_stem(self, stem: str) -> list[Path]:
        """Every image whose name is ``stem`` plus an image suffix (``stem`` may hold sub-folders).

        Args:
            stem: A relative file name without suffix.

        Returns:
            The matching images (several when suffixes differ), possibly none.
        """
        rel = Path(stem.replace("\\", "/"))
        if rel.parent != Path("."):
            folder = self.folder / rel.parent
            found = [p for p in images_in(folder) if p.stem == rel.name] if folder.is_dir() else []
            if found:
                return found
        if self._by_stem is None:
            self._index()
        assert self._by_stem is not None
        return list(self._by_stem.get(rel.name, []))


def palette_png(mask: np.ndarray, palette: Sequence[Colour]) -> Image.Image:
    """``mask`` (HxW uint8 class ids) as a palette-mode image whose colours are the classes' (255: ignore).

    Args:
        mask: HxW uint8 class ids, 255 ignored.
        palette: One colour per class.

    Returns:
        A ``"P"`` mode image; pixel value = class id.
    """
    height, width = mask.shape
    im = Image.frombytes("P", (width, height), np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
    colours = [*palette, *[(0, 0, 0)] * (256 - len(palette))]
    colours[IGNORE_INDEX] = IGNORE_COLOUR
    im.putpalette([v for colour in colours for v in colour])
    return im


def split_names(names: Iterable[str], *, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, val): a shuffle by ``seed`` of the sorted names, so the split depends on nothing else.

    Args:
        names: The image name stems.
        val_fraction: The share for ``val``: ``round(val_fraction * n)`` names, at least one
            when the fraction is above 0, and never all of them (training needs an image).
        seed: Seeds the shuffle.

    Returns:
        ``(train, val)``, each sorted.
    """
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_val = round(val_fraction * n)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    n_val = min(n_val, max(n - 1, 0))
    return sorted(order[n_val:]), sorted(order[:n_val])


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:  # reads the header only
        return im.size


def write_dataset(
    *,
    fmt: str,
    samples: Iterable[Sample],
    labels: LabelSpace,
    output: Path,
    val_fraction: float,
    seed: int,
    strict: bool,
    problems: list[str],
    notes: list[str] | None = None,
    found_classes: bool = False,
) -> ImportReport:
    """Copy the images, draw the masks, split, and write ``classes.txt``, all in a ``.partial`` folder
    renamed to ``output`` at the end; on ``strict`` with problems, or when nothing could be written,
    the folder is removed and :class:`AnnotationImportError` carries the report.

    With ``found_classes`` (the reader collected the classes from the annotations rather than
    from a declaration), a class no written mask shows (its annotations are only in skipped
    files, or drew no pixel) is dropped and the masks renumbered, with a note.

    Args:
        fmt: The annotation format, for the report.
        samples: The reader's samples.
        labels: The reader's label space.
        output: The dataset folder to create.
        val_fraction: The share of images for ``val`` (see :func:`split_names`).
        seed: Seeds the split.
        strict: Whether any problem makes the import write nothing.
        problems: The reader's problem lines; this adds its own.
        notes: The reader's notes (lines that are not problems); this adds its own.
        found_classes: Whether classes 1.. were found in the annotations (not declared), so that
            those without a pixel in a written mask are dropped.

    Returns:
        The report, with ``written`` set.

    Raises:
        DatasetError: For more than 255 classes or an output that is not empty.
        AnnotationImportError: If nothing was written.
    """
    if labels.num_classes > MAX_CLASSES:
        raise DatasetError(f"{labels.num_classes} classes: an 8-bit mask holds at most {MAX_CLASSES} (255 is ignore)")
    # the names as classes.txt spells them, so the report says what the dataset will read back
    labels = dataclasses.replace(labels, class_names=class_tokens(labels.class_names))
    notes = [] if notes is None else notes
    report = ImportReport(fmt, output, labels.class_names, problems=problems, notes=notes)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f"{output.name}.partial-{secrets.token_hex(4)}")
    partial.mkdir()
    try:
        staged = partial / "train"
        written: dict[str, str] = {}  # mask stem -> image file name
        shown = np.zeros(256, dtype=bool)  # the mask values some written mask holds
        for sample in samples:
            name = _write_sample(sample, labels, staged, written, problems, shown)
            if name is None:
                report.skipped += 1
        if found_classes:
            labels = _drop_unshown(labels, shown, staged / "masks", written, notes)
            report.class_names = labels.class_names
        train, val = split_names(written, val_fraction=val_fraction, seed=seed)
        if val:
            for sub in ("images", "masks"):
                (partial / "val" / sub).mkdir(parents=True)
            for stem in val:
                os.replace(staged / "images" / written[stem], partial / "val" / "images" / written[stem])
                os.replace(staged / "masks" / f"{stem}.png", partial / "val" / "masks" / f"{stem}.png")
        report.train, report.val = len(train), len(val)
        text = classes_txt(labels)
        atomic_write(partial / "classes.txt", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        if strict and problems:
            n = len(problems)
            raise AnnotationImportError(f"{n} problem{_s(n)} in the annotations; nothing written (--strict)", report)
        if not written:
            raise AnnotationImportError("no image could be imported; nothing written", report)
        check_output(output)  # again: something may have appeared there meanwhile
        if output.is_dir():
            output.rmdir()
        os.rename(partial, output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    report.written = True
    return report


def _save_png(path: Path, image: Image.Image) -> None:
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def _drop_unshown(
    labels: LabelSpace, shown: np.ndarray, masks: Path, written: dict[str, str], notes: list[str]
) -> LabelSpace:
    """``labels`` without the classes (but background) that no written mask shows; the masks in
    ``masks`` renumbered to match (rewritten only when a class is dropped)."""
    keep = [0, *(i for i in range(1, labels.num_classes) if shown[i])]
    if len(keep) == labels.num_classes:
        return labels
    dropped = [name for i, name in enumerate(labels.class_names) if i not in keep]
    n = len(dropped)
    notes.append(
        f"{n} label{_s(n)} in no imported mask (only in skipped files, or drawing no pixel), so not "
        + ("a class: " if n == 1 else "classes: ")
        + ", ".join(repr(name) for name in dropped)
    )
    default = labels.palette == default_palette(labels.num_classes)
    palette = default_palette(len(keep)) if default else tuple(labels.palette[i] for i in keep)
    kept = LabelSpace(tuple(labels.class_names[i] for i in keep), palette)
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[keep] = np.arange(len(keep), dtype=np.uint8)
    for stem in written:
        path = masks / f"{stem}.png"
        with Image.open(path) as im:
            values = table[np.asarray(im, dtype=np.uint8)]
        _save_png(path, palette_png(values, kept.palette))
    return kept


def _write_sample(
    sample: Sample,
    labels: LabelSpace,
    staged: Path,
    written: dict[str, str],
    problems: list[str],
    shown: np.ndarray,
) -> str | None:
    """Copy one image and write its mask into ``staged``; the mask's stem, or None (with a problem) if
    skipped. The values the mask holds are marked in ``shown``."""
    found = _image_source(sample, written, problems)
    if found is None:
        return None
    name, (width, height), copy = found
    stem = Path(name).stem
    if sample.size is not None and sample.size != (width, height):
        problems.append(
            f"{sample.source}: annotated for {sample.size[0]}x{sample.size[1]} but image {name} is "
            f"{width}x{height}; skipped"
        )
        return None
    mask = sample.draw(width, height)
    if mask is None:
        return None
    if mask.shape != (height, width):
        problems.append(
            f"{sample.source}: mask is {mask.shape[1]}x{mask.shape[0]} but image {name} is {width}x{height}; skipped"
        )
        return None
    atomic_write(staged / "images" / name, copy)
    shown |= np.bincount(mask.ravel(), minlength=256) > 0
    _save_png(staged / "masks" / f"{stem}.png", palette_png(mask, labels.palette))
    written[stem] = name
    return stem


def _image_source(
    sample: Sample, written: dict[str, str], problems: list[str]
) -> tuple[str, tuple[int, int], Callable[[str], object]] | None:
    """The image's file name, its size and how to copy it (the file, or the embedded bytes); None with a
    problem when it cannot be imported."""
    image = sample.image
    if image is not None:
        name, stem = image.name, image.stem
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(f"{sample.source}: {name} is not one of the image types {', '.join(IMAGE_SUFFIXES)}")
            return None
    elif sample.embedded is not None:
        stem = sample.embedded.stem
        try:
            data = sample.embedded.read()
            with Image.open(io.BytesIO(data)) as im:  # reads the header only
                fmt, size = im.format, im.size
        except (OSError, ValueError) as exc:
            problems.append(f"{sample.source}: the embedded imageData is not a readable image ({exc}); skipped")
            return None
        suffix = FORMAT_SUFFIXES.get(fmt or "")
        if suffix is None:
            problems.append(
                f"{sample.source}: the embedded imageData is a {fmt} image, not one of {', '.join(FORMAT_SUFFIXES)}; skipped"
            )
            return None
        name = stem + suffix
    else:
        return None  # the reader has reported the missing image
    if stem in written:
        problems.append(
            f"{sample.source}: image {name} has the same name stem as {written[stem]}, already imported; skipped"
        )
        return None
    if image is None:
        return name, size, lambda tmp: Path(tmp).write_bytes(data)
    try:
        size = _image_size(image)
    except (OSError, ValueError) as exc:
        problems.append(f"{sample.source}: image {image} is not readable ({exc})")
        return None
    return name, size, lambda tmp: shutil.copyfile(image, tmp)
