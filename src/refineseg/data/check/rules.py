"""The checks of a built split: each rule is a function of the split and what its pairs hold
(:class:`~refineseg.data.check.context.SplitCounts`) that yields the problems it finds, each with
its check id (:data:`~refineseg.data.check.report.CHECKS`). :data:`RULES` runs them in order.

The checks of the files found before a split is built are in :mod:`refineseg.data.check.layout`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..labels import IGNORE_INDEX, IGNORE_LINE, LabelSpace
from ..scan import RawKey, SilentIgnore, find_silent_ignore, is_binary, is_training_split, raw_declaration
from ._classes_txt import change, declaration, declared, declares_255, drop_edits, with_raw
from ._text import SHOWN, count, names, raw_text, reason, rel, verb
from .context import SplitContext, SplitCounts
from .report import ERROR, WARNING, Problem

__all__ = [
    "RARE_SHARE",
    "RARE_VALUES",
    "RULES",
    "Rule",
    "absent_classes",
    "colour_masks",
    "jpeg_like",
    "jpeg_masks",
    "silent_ignore",
    "size_mismatch",
    "undeclared_values",
    "unreadable_images",
    "unreadable_masks",
]

RARE_SHARE = 0.001  # a value holding less than 0.1% of a split's pixels is rare
RARE_VALUES = 10  # more rare undeclared values than this look like JPEG or interpolation artefacts

Rule = Callable[[SplitContext, SplitCounts], Iterator[Problem]]


# the files read


def _unreadable(
    ctx: SplitContext, bad: Sequence[tuple[Path, str]], check: str, noun: str, fix: str
) -> Iterator[Problem]:
    """One error naming the files of ``bad`` that cannot be read and the first one's reason."""
    if bad:
        yield ctx.problem(
            ERROR,
            check,
            f"{count(len(bad), noun)} cannot be read: {names([p for p, _ in bad], ctx.base)}"
            f" ({reason(bad[0][1], bad[0][0])})",
            fix,
            [p for p, _ in bad],
        )


def unreadable_images(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``unreadable-image``: images that cannot be read.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        An error when there are any.
    """
    fix = "re-export those images (PNG or JPEG), or remove them with their masks"
    yield from _unreadable(ctx, counts.bad_images, "unreadable-image", "image", fix)


def unreadable_masks(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``unreadable-mask``: masks that cannot be read.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        An error when there are any.
    """
    fix = "re-export those masks as single-channel PNG label images (values 0..255)"
    yield from _unreadable(ctx, counts.bad_masks, "unreadable-mask", "mask", fix)


def size_mismatch(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``size-mismatch``: masks of another size than their images.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        An error when there are any.
    """
    mismatched = counts.mismatched
    if not mismatched:
        return
    shown = ", ".join(
        f"{rel(mask, ctx.base)} is {mw}x{mh} but {rel(image, ctx.base)} is {iw}x{ih}"
        for image, mask, (iw, ih), (mw, mh) in mismatched[:SHOWN]
    )
    more = f" (and {len(mismatched) - SHOWN} more)" if len(mismatched) > SHOWN else ""
    n = len(mismatched)
    yield ctx.problem(
        ERROR,
        "size-mismatch",
        f"{count(n, 'mask')} {verb(n, 'differs', 'differ')} in size from "
        f"{verb(n, 'its image', 'their images')} (width x height): {shown}{more}",
        "resize those masks to their images with nearest-neighbour interpolation, or re-export them",
        [mask for _, mask, _, _ in mismatched],
    )


def colour_masks(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``colour-masks``: RGB colour masks while the classes are declared by value.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        An error when there are any, whose fix declares the colours found on the class lines.
    """
    masks, colours, labels = counts.colour_masks, counts.colours, counts.labels
    if not masks:
        return
    total = sum(colours.values()) or 1
    top = [c for c, _ in colours.most_common(8)]
    shown = ", ".join(f"{raw_text(c)} ({100 * colours[c] / total:.1f}%)" for c in top)
    more = f" and {len(colours) - 8} more" if len(colours) > 8 else ""
    if ctx.generic:
        # on each class's own line: a new line would be a new class (or a second declaration)
        by_palette = {colour: train for train, colour in enumerate(labels.palette)}
        lines = ctx.class_lines(labels)
        edits = [
            change(lines[by_palette[c]], with_raw(lines[by_palette[c]].text, c))
            for c in top
            if lines is not None and c in by_palette
        ]
        rest = [f"'NAME color={raw_text(c)}'" for c in top if lines is None or c not in by_palette]
        fix = "declare each class by its mask colour on its own line of classes.txt (every class needs one)"
        if edits:
            fix += ": change " + ", ".join(edits)
        if rest:
            where = "the line of the class it is" if len(rest) == 1 else "the lines of the classes they are"
            fix += f"{'; and' if edits else ':'} {' and '.join(rest)} on {where}"
    else:
        fix = (
            f"{ctx.spec.name} reads index masks: convert the colour masks to class values, or use the generic "
            f"layout with 'NAME color=R,G,B' lines in classes.txt"
        )
    yield ctx.problem(
        ERROR,
        "colour-masks",
        f"{count(len(masks), 'mask')} {verb(len(masks), 'is an RGB colour mask', 'are RGB colour masks')}, "
        "but the classes are declared by value: "
        f"{names(masks, ctx.base)}; colours found: {shown}{more}",
        fix,
        masks,
    )


def jpeg_masks(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``jpeg-masks``: masks saved as JPEG, whose compression changes label values.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        An error when there are any.
    """
    jpeg = counts.jpeg
    if jpeg:
        where = f" named {ctx.split}/masks/STEM.png" if ctx.generic else ""
        yield ctx.problem(
            ERROR,
            "jpeg-masks",
            f"{count(len(jpeg), 'mask')} saved as JPEG, whose compression changes label values along every "
            f"edge: {names(jpeg, ctx.base)}",
            f"re-export the masks as PNG (lossless){where}",
            jpeg,
        )


# the mask values


@dataclass(frozen=True)
class _Silent:
    """What :func:`silent_ignore` reports: the trap (``found``), or a 0/255 export without it."""

    found: SilentIgnore | None
    binary: bool
    raw: RawKey  # the ignored value it names


def _silent(ctx: SplitContext, counts: SplitCounts) -> _Silent | None:
    if not ctx.generic:
        return None
    labels, raw_pixels = counts.labels, counts.raw_pixels
    ignored = Counter({r: n for r, n in raw_pixels.items() if labels.train_id(r) == IGNORE_INDEX})
    found = find_silent_ignore(
        labels,
        [n > 0 for n in counts.class_pixels],
        ignored,
        training=is_training_split(ctx.split),
        binary=is_binary(raw_pixels, ignored),
    )
    binary = set(raw_pixels) == {0, IGNORE_INDEX} and not declares_255(labels)
    if found is None and not binary:
        return None
    return _Silent(found, binary, found.raw if found is not None else IGNORE_INDEX)


def silent_ignore(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``silent-ignore``: ignored pixels while a class has none (an error: training would drop it),
    or 0/255 binary masks whose 255 is ignored by default (a warning); generic layout only.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        The error or warning, whose fix declares the ignored value on the empty class's line.
    """
    silent = _silent(ctx, counts)
    if silent is None:
        return
    labels, found, named = counts.labels, silent.found, silent.raw
    empty = found.empty if found is not None else "NAME"
    pixels = found.pixels if found is not None else counts.raw_pixels[IGNORE_INDEX]
    value, shown = raw_declaration(named), raw_text(named)
    hold = verb(pixels, "pixel holds", "pixels hold")
    if silent.binary:
        what = f"the masks are 0/255 binary exports: {pixels:,} {hold} 255, which is ignored"
    else:
        what = f"{pixels:,} {hold} {shown}, which is ignored"
    if found is not None:
        message = f"{what}, while class {empty!r} has no pixels at all: training would silently drop it"
    else:
        message = f"{what} by default; the foreground would count in no loss and no metric"
    lines = ctx.class_lines(labels)
    void = f"add the line '{IGNORE_LINE} {value}' to classes.txt if {shown} really is void"
    if found is not None and lines is not None:
        line = lines[labels.class_names.index(empty)]  # the class has no pixels: its own value is unused
        fix = f"in classes.txt change {change(line, with_raw(line.text, named))}, or {void}"
    elif found is not None:
        fix = f"declare {shown} on the line of class {empty!r} in classes.txt ('{value}'), or {void}"
    else:
        fix = (
            f"add the line 'NAME {value}' after the last class line of classes.txt (NAME: the "
            f"foreground's class), or {void}"
        )
    yield ctx.problem(ERROR if found is not None else WARNING, "silent-ignore", message, fix)


def jpeg_like(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``jpeg-like``: many rare undeclared values, as JPEG compression or interpolation leave
    (not reported beside :func:`jpeg_masks`).

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        A warning when more than :data:`RARE_VALUES` undeclared values are rare.
    """
    raw_pixels, total = counts.raw_pixels, counts.total
    rare = [r for r in raw_pixels if not declared(counts.labels, r) and raw_pixels[r] < RARE_SHARE * total]
    if not counts.jpeg and len(rare) > RARE_VALUES:
        yield ctx.problem(
            WARNING,
            "jpeg-like",
            f"{len(rare)} undeclared mask values each hold under {100 * RARE_SHARE:g}% of the pixels "
            f"({', '.join(raw_text(r) for r in sorted(rare, key=lambda r: -raw_pixels[r])[:8])}...): the masks "
            "look JPEG-compressed or resized with interpolation, which blends labels along edges",
            "re-export the masks as PNG, resizing them (if at all) with nearest-neighbour interpolation",
        )


def undeclared_values(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``undeclared-values``: mask values (or colours) no class declares, but the one
    :func:`silent_ignore` names.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        A warning when there are any.
    """
    labels, raw_pixels = counts.labels, counts.raw_pixels
    silent = _silent(ctx, counts)
    named = silent.raw if silent is not None else None
    undeclared = sorted((r for r in raw_pixels if not declared(labels, r) and r != named), key=lambda r: -raw_pixels[r])
    if not undeclared:
        return
    kind = "colour" if labels.colour_masks else "value"
    shown = ", ".join(
        f"{raw_text(r)} ({raw_pixels[r]:,} px in {count(counts.raw_images[r], 'mask')})" for r in undeclared[:8]
    )
    more = f" and {len(undeclared) - 8} more" if len(undeclared) > 8 else ""
    if ctx.generic:
        decl = declaration(undeclared[:8])
        fix = (
            f"declare each in classes.txt on the line of the class it belongs to, keeping the values that "
            f"line has{_example_edit(ctx, labels, undeclared[0])}, or add the line '{IGNORE_LINE} {decl}' if "
            "they are void"
        )
    else:
        fix = f"re-export the masks with {ctx.spec.name}'s label values; these pixels are ignored in training"
    yield ctx.problem(
        WARNING,
        "undeclared-values",
        f"{count(len(undeclared), 'mask ' + kind)} that no class declares, ignored in training: {shown}{more}",
        fix,
    )


def _example_edit(ctx: SplitContext, labels: LabelSpace, raw: RawKey) -> str:
    """`` (e.g. line 3 'car' to 'car value=2,7' if 7 is car)``: declaring ``raw`` on a class line,
    shown on the first class after background; empty when classes.txt cannot be read."""
    lines = ctx.class_lines(labels)
    if not lines:
        return ""
    train = 1 if len(lines) > 1 else 0
    line = lines[train]
    own = [] if labels.colour_masks or "value=" in line.text else [train]
    return f" (e.g. {change(line, with_raw(line.text, raw, own))} if {raw_text(raw)} is {line.name})"


def absent_classes(ctx: SplitContext, counts: SplitCounts) -> Iterator[Problem]:
    """``class-absent``: classes without pixels (but the one :func:`silent_ignore` names): an error
    in a training split (the model cannot learn them), a warning in an evaluation split.

    Args:
        ctx: The split.
        counts: What its pairs hold.

    Yields:
        The error or warning, when a mask was read and a class has no pixels.
    """
    labels = counts.labels
    silent = _silent(ctx, counts) if counts.masks_read else None
    silent_class = silent.found.empty if silent is not None and silent.found is not None else None
    absent = [
        name
        for name, pixels in zip(labels.class_names, counts.class_pixels, strict=True)
        if pixels == 0 and name != silent_class
    ]
    if not counts.masks_read or not absent:
        return
    n = len(absent)
    never = f"{count(n, 'class')} never {verb(n, 'occurs', 'occur')} in {ctx.split}: "
    names_ = ", ".join(repr(name) for name in absent)
    them = verb(n, "it", "them")
    show = f"add {ctx.split} images that show {them}"
    its = verb(n, "its", "their")
    correct = f", or correct {its} value=/color= in classes.txt if {its} pixels are there under another value"
    if is_training_split(ctx.split):
        if ctx.generic:
            lines = ctx.class_lines(labels)
            edits = drop_edits(labels, lines, set(absent)) if lines is not None else None
            # removing a line would shift every later class to another index: a silent relabelling
            drop = (
                f", or drop {them} without changing any other class's mask values: in classes.txt change "
                + ", ".join(edits)
                if edits
                else ""
            )
            hint = correct + drop
        else:
            hint = f" (is --root the whole {ctx.spec.name} dataset?)"
        yield ctx.problem(ERROR, "class-absent", f"{never}{names_}; the model cannot learn {them}", show + hint)
    else:
        hint = correct if ctx.generic else ""
        message = f"{never}{names_}; {its} IoU cannot be measured there"
        yield ctx.problem(
            WARNING, "class-absent", message, f"{show} (evaluation reports n/a for {them} meanwhile){hint}"
        )


RULES: tuple[Rule, ...] = (
    unreadable_images,
    unreadable_masks,
    size_mismatch,
    colour_masks,
    jpeg_masks,
    silent_ignore,
    jpeg_like,
    undeclared_values,
    absent_classes,
)
"""The checks of what a built split's pairs hold, in the order their problems are listed."""
