"""LabelMe JSON files -> class-index masks, rasterised as LabelMe's own ``shape_to_mask`` does.

Classes: ``background`` (0), then every shape label that paints a pixel of an imported mask,
sorted (a label found only in skipped files is not a class; a note names it), unless a
``--classes`` file lists them (LabelMe's ``labels.txt`` works: ``__ignore__`` and ``_background_``
are understood). A shape labelled ``__ignore__`` is painted as ignore (255).

Shapes: polygon, rectangle, oriented_rectangle (LabelMe 5.x: four corners, filled as a polygon),
circle (centre and a point on the rim) and mask (LabelMe 5.3+) are filled; points, lines and line
strips have no area and are skipped. Overlaps: shapes are painted in file order, later shapes on
top, as LabelMe draws them. A vertex less than a pixel outside the image (a click on its border) is
clipped quietly; one further out is a problem (and clipped).

Images: each file's ``imagePath`` (relative to the JSON, or by name in ``--images``); when that
file is missing, the image the JSON embeds (``imageData``, which LabelMe's editor saves by
default), written out as it is stored.
"""

from __future__ import annotations

import base64
import io
import json
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..datasets import IGNORE_INDEX, IMAGE_SUFFIXES, DatasetError, LabelSpace, default_palette, require_dir
from ._classes import read_class_file
from ._samples import EmbeddedImage, ImageFinder, Sample, far_out_of_bounds

__all__ = ["read_labelme"]

FILLED = ("polygon", "oriented_rectangle", "rectangle", "circle", "mask")
NO_AREA = ("point", "points", "line", "linestrip")
BACKGROUND_NAMES = ("background", "_background_")
IGNORE_NAME = "__ignore__"


def read_labelme(
    source: Path,
    *,
    images: Path | None,
    classes: Path | None,
    problems: list[str],
    notes: list[str] | None = None,
) -> tuple[LabelSpace, list[Sample]]:
    """The classes and one sample per LabelMe file under ``source`` (searched recursively, sorted).

    Args:
        source: The folder of LabelMe ``.json`` files.
        images: The image folder, searched by file name (default: each file's ``imagePath``,
            relative to the JSON).
        classes: A class-name file fixing the classes and their order (default: background,
            then the labels used, sorted).
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        DatasetError: If ``source`` holds no ``.json`` file or the class file is unusable.
    """
    require_dir(source, "LabelMe folder of .json files")
    files = sorted(source.rglob("*.json"))
    if not files:
        raise DatasetError(f"{source}: no .json files (expected LabelMe annotation files)")
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: not readable as JSON ({exc}); skipped")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), list) or not data.get("imagePath"):
            problems.append(f"{path}: not a LabelMe file (expected 'shapes' and 'imagePath'); skipped")
            continue
        # the embedded image is often large: kept only as whether there is one, read again if it is needed
        data["imageData"] = isinstance(data.get("imageData"), str) and bool(data["imageData"])
        docs.append((path, data))

    colours: list[tuple[int, int, int]] | None = None
    if classes is not None:
        listed, listed_colours = read_class_file(classes)
        pairs = [
            ("background" if name in BACKGROUND_NAMES else name, colour)
            for name, colour in zip(listed, listed_colours or [(0, 0, 0)] * len(listed), strict=True)
            if name != IGNORE_NAME
        ]
        background = [c for n, c in pairs if n == "background"][:1] or [(0, 0, 0)]
        pairs = [("background", background[0]), *((n, c) for n, c in pairs if n != "background")]
        names = [n for n, _ in pairs]
        colours = [c for _, c in pairs] if listed_colours else None
    else:
        used: set[str] = set()
        for _, data in docs:
            for shape in data["shapes"]:
                label = _label(shape) if isinstance(shape, dict) and _kind(shape) in FILLED else None
                if label is not None and label not in (*BACKGROUND_NAMES, IGNORE_NAME):
                    used.add(label)
        names = ["background", *sorted(used)]
    label_ids = {name: index for index, name in enumerate(names)}
    label_ids.update({"_background_": 0, IGNORE_NAME: IGNORE_INDEX})
    labels = LabelSpace(tuple(names), tuple(colours) if colours else default_palette(len(names)))

    finder = ImageFinder(images) if images is not None else None
    samples = []
    for path, data in docs:
        image_path = str(data["imagePath"]).replace("\\", "/")
        image = finder.by_name(Path(image_path).name) if finder else _beside(path, image_path)
        if image is not None and image.suffix.lower() not in IMAGE_SUFFIXES and data["imageData"]:
            image = None  # e.g. labelme's tutorial/apc2016_obj3.json, whose imagePath names the JSON itself
        embedded = None
        if image is None and data["imageData"]:  # as LabelMe's own converters, use the image it embeds
            embedded = EmbeddedImage(Path(image_path).stem, partial(_image_data, path))
        elif image is None:
            where = images if images is not None else path.parent
            problems.append(f"{path}: image {image_path} not found in {where}, nor embedded (imageData); skipped")
        width, height = data.get("imageWidth"), data.get("imageHeight")
        size = (width, height) if isinstance(width, int) and isinstance(height, int) else None
        draw = partial(_draw, path, data["shapes"], label_ids, classes, problems)
        samples.append(Sample(source=str(path), image=image, draw=draw, size=size, embedded=embedded))
    return labels, samples


def _image_data(path: Path) -> bytes:
    """The image file a LabelMe JSON embeds (base64 ``imageData``), read again from the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    return base64.b64decode(data["imageData"])


def _beside(json_path: Path, image_path: str) -> Path | None:
    candidate = json_path.parent / image_path
    return candidate if candidate.is_file() else None


def _kind(shape: dict[str, Any]) -> str:
    return str(shape.get("shape_type") or "polygon")


def _label(shape: dict[str, Any]) -> str | None:
    label = shape.get("label")
    return label if isinstance(label, str) and label else None


def _draw(
    path: Path,
    shapes: list[Any],
    label_ids: dict[str, int],
    classes: Path | None,
    problems: list[str],
    width: int,
    height: int,
) -> np.ndarray:
    """Fill each shape with its class id in file order (later on top), clipped to the image."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for number, shape in enumerate(shapes):
        where = f"{path}: shape {number}"
        if not isinstance(shape, dict):
            problems.append(f"{where}: not an object; skipped")
            continue
        kind, label = _kind(shape), _label(shape)
        if kind in NO_AREA:
            continue
        where += f" ({label!r}, {kind})"
        if kind not in FILLED:
            problems.append(f"{where}: unknown shape type; skipped")
            continue
        if label is None:
            problems.append(f"{where}: no label; skipped")
            continue
        value = label_ids.get(label)
        if value is None:
            problems.append(f"{where}: label not in {classes}; skipped")
            continue
        points = _points(shape.get("points"))
        if points is None:
            problems.append(f"{where}: points are not a list of [x, y] numbers; skipped")
            continue
        if kind == "mask":
            _paint_mask(canvas, shape, points, value, where, problems)
            continue
        if kind == "oriented_rectangle" and len(points) != 4:
            problems.append(f"{where}: needs 4 points, has {len(points)}; skipped")
            continue
        outline = _outline(kind, points)
        if outline is None:
            problems.append(f"{where}: empty or degenerate shape; skipped")
            continue
        xs, ys = [p[0] for p in outline], [p[1] for p in outline]
        if far_out_of_bounds(xs, ys, width, height):  # less than a pixel over the border is clipped quietly
            problems.append(f"{where}: extends outside the {width}x{height} image; clipped")
        if kind in ("polygon", "oriented_rectangle"):
            draw.polygon(points, fill=value, outline=value)
        elif kind == "rectangle":
            draw.rectangle([min(xs), min(ys), max(xs), max(ys)], fill=value, outline=value)
        else:
            draw.ellipse([min(xs), min(ys), max(xs), max(ys)], fill=value, outline=value)
    return np.asarray(canvas, dtype=np.uint8).copy()


def _points(raw: Any) -> list[tuple[float, float]] | None:
    if not isinstance(raw, list):
        return None
    points = []
    for p in raw:
        if not (isinstance(p, (list, tuple)) and len(p) == 2):
            return None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p):
            return None
        points.append((float(p[0]), float(p[1])))
    return points


def _outline(kind: str, points: list[tuple[float, float]]) -> list[tuple[float, float]] | None:
    """The shape's extreme points (for the bounds check), or None when it encloses no area."""
    if kind in ("polygon", "oriented_rectangle"):
        if len(points) < 3:
            return None
        xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        area2 = float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
        return points if area2 != 0 else None
    if len(points) != 2:
        return None
    (x0, y0), (x1, y1) = points
    if kind == "rectangle":
        return points if x0 != x1 and y0 != y1 else None
    radius = math.hypot(x1 - x0, y1 - y0)  # circle: centre, then a point on the rim
    return [(x0 - radius, y0 - radius), (x0 + radius, y0 + radius)] if radius > 0 else None


def _paint_mask(
    canvas: Image.Image,
    shape: dict[str, Any],
    points: list[tuple[float, float]],
    value: int,
    where: str,
    problems: list[str],
) -> None:
    """A LabelMe 5.3+ ``mask`` shape: a base64 PNG of the region, placed at its top-left point."""
    try:
        with Image.open(io.BytesIO(base64.b64decode(shape.get("mask") or "", validate=True))) as im:
            region = np.asarray(im.convert("L")) > 0
    except (OSError, ValueError) as exc:
        problems.append(f"{where}: mask is not a base64 PNG ({exc}); skipped")
        return
    if not points or not region.any():
        problems.append(f"{where}: empty mask; skipped")
        return
    left, top = round(points[0][0]), round(points[0][1])  # as LabelMe places it
    width, height = canvas.size
    if left < 0 or top < 0 or left + region.shape[1] > width or top + region.shape[0] > height:
        problems.append(f"{where}: extends outside the {width}x{height} image; clipped")
    pixels = np.asarray(canvas).copy()
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + region.shape[0], height), min(left + region.shape[1], width)
    if y1 > y0 and x1 > x0:
        window = pixels[y0:y1, x0:x1]
        window[region[y0 - top : y1 - top, x0 - left : x1 - left]] = value
    canvas.paste(Image.fromarray(pixels))
