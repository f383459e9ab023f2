"""Label Studio's JSON export -> class-index masks.

The export (Label Studio's "JSON" export: a list of tasks; a single task object is read too)
holds each task's ``data`` (the image's URL), its ``annotations`` and its ``predictions``.

Which annotation: of a task's annotations, those not cancelled (``was_cancelled``) or skipped
count, and the latest of them is imported: the greatest ``updated_at`` (else ``created_at``), then
the greatest ``id``. A task without one is not labelled yet: a note, not a problem. Predictions
are never imported.

The image: the task's ``data`` value the labelling config's ``<Image value="$KEY">`` names; the
export carries no config, so it is ``data["image"]``, else the one value of ``data`` that looks
like an image path or URL (else the one a region's ``to_name`` names). It is looked up in
``--images`` (required) by file name: ``/data/upload/PROJECT/XXXXXXXX-NAME`` (an upload: as
stored, then ``NAME`` without the 8 hex digits Label Studio prefixes; also the task's
``file_upload``), ``/storage-data/uploaded/?filepath=upload/PROJECT/XXXXXXXX-NAME`` (the same),
``/data/local-files/?d=PATH`` (``PATH`` under ``--images``, else its base name) and
``http(s)://.../NAME`` (or any other URL: its base name). A missing image is a problem.

Sizes: every region's ``original_width`` x ``original_height`` must be the image's size as Label
Studio's editor shows it, that is after its EXIF orientation; another size is a problem, and so is
an ``image_rotation`` other than 0 (the image was rotated in the editor); the task is skipped.
The mask is drawn at that size, then turned back to the image file's stored orientation, which is
how refineseg's datasets read the copied image (the image is copied as it is, never re-encoded).

Regions: ``brushlabels`` (Label Studio's brush RLE, decoded by :func:`refineseg.labelstudio.decode_mask`,
which checks it first: a malformed RLE is a problem, never a crash or a huge allocation) and
``polygonlabels`` (points in percent of the image's size, filled as the LabelMe importer fills a
polygon; a vertex less than a pixel outside the image is clipped quietly, one further out is a
problem, and clipped; an unclosed polygon is a problem). Overlaps: regions are painted in the
order of the annotation's ``result``, later regions on top. Other region types (rectangles,
keypoints, choices, ...) have no mask: left out, with one note per type; an annotation with
regions but none of them brush or polygon, or with mask regions refineseg does not read
(``bitmasklabels``), is a problem. A region with no label, several labels, a label that is not
a class, or a mask or polygon that cannot be read is a problem, and its whole task is left
out: written without that region, the task's mask would call the region's pixels background.

Classes: a ``--classes`` file fixes their names and order; else ``background`` (0), then every
label with pixels in an imported mask, sorted (a label found only in skipped tasks is not a class;
a note names it). Unpainted pixels are the background class (a class named ``background`` or
``_background_``, any case) when there is one, else ignore (255); a region labelled so paints
background.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from PIL import Image, ImageDraw

from ..._errors import one_line
from ...labelstudio import RLEError, decode_mask
from ...labelstudio.config import is_background
from ..datasets import IGNORE_INDEX, IMAGE_SUFFIXES, DatasetError, LabelSpace, default_palette
from ._classes import read_class_file
from ._samples import ImageFinder, Sample, far_out_of_bounds, out_of_bounds
from .coco import clip_polygon

__all__ = ["read_labelstudio"]

Region = dict[str, Any]

BRUSH, POLYGON = "brushlabels", "polygonlabels"
MASK_TYPES = (BRUSH, POLYGON)
# regions that hold a mask refineseg does not read: a task with one is left out, not half imported
UNREAD_MASK_TYPES = ("bitmasklabels", "brush", "polygon", "bitmask", "magicwand")
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes an uploaded file's name so
URL_STARTS = ("/data/", "/storage-data/")
# EXIF orientation -> the transposition that undoes ImageOps.exif_transpose's
UNDO_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
ORIENTATION_TAG = 0x0112
MAX_LISTED = 20  # task ids listed in a note


def read_labelstudio(
    source: Path,
    *,
    images: Path | None,
    classes: Path | None,
    problems: list[str],
    notes: list[str] | None = None,
) -> tuple[LabelSpace, list[Sample]]:
    """The classes and one sample per labelled task of the Label Studio JSON export ``source``.

    Args:
        source: The export, a ``.json`` file (a list of tasks, or one task).
        images: The folder holding the tasks' images (required: the export holds only URLs).
        classes: A class-name file fixing the classes and their order (default: background,
            then the labels used, sorted).
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        ValueError: If ``images`` is missing.
        DatasetError: If the file is unreadable or not a Label Studio JSON export, or the class
            file is unusable.
        MissingExtraError: When the export has brush regions and ``label-studio-sdk`` is missing.
    """
    if images is None:
        raise ValueError(
            "label-studio: give --images DIR, the folder that holds the tasks' images (the export has only their URLs)"
        )
    notes = [] if notes is None else notes
    tasks = _load(source)

    unlabelled: list[str] = []
    with_predictions = 0
    other_types: Counter[str] = Counter()
    found: set[str] = set()
    plans: list[tuple[str, dict[str, Any], list[tuple[int, Region]]]] = []
    for number, task in enumerate(tasks):
        if not isinstance(task, dict):
            problems.append(f"{source}: task [{number}]: not an object; skipped")
            continue
        task_id = str(task.get("id", f"[{number}]"))
        where = f"{source}: task {task_id}"
        if not isinstance(task.get("data"), dict):
            problems.append(f"{where}: no 'data' object (export as Label Studio's 'JSON', not 'JSON-MIN'); skipped")
            continue
        raw = task.get("annotations", [])
        if not isinstance(raw, list):
            problems.append(f"{where}: 'annotations' is not a list; skipped")
            continue
        annotation = _latest(raw)
        if annotation is None:
            unlabelled.append(task_id)
            with_predictions += bool(task.get("predictions"))
            continue
        result = annotation.get("result", [])
        if not isinstance(result, list):
            problems.append(f"{where}: annotation {annotation.get('id')}: 'result' is not a list; skipped")
            continue
        regions: list[tuple[int, Region]] = []
        unusable = ""
        for index, region in enumerate(result):
            if not isinstance(region, dict):
                unusable = f"result[{index}]: not an object"
            elif region.get("type") in MASK_TYPES:
                regions.append((index, region))
            elif region.get("type") in UNREAD_MASK_TYPES:
                unusable = f"result[{index}]: {region.get('type')} regions are not read (label with BrushLabels or PolygonLabels)"
            else:
                other_types[str(region.get("type"))] += 1
        if result and not regions and not unusable:
            kinds = ", ".join(sorted({str(r.get("type")) for r in result if isinstance(r, dict)}))
            unusable = f"annotation {annotation.get('id')} has no brush or polygon region (only {kinds})"
        if unusable:
            # part of a mask, or none at all, would be imported as background: the task is left out
            problems.append(f"{where}: {unusable}; task skipped")
            continue
        for _, region in regions:
            label = _single_label(region)
            if label is not None and not is_background(label):
                found.add(label)
        plans.append((where, task, regions))

    if unlabelled:
        n = len(unlabelled)
        listed = ", ".join(unlabelled[:MAX_LISTED]) + (", ..." if n > MAX_LISTED else "")
        notes.append(
            f"{n} task{_s(n)} without an annotation (not labelled yet, or every annotation cancelled), "
            f"left out: {listed}" + (" (predictions are never imported)" if with_predictions else "")
        )
    for kind, count in sorted(other_types.items()):
        notes.append(f"{count} {kind} region{_s(count)} left out: only {BRUSH} and {POLYGON} regions are painted")
    if any(region.get("type") == BRUSH for _, _, regions in plans for _, region in regions):
        from ..._extras import require

        require("label_studio_sdk.converter.brush", "labelstudio", purpose="importing Label Studio brush masks")

    if classes is not None:
        names, colours = read_class_file(classes)
    else:
        names, colours = ["background", *sorted(found)], None
    label_ids: dict[str, int] = {}
    for index, name in enumerate(names):
        label_ids.setdefault(name, index)
    background = next((index for index, name in enumerate(names) if is_background(name)), None)
    labels = LabelSpace(tuple(names), tuple(colours) if colours else default_palette(len(names)))
    unpainted = IGNORE_INDEX if background is None else background

    finder = ImageFinder(images)
    samples = []
    for where, task, regions in plans:
        ref = _image_ref(task["data"], regions)
        if isinstance(ref, str):  # why there is none
            problems.append(f"{where}: {ref}; skipped")
            continue
        key, url = ref
        names_to_try = _image_names(url) + _upload_names(task.get("file_upload"))
        if not names_to_try:
            problems.append(f"{where}: data[{key!r}] = {url!r} names no image file; skipped")
            continue
        image = next((p for p in map(finder.by_name, names_to_try) if p is not None), None)
        if image is None:
            problems.append(f"{where}: image {names_to_try[-1]!r} ({url}) not found in {images}; skipped")
        else:
            where = f"{where} ({image.name})"
        draw = partial(_draw, where, image, regions, label_ids, background, unpainted, classes, problems)
        samples.append(Sample(source=where, image=image, draw=draw))
    return labels, samples


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _load(source: Path) -> list[Any]:
    """The export's tasks; a file that is no Label Studio JSON export is fatal."""
    if not source.is_file():
        raise DatasetError(f"{source}: no such file (expected a Label Studio JSON export)")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DatasetError(
            f"{source}: not readable as JSON ({one_line(exc)}); expected a Label Studio export"
        ) from None
    tasks = [data] if isinstance(data, dict) else data
    if not isinstance(tasks, list) or (
        tasks and not any(isinstance(t, dict) and isinstance(t.get("data"), dict) for t in tasks)
    ):
        raise DatasetError(
            f"{source}: not a Label Studio JSON export (expected a list of tasks with 'data' and "
            "'annotations'; export as 'JSON', not 'JSON-MIN', CSV or COCO)"
        )
    return tasks


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _latest(annotations: list[Any]) -> dict[str, Any] | None:
    """The annotation that counts: the latest one neither cancelled nor skipped, or None."""
    usable = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled") and not a.get("skipped")]
    earliest = datetime.min.replace(tzinfo=UTC)

    def recency(annotation: dict[str, Any]) -> tuple[datetime, int]:
        stamp = _time(annotation.get("updated_at")) or _time(annotation.get("created_at")) or earliest
        ident = annotation.get("id")
        return stamp, ident if isinstance(ident, int) and not isinstance(ident, bool) else -1

    return max(usable, key=recency, default=None)


def _single_label(region: Region) -> str | None:
    value = region.get("value")
    found = value.get(region.get("type")) if isinstance(value, dict) else None
    if isinstance(found, list) and len(found) == 1 and isinstance(found[0], str):
        return found[0]
    return None


def _looks_like_image(value: str) -> bool:
    text = value.strip()
    if text.startswith(URL_STARTS) or "://" in text[:16]:
        return True
    return PurePosixPath(urlsplit(text).path).suffix.lower() in IMAGE_SUFFIXES


def _image_ref(data: dict[str, Any], regions: list[tuple[int, Region]]) -> tuple[str, str] | str:
    """``(key, url)`` of the task's image, or why there is none."""
    if isinstance(data.get("image"), str) and data["image"].strip():
        return "image", data["image"].strip()
    candidates = {k: v.strip() for k, v in data.items() if isinstance(v, str) and _looks_like_image(v)}
    if len(candidates) == 1:
        return next(iter(candidates.items()))
    if not candidates:
        return f"no image URL in data (keys {', '.join(map(str, data)) or 'none'})"
    targets = {region.get("to_name") for _, region in regions} & set(candidates)
    if len(targets) == 1:
        key = str(targets.pop())
        return key, candidates[key]
    return f"data has several image URLs ({', '.join(candidates)}) and no region says which it is on"


def _safe_relative(path: str) -> str:
    """``path`` as a name under ``--images``: its base name when it is absolute or climbs out."""
    parts = PurePosixPath(path.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or ":" in path:
        return parts.name
    return str(parts)


def _upload_names(name: Any) -> list[str]:
    """An uploaded file's stored name, then its name without the prefix Label Studio adds."""
    if not isinstance(name, str) or not name.strip():
        return []
    base = PurePosixPath(name.strip().replace("\\", "/")).name
    stripped = UPLOAD_PREFIX.sub("", base)
    return [n for n in dict.fromkeys((base, stripped)) if n]


def _image_names(url: str) -> list[str]:
    """The names to look for in ``--images``, best first."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    path = unquote(parts.path)
    if parts.scheme == "data":
        return []  # an image embedded in the task: not supported
    if path.startswith("/data/local-files") and query.get("d"):
        relative = _safe_relative(query["d"][0])
        return list(dict.fromkeys((relative, PurePosixPath(relative).name)))
    if path.startswith("/storage-data/uploaded") and query.get("filepath"):
        return _upload_names(query["filepath"][0])
    if path.startswith("/data/upload/"):
        return _upload_names(path)
    if parts.scheme or parts.netloc or path.startswith("/"):
        name = PurePosixPath(path).name
        return [name] if name else []
    relative = _safe_relative(path)
    return [relative] if relative else []


def _shown_size(image: Path, width: int, height: int) -> tuple[int, int, Image.Transpose | None]:
    """The image's size as Label Studio shows it (after its EXIF orientation), and the
    transposition that brings a mask of that size back to the file's stored orientation."""
    try:
        with Image.open(image) as im:
            orientation = im.getexif().get(ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError):
        orientation = 1
    undo = UNDO_ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    if orientation in (5, 6, 7, 8):
        return height, width, undo
    return width, height, undo


def _region_where(where: str, index: int, region: Region) -> str:
    ident = region.get("id")
    name = f"region {ident}" if isinstance(ident, (str, int)) and not isinstance(ident, bool) else f"result[{index}]"
    return f"{where}: {name} ({region.get('type')})"


def _draw(
    where: str,
    image: Path | None,
    regions: list[tuple[int, Region]],
    label_ids: dict[str, int],
    background: int | None,
    unpainted: int,
    classes: Path | None,
    problems: list[str],
    width: int,
    height: int,
) -> np.ndarray | None:
    """Paint the regions in result order (later on top) at the size Label Studio showed, checked
    against each region's; None (with a problem) when the annotation was made for another size."""
    if image is None:  # the reader has reported it; the writer never draws such a sample
        return None
    shown_w, shown_h, undo = _shown_size(image, width, height)
    for index, region in regions:
        size = (region.get("original_width"), region.get("original_height"))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in size) and size != (shown_w, shown_h):
            oriented = " (after its EXIF orientation)" if undo is not None else ""
            problems.append(
                f"{_region_where(where, index, region)}: annotated for {size[0]}x{size[1]} but the image is "
                f"{shown_w}x{shown_h}{oriented}; task skipped"
            )
            return None
        rotation = region.get("image_rotation", 0)
        if rotation not in (0, None):
            problems.append(
                f"{_region_where(where, index, region)}: image_rotation {rotation!r} (the image was rotated in "
                "Label Studio's editor); only unrotated annotations are imported; task skipped"
            )
            return None
    mask: np.ndarray = np.full((shown_h, shown_w), unpainted, dtype=np.uint8)
    # a region that cannot be painted skips its whole task: the mask would call its pixels background
    for index, region in regions:
        at = _region_where(where, index, region)
        value = region.get("value")
        if not isinstance(value, dict):
            problems.append(f"{at}: no 'value' object; task skipped")
            return None
        class_id = _class_of(at, region, value, label_ids, background, classes, problems)
        if class_id is None:
            return None
        if region["type"] == BRUSH:
            painted = _brush(at, value, shown_w, shown_h, problems)
        else:
            painted = _polygon(at, value, shown_w, shown_h, problems)
        if painted is None:
            return None
        mask[painted] = class_id
    if undo is not None:
        mask = np.asarray(Image.fromarray(mask).transpose(undo), dtype=np.uint8).copy()
    return mask


def _class_of(
    at: str,
    region: Region,
    value: dict[str, Any],
    label_ids: dict[str, int],
    background: int | None,
    classes: Path | None,
    problems: list[str],
) -> int | None:
    labels = value.get(region["type"])
    if not isinstance(labels, list) or not labels:
        problems.append(f"{at}: no label; task skipped")
        return None
    if len(labels) > 1:
        problems.append(f"{at}: {len(labels)} labels {labels!r}, a pixel has one class; task skipped")
        return None
    label = labels[0]
    if not isinstance(label, str):
        problems.append(f"{at}: label {label!r} is not a string; task skipped")
        return None
    if label in label_ids:
        return label_ids[label]
    if is_background(label) and background is not None:
        return background
    problems.append(f"{at}: label {label!r} not in {classes if classes is not None else 'the classes'}; task skipped")
    return None


def _brush(at: str, value: dict[str, Any], width: int, height: int, problems: list[str]) -> np.ndarray | None:
    fmt = value.get("format", "rle")
    if fmt != "rle":
        problems.append(f"{at}: brush format {fmt!r}, only 'rle' is read; task skipped")
        return None
    try:
        return decode_mask(value.get("rle"), width, height, max_pixels=width * height)
    except RLEError as exc:
        problems.append(f"{at}: malformed brush RLE: {one_line(exc)}; task skipped")
        return None


def _polygon(at: str, value: dict[str, Any], width: int, height: int, problems: list[str]) -> np.ndarray | None:
    if value.get("closed") is False:
        problems.append(f"{at}: the polygon is not closed (unfinished in the editor); task skipped")
        return None
    raw = value.get("points")
    if not isinstance(raw, list) or not all(
        isinstance(p, (list, tuple))
        and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        for p in raw
    ):
        problems.append(f"{at}: points are not a list of [x, y] numbers; task skipped")
        return None
    # percent -> pixels as Label Studio's converters do; rounded to a millionth of a pixel, so that a
    # vertex on a pixel's corner stays there (8 / 12 * 100 / 100 * 12 is 7.999999999999998)
    points = [(round(float(x) / 100.0 * width, 6), round(float(y) / 100.0 * height, 6)) for x, y in raw]
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    if len(points) < 3 or float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) == 0:
        problems.append(f"{at}: empty or degenerate polygon (needs 3+ points, non-zero area); task skipped")
        return None
    if out_of_bounds(xs, ys, width, height):
        if far_out_of_bounds(xs, ys, width, height):  # less than a pixel over the border is clipped quietly
            problems.append(f"{at}: extends outside the {width}x{height} image; clipped")
        points = clip_polygon(points, width, height)
        if len(points) < 3:
            return None
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)
