"""The text report ``refineseg check-data`` prints: per split a table of raw values and one of
classes, then the problems with their fixes, then the one-line verdict."""

from __future__ import annotations

from collections.abc import Sequence

from ._text import count, raw_text
from .report import ERROR, DataReport, SplitReport

__all__ = ["TABLE_ROWS", "format_report", "format_split"]

TABLE_ROWS = 20  # raw values shown in the text report (the JSON lists them all)


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
        f"{split.split}: {count(split.images, 'image')} ({split.source}), {count(split.masks_read, 'mask')} read, "
        f"{split.pixels:,} mask pixels"
    )
    values = split.raw_values
    keep = set(sorted(range(len(values)), key=lambda i: -values[i].pixels)[:TABLE_ROWS])
    shown = [v for i, v in enumerate(values) if i in keep]
    rest = [v for i, v in enumerate(values) if i not in keep]
    value_rows = [
        [raw_text(v.value), f"{v.pixels:,}", _share(split.pixel_share(v.pixels)), f"{v.images:,}", v.maps_to]
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
        report: What :func:`~refineseg.data.check.check_dataset` returned.

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
        parts += ["", f"problems ({count(errors, 'error')}, {count(warnings, 'warning')}):"]
        for problem in sorted(report.problems, key=lambda p: p.severity != ERROR):
            where = f"{problem.split}: " if problem.split else ""
            parts.append(f"  {problem.severity.upper():<7}  {where}{problem.message}")
            parts.append(f"  {'':<7}  fix: {problem.fix}")
    parts += ["", report.summary()]
    return "\n".join(parts)
