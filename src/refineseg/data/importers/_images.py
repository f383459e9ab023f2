"""The images and masks of an import: where a sample's image comes from (:func:`image_source`: a
file, or the bytes embedded in the annotation) and the masks as palette PNGs (:func:`palette_png`)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..._io import atomic_write
from ..datasets import IGNORE_INDEX, IMAGE_SUFFIXES
from ..labels import Colour
from ._samples import Sample

__all__ = ["FORMAT_SUFFIXES", "IGNORE_COLOUR", "image_source", "palette_png", "save_png"]


# the colour of ignored (255) pixels in written masks: PASCAL VOC's border colour, so they look familiar
IGNORE_COLOUR: Colour = (224, 224, 192)
# Pillow's format name -> the suffix an embedded image is written with
FORMAT_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


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


def save_png(path: Path, image: Image.Image) -> None:
    """Write ``image`` to ``path`` as a PNG, atomically.

    Args:
        path: The PNG file.
        image: The image, e.g. from :func:`palette_png`.
    """
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:  # reads the header only
        return im.size


def image_source(
    sample: Sample, written: dict[str, str], problems: list[str]
) -> tuple[str, tuple[int, int], Callable[[str], object]] | None:
    """The image's file name, its size and how to copy it (the file, or the embedded bytes).

    Args:
        sample: The annotated image.
        written: Mask stem -> image file name of the images imported so far (a stem is imported once).
        problems: The import's problem lines; this adds one when the image cannot be imported.

    Returns:
        ``(name, (width, height), copy)``, ``copy(path)`` writing the image there; ``None`` when it
            cannot be imported (with a problem, unless the reader has reported the missing image).
    """
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
