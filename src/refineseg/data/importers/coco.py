"""COCO instances JSON -> class-index masks.

Categories become classes 1..N in the order of their category id (0 is ``background``); a category
named ``_background_`` (labelme2coco writes LabelMe's ``labels.txt`` so, as id 0) or ``background``
is class 0, its annotations painted as background.
Segmentations may be polygons, uncompressed RLE or compressed RLE; pycocotools rasterises them,
after polygons are clipped to the image and every RLE is checked to cover exactly the image
(pycocotools' C decoder does not bound-check, so a bad RLE must never reach it).

Overlaps: an image's annotations are painted in decreasing area (pixels of the decoded region;
ties in file order), so a smaller object in front of a larger one stays visible; ``iscrowd``
regions are painted last, as ignore (255), whatever their category.
"""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import IGNORE_INDEX, DatasetError, LabelSpace, default_palette
from ._samples import ImageFinder, Sample, far_out_of_bounds, out_of_bounds

__all__ = ["clip_polygon", "mask_api", "read_coco"]

Annotation = dict[str, Any]

BACKGROUND_NAMES = ("background", "_background_")  # categories that are class 0 (labelme2coco writes the latter)


def mask_api(purpose: str = "importing COCO annotations") -> Any:
    """``pycocotools.mask``, or an ImportError that says how to install it.

    Args:
        purpose: What needs it, for the message.

    Returns:
        The module.
    """
    from ..._extras import require

    return require("pycocotools.mask", "annotations", purpose=purpose, name="pycocotools")


def read_coco(
    source: Path,
    *,
    images: Path | None,
    classes: Path | None,
    problems: list[str],
    notes: list[str] | None = None,
) -> tuple[LabelSpace, list[Sample]]:
    """The classes and one sample per image entry of the COCO instances file ``source``.

    Args:
        source: The COCO instances JSON file.
        images: The folder holding the images' ``file_name`` (required).
        classes: Must be ``None``: the categories name the classes (background is class 0).
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        ValueError: If ``images`` is missing or ``classes`` is given.
        ImportError: Without pycocotools (the ``[annotations]`` extra).
        DatasetError: If the file is missing, unreadable or has malformed categories.
    """
    if classes is not None:
        raise ValueError("coco: the categories name the classes; --classes is for labelme and voc")
    if images is None:
        raise ValueError("coco: give --images DIR, the folder that holds the images' file_name")
    api = mask_api()
    data = _load(source)
    categories = _categories(source, data["categories"])
    # labelme2coco writes labels.txt's "_background_" as a category: it is class 0, not a class of its own
    cat_to_class = {cat_id: 0 for cat_id, name in categories if name in BACKGROUND_NAMES}
    kept = [(cat_id, name) for cat_id, name in categories if cat_id not in cat_to_class]
    cat_to_class.update({cat_id: index for index, (cat_id, _) in enumerate(kept, start=1)})
    names = ("background", *(name for _, name in kept))
    labels = LabelSpace(names, default_palette(len(names)))

    entries: dict[int, dict[str, Any]] = {}
    for number, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not _is_str(entry.get("file_name")):
            problems.append(f"{source}: images[{number}] needs an integer 'id' and a 'file_name'; skipped")
        elif entry["id"] in entries:
            problems.append(f"{source}: images[{number}] repeats image id {entry['id']}; skipped")
        else:
            entries[entry["id"]] = entry

    by_image: dict[int, list[tuple[str, Annotation]]] = {image_id: [] for image_id in entries}
    for number, ann in enumerate(data["annotations"]):
        ann_id = ann.get("id", f"[{number}]") if isinstance(ann, dict) else f"[{number}]"
        where = f"{source}: annotation {ann_id}"
        if not isinstance(ann, dict):
            problems.append(f"{where}: not an object; skipped")
            continue
        image_id = ann.get("image_id")
        if image_id not in entries:
            problems.append(f"{where}: unknown image id {image_id!r}; skipped")
            continue
        where += f" (image {entries[image_id]['file_name']})"
        if ann.get("category_id") not in cat_to_class:
            problems.append(f"{where}: unknown category id {ann.get('category_id')!r}; skipped")
        elif not ann.get("segmentation"):
            problems.append(f"{where}: no segmentation; skipped")
        else:
            by_image[image_id].append((where, ann))

    finder = ImageFinder(images)
    samples = []
    for image_id, entry in entries.items():
        file_name = entry["file_name"]
        where = f"{source}: image {image_id} ({file_name})"
        path = finder.by_name(file_name)
        if path is None:
            problems.append(f"{where}: image not found in {images}; skipped")
        size = (entry["width"], entry["height"]) if _is_size(entry.get("width"), entry.get("height")) else None
        draw = partial(_draw, by_image[image_id], cat_to_class, api, problems)
        samples.append(Sample(source=where, image=path, draw=draw, size=size))
    return labels, samples


def _is_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_size(width: object, height: object) -> bool:
    return isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0


def _load(source: Path) -> dict[str, Any]:
    if not source.is_file():
        raise DatasetError(f"{source}: no such file (expected a COCO instances JSON file)")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{source}: not readable as JSON ({exc}); expected a COCO instances file") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise DatasetError(
            f"{source}: not a COCO instances file (expected lists 'images', 'annotations', 'categories')"
        )
    return data


def _categories(source: Path, raw: list[Any]) -> list[tuple[int, str]]:
    """(id, name) of every category, sorted by id; a malformed or repeated one is fatal: it defines the classes."""
    found: dict[int, str] = {}
    for number, cat in enumerate(raw):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int) or not _is_str(cat.get("name")):
            raise DatasetError(f"{source}: categories[{number}] needs an integer 'id' and a 'name'")
        if cat["id"] in found:
            raise DatasetError(f"{source}: category id {cat['id']} appears twice")
        found[cat["id"]] = cat["name"]
    if not found:
        raise DatasetError(f"{source}: no categories")
    return sorted(found.items())


def _draw(
    annotations: list[tuple[str, Annotation]],
    cat_to_class: dict[int, int],
    mask_api: Any,
    problems: list[str],
    width: int,
    height: int,
) -> np.ndarray:
    """The image's mask: objects by decreasing area (small ones on top), then crowds as ignore."""
    objects: list[tuple[int, int, int, Any]] = []  # (-area, file order, class, rle)
    crowds: list[Any] = []
    for order, (where, ann) in enumerate(annotations):
        rle = _to_rle(ann["segmentation"], width, height, where, mask_api, problems)
        if rle is None:
            continue
        if ann.get("iscrowd"):
            crowds.append(rle)
        else:
            objects.append((-int(mask_api.area(rle)), order, cat_to_class[ann["category_id"]], rle))
    mask = np.zeros((height, width), dtype=np.uint8)
    with warnings.catch_warnings():
        # pycocotools' decoder predates NumPy 2's copy= keyword; NumPy warns, the result is right
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        for _, _, index, rle in sorted(objects, key=lambda o: (o[0], o[1])):
            mask[mask_api.decode(rle).astype(bool)] = index
        for rle in crowds:
            mask[mask_api.decode(rle).astype(bool)] = IGNORE_INDEX
    return mask


def _to_rle(segmentation: Any, width: int, height: int, where: str, mask_api: Any, problems: list[str]) -> Any:
    """A checked compressed RLE of a polygon list or an (un)compressed RLE, or None (with a problem)."""
    if isinstance(segmentation, list):
        polygons = []
        for number, poly in enumerate(segmentation):
            if not _polygon_ok(poly):
                problems.append(
                    f"{where}: polygon {number} is empty or degenerate (needs 3+ points, non-zero area); skipped"
                )
                continue
            xs, ys = poly[0::2], poly[1::2]
            if out_of_bounds(xs, ys, width, height):
                if far_out_of_bounds(xs, ys, width, height):  # less than a pixel over is clipped quietly
                    problems.append(f"{where}: polygon {number} extends outside the {width}x{height} image; clipped")
                clipped = clip_polygon(list(zip(xs, ys, strict=True)), width, height)
                if len(clipped) < 3:
                    continue
                poly = [float(v) for point in clipped for v in point]
            polygons.append([float(v) for v in poly])
        if not polygons:
            return None
        return mask_api.merge(mask_api.frPyObjects(polygons, height, width))
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        size = segmentation["size"]
        if size != [height, width]:
            problems.append(f"{where}: RLE size {size} is not the image's [height, width] [{height}, {width}]; skipped")
            return None
        counts = segmentation["counts"]
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
                problems.append(f"{where}: uncompressed RLE counts do not cover the {width}x{height} image; skipped")
                return None
            return mask_api.frPyObjects(segmentation, height, width)
        if isinstance(counts, (str, bytes)):
            text = counts.decode("ascii", "replace") if isinstance(counts, bytes) else counts
            decoded = _rle_string_counts(text)
            if decoded is None or min(decoded, default=0) < 0 or sum(decoded) != height * width:
                problems.append(f"{where}: compressed RLE does not decode to the {width}x{height} image; skipped")
                return None
            return {"size": [height, width], "counts": text.encode("ascii")}
    problems.append(f"{where}: segmentation is neither polygons nor an RLE; skipped")
    return None


def _polygon_ok(poly: Any) -> bool:
    if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
        return False
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in poly):
        return False
    xs, ys = np.asarray(poly[0::2], dtype=float), np.asarray(poly[1::2], dtype=float)
    return abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))) > 0


def clip_polygon(points: list[tuple[float, float]], width: int, height: int) -> list[tuple[float, float]]:
    """The polygon cut to the image rectangle (Sutherland-Hodgman: exact for a convex clip region).

    Args:
        points: The polygon's vertices ``(x, y)``.
        width: Image width.
        height: Image height.

    Returns:
        The vertices of the part inside ``[0, width] x [0, height]`` (fewer than 3 when none is).
    """
    edges = (
        (lambda p: p[0] >= 0, lambda a, b: _cross_x(a, b, 0.0)),
        (lambda p: p[0] <= width, lambda a, b: _cross_x(a, b, float(width))),
        (lambda p: p[1] >= 0, lambda a, b: _cross_y(a, b, 0.0)),
        (lambda p: p[1] <= height, lambda a, b: _cross_y(a, b, float(height))),
    )
    for inside, cross in edges:
        result: list[tuple[float, float]] = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current):
                if not inside(previous):
                    result.append(cross(previous, current))
                result.append(current)
            elif inside(previous):
                result.append(cross(previous, current))
        points = result
        if not points:
            break
    return points


def _cross_x(a: tuple[float, float], b: tuple[float, float], x: float) -> tuple[float, float]:
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _cross_y(a: tuple[float, float], b: tuple[float, float], y: float) -> tuple[float, float]:
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y


def _rle_string_counts(text: str) -> list[int] | None:
    """The run lengths of a COCO compressed RLE string (pycocotools' rleFrString), or None if malformed."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x = k = 0
        more = True
        while more:
            if p >= len(text):
                return None
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                return None
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
