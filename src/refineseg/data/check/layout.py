"""The checks of the layout, before a split's masks are read: whether a split was found, whether
it could be built, and (``generic`` folders) whether images and masks pair up. Each is a
function that returns or yields problems, each with its check id
(:data:`~refineseg.data.check.report.CHECKS`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from ..registry import DatasetSpec
from ._text import count, names
from .context import JPEG_SUFFIXES, SplitContext
from .report import ERROR, WARNING, Problem

__all__ = ["build_failure", "masks_not_png", "missing_images", "missing_masks", "no_split"]


def no_split(spec: DatasetSpec, base: Path, skipped: dict[str, str]) -> Problem:
    """``no-split``: nothing to check under ``base``.

    Args:
        spec: The registered dataset.
        base: The dataset root.
        skipped: The default splits not found, and why.

    Returns:
        The error.
    """
    why = "".join(f"; {s}: {reason}" for s, reason in skipped.items())
    return Problem(
        ERROR,
        "no-split",
        f"no split of {spec.name} found under {base}{why}",
        f"point --root at the dataset's folder ({spec.description}), or name the split with --split",
    )


def build_failure(ctx: SplitContext, message: str) -> Problem:
    """``build``: the split cannot be built, for the reason ``message`` (the dataset's error).

    Args:
        ctx: The split.
        message: The dataset's error.

    Returns:
        The error, with the fix its reason calls for.
    """
    if "missing file" in message:
        fix = "add the missing files, or take their entries out of the split"
    elif "classes.txt" in message:
        fix = "correct classes.txt: one 'NAME [R G B] [value=V] [color=R,G,B]' line per class, see --help"
    else:
        fix = f"lay the data out as {ctx.spec.name} expects: {ctx.spec.description}"
    return ctx.problem(ERROR, "build", message, fix)


def missing_masks(ctx: SplitContext, images: Sequence[Path]) -> Iterator[Problem]:
    """``missing-mask``: images of ``SPLIT/images`` without a mask.

    Args:
        ctx: The split.
        images: The images without a mask.

    Yields:
        An error when there are any.
    """
    where = f"{ctx.split}/masks/STEM.png"
    if images:
        yield ctx.problem(
            ERROR,
            "missing-mask",
            f"{count(len(images), 'image')} in {ctx.split}/images without a mask {where}: {names(images, ctx.base)}",
            f"add each image's mask as {where}, or move those images out of {ctx.split}/images",
            images,
        )


def missing_images(ctx: SplitContext, masks: Sequence[Path]) -> Iterator[Problem]:
    """``missing-image``: masks of ``SPLIT/masks`` without an image (not used).

    Args:
        ctx: The split.
        masks: The masks without an image.

    Yields:
        A warning when there are any.
    """
    if masks:
        yield ctx.problem(
            WARNING,
            "missing-image",
            f"{count(len(masks), 'mask')} in {ctx.split}/masks without an image (not used): {names(masks, ctx.base)}",
            f"add their images to {ctx.split}/images with the same stem, or remove those masks",
            masks,
        )


def masks_not_png(ctx: SplitContext, masks: Sequence[Path]) -> Iterator[Problem]:
    """``mask-not-png``: masks matched by an image's stem but not named ``STEM.png`` (JPEG masks are
    :func:`~refineseg.data.check.rules.jpeg_masks`'s).

    Args:
        ctx: The split.
        masks: The masks of an image's stem that are not ``STEM.png``.

    Yields:
        An error when some are not JPEG.
    """
    where = f"{ctx.split}/masks/STEM.png"
    other = [m for m in masks if m.suffix.lower() not in JPEG_SUFFIXES]
    if other:
        yield ctx.problem(
            ERROR,
            "mask-not-png",
            f"{count(len(other), 'mask')} not named {where}, which is all the generic layout reads: "
            f"{names(other, ctx.base)}",
            f"save those masks as PNG, named {where}",
            other,
        )
