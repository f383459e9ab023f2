"""CVAT "CVAT for images 1.1" exports (``annotations.xml``) -> class-index masks.

CVAT's default export: ``annotations.xml`` beside ``images/`` (a project export puts each subset's
images in ``images/SUBSET/``). The labels come from ``<meta>`` (``<task>``, ``<project>`` or
``<job>``, then ``<labels>``), in their order, with ``background`` as class 0 (a label of that
name is class 0 and gives it its colour, else black); class colours are the labels' ``<color>``.
Each ``<image>`` holds its shapes:

* ``<polygon points="x,y;x,y;...">``, ``<box xtl ytl xbr ybr [rotation]>`` and
  ``<ellipse cx cy rx ry [rotation]>`` are filled as polygons by pycocotools, as CVAT's own
  "Segmentation mask" export does (through Datumaro); a rotation is in degrees about the centre.
* ``<mask rle left top width height>``: CVAT's run-length encoding of the ``width`` x
  ``height`` box at (``left``, ``top``): comma-separated run lengths over the box's pixels row by
  row, alternating off and on, starting with off (the first run may be 0).
* ``<polyline>``, ``<points>``, ``<skeleton>``, ``<cuboid>`` and ``<tag>`` have no area: left out,
  with one note per import.

Overlaps: shapes are painted by increasing ``z_order`` (in file order where equal), so the one
CVAT draws on top is on top. A ``<track>`` (a "CVAT for video 1.1" export), unreadable XML or
no labels are fatal: nothing is written.

The standard library's parser reads the file (Expat 2.4.1 and later, which Python bundles, refuse
the entity-expansion attacks; external entities are never fetched), so no XML dependency is added.
"""

from __future__ import annotations

import math
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import DatasetError, LabelSpace, default_palette
from ..labels import Colour
from ._samples import ImageFinder, Sample, far_out_of_bounds, out_of_bounds
from .coco import clip_polygon, mask_api

__all__ = ["read_cvat_xml"]

AREA = ("polygon", "box", "ellipse", "mask")
NO_AREA = ("polyline", "points", "skeleton", "cuboid", "tag")
BACKGROUND = "background"
COLOUR = re.compile(r"#([0-9a-fA-F]{6})")


@dataclass
class _Shape:
    number: int  # its place among the image's elements, for problem lines
    kind: str
    label: str
    z_order: int
    attrib: dict[str, str]


@dataclass
class _Image:
    number: int
    name: str
    subset: str | None
    size: tuple[int, int] | None
    shapes: list[_Shape] = field(default_factory=list)
    elements: int = 0


def read_cvat_xml(
    path: Path, *, images: Path | None, problems: list[str], notes: list[str]
) -> tuple[LabelSpace, list[Sample]]:
    """The labels of ``<meta>`` and one sample per ``<image>`` of a "CVAT for images 1.1" file.

    Args:
        path: The ``annotations.xml`` file.
        images: The image folder (default: ``images/`` beside ``path``).
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        ValueError: If no image folder is found.
        ImportError: Without pycocotools (the ``[annotations]`` extra).
        DatasetError: If the file is unreadable XML, not a CVAT for images file, or declares no labels.
    """
    if images is None:
        if not (path.parent / "images").is_dir():
            raise ValueError(f"cvat: no images/ beside {path}; give --images DIR")
        images = path.parent / "images"
    api = mask_api("importing CVAT annotations")
    names, colours, entries, skipped = _parse(path)
    if skipped:
        counts = [f"{n} {kind}" for kind, n in skipped.items()]
        listed = counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} and {counts[-1]}"
        total = sum(skipped.values())
        notes.append(
            f"{path}: {listed} element{'' if total == 1 else 's'} {'has' if total == 1 else 'have'} no area; left out"
        )
    ids = {name: index for index, name in enumerate(names)}
    labels = LabelSpace(tuple(names), tuple(colours))

    finder = ImageFinder(images)
    samples = []
    for entry in entries:
        where = f"{path}: image {entry.number} ({entry.name})"
        image = _find(images, finder, entry)
        if image is None:
            problems.append(f"{where}: image not found in {images}; skipped")
        draw = partial(_draw, where, entry.shapes, ids, api, problems)
        samples.append(Sample(source=where, image=image, draw=draw, size=entry.size))
    return labels, samples


def _find(images: Path, finder: ImageFinder, entry: _Image) -> Path | None:
    if entry.subset:
        candidate = images / entry.subset / entry.name
        if candidate.is_file():
            return candidate
    return finder.by_name(entry.name)


def _parse(path: Path) -> tuple[list[str], list[Colour], list[_Image], Counter[str]]:
    """Stream the file: the classes and their colours, the images with their shapes, and how many
    shapes without area there were, by kind."""
    entries: list[_Image] = []
    skipped: Counter[str] = Counter()
    meta: ET.Element | None = None
    current: _Image | None = None
    depth = 0  # element depth, to tell an image's own shapes from a skeleton's parts
    try:
        context = ET.iterparse(path, events=("start", "end"))
        for event, el in context:
            if event == "start":
                depth += 1
                if depth == 1 and el.tag != "annotations":
                    raise DatasetError(f"{path}: not a CVAT XML file (its root is <{el.tag}>, not <annotations>)")
                if el.tag == "track":
                    raise DatasetError(
                        f"{path}: holds <track> elements, a 'CVAT for video 1.1' export; export the task as "
                        "'CVAT for images 1.1'"
                    )
                if depth == 2 and el.tag == "image":
                    current = _image(path, el, len(entries))
                continue
            depth -= 1
            if depth == 1 and el.tag == "meta":
                meta = el  # kept whole: small
                continue
            if current is not None and depth == 2:
                number = current.elements
                current.elements += 1
                label = el.get("label", "")
                if el.tag in NO_AREA:
                    skipped[el.tag] += 1
                elif el.tag in AREA:
                    current.shapes.append(_Shape(number, el.tag, label, _int(el.get("z_order")), dict(el.attrib)))
                else:
                    current.shapes.append(_Shape(number, el.tag, label, 0, {}))  # reported when drawn
            if depth == 1 and el.tag == "image":
                if current is not None:
                    entries.append(current)
                current = None
            if depth <= 1:
                el.clear()  # a large export is streamed, not held as a tree
    except ET.ParseError as exc:
        raise DatasetError(f"{path}: not readable as XML ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: not readable ({exc})") from None
    names, colours = _labels(path, meta)
    return names, colours, entries, skipped


def _image(path: Path, el: ET.Element, number: int) -> _Image:
    name = el.get("name")
    if not name:
        raise DatasetError(f"{path}: <image> number {number} has no name")
    width, height = el.get("width"), el.get("height")
    size = (int(width), int(height)) if width and height and width.isdigit() and height.isdigit() else None
    return _Image(_int(el.get("id"), number), name, el.get("subset") or None, size)


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _labels(path: Path, meta: ET.Element | None) -> tuple[list[str], list[Colour]]:
    """``background`` then the labels of ``<meta>`` in order (skeleton points, which have a
    ``<parent>``, are not labels of their own), with their colours."""
    found: list[tuple[str, Colour | None]] = []
    if meta is not None:
        for owner in ("task", "project", "job"):
            elements = meta.findall(f"./{owner}/labels/label")
            if elements:
                break
        else:
            elements = []
        for label in elements:
            name = (label.findtext("name") or "").strip()
            if not name or (label.findtext("parent") or "").strip():
                continue
            match = COLOUR.fullmatch((label.findtext("color") or "").strip())
            colour = tuple(int(match.group(1)[i : i + 2], 16) for i in (0, 2, 4)) if match else None
            found.append((name, colour))  # type: ignore[arg-type]
    if not found:
        raise DatasetError(f"{path}: no labels in <meta> (expected <meta><task|project><labels><label><name>)")
    names = [name for name, _ in found]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise DatasetError(f"{path}: label {duplicate!r} is declared twice")
    background = [colour for name, colour in found if name == BACKGROUND][:1]
    found = [(BACKGROUND, background[0] if background and background[0] else (0, 0, 0))] + [
        entry for entry in found if entry[0] != BACKGROUND
    ]
    fallback = default_palette(len(found))
    return [name for name, _ in found], [colour or fallback[i] for i, (_, colour) in enumerate(found)]


def _draw(
    where: str,
    shapes: list[_Shape],
    ids: dict[str, int],
    api: Any,
    problems: list[str],
    width: int,
    height: int,
) -> np.ndarray:
    """Paint the shapes by increasing z_order (file order where equal), each clipped to the image."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for shape in sorted(shapes, key=lambda s: (s.z_order, s.number)):
        what = f"{where}: {shape.kind} {shape.number} ({shape.label!r})"
        if shape.kind not in AREA:
            problems.append(f"{what}: unknown element <{shape.kind}>; skipped")
            continue
        value = ids.get(shape.label)
        if value is None:
            problems.append(f"{what}: label not in the task's labels; skipped")
            continue
        try:
            region = _region(shape, width, height, what, api, problems)
        except (KeyError, ValueError) as exc:
            problems.append(f"{what}: malformed ({exc}); skipped")
            continue
        if region is not None:
            mask[region] = value
    return mask


def _region(shape: _Shape, width: int, height: int, what: str, api: Any, problems: list[str]) -> np.ndarray | None:
    """The shape's pixels as an HxW bool array, or None (with a problem) when it has none."""
    if shape.kind == "mask":
        return _mask(shape.attrib, width, height, what, problems)
    points = _outline(shape)
    if len(points) < 3 or not all(math.isfinite(v) for p in points for v in p):
        problems.append(f"{what}: fewer than 3 points; skipped")
        return None
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    if float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) == 0:
        problems.append(f"{what}: encloses no area; skipped")
        return None
    if out_of_bounds(xs.tolist(), ys.tolist(), width, height):
        if far_out_of_bounds(xs.tolist(), ys.tolist(), width, height):  # less than a pixel over: quietly
            problems.append(f"{what}: extends outside the {width}x{height} image; clipped")
        points = clip_polygon(points, width, height)
        if len(points) < 3:
            return None
    rle = api.frPyObjects([[float(v) for p in points for v in p]], height, width)[0]
    with warnings.catch_warnings():
        # pycocotools' decoder predates NumPy 2's copy= keyword; NumPy warns, the result is right
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        return np.asarray(api.decode(rle), dtype=bool)


def _outline(shape: _Shape) -> list[tuple[float, float]]:
    """A polygon, box or ellipse as polygon vertices (a rotation turns them about the centre)."""
    a = shape.attrib
    if shape.kind == "polygon":
        pairs = [pair.split(",") for pair in a["points"].split(";") if pair.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"points={a['points']!r} are not 'x,y;x,y;...'")
        return [(float(x), float(y)) for x, y in pairs]
    if shape.kind == "box":
        x0, y0, x1, y1 = (float(a[k]) for k in ("xtl", "ytl", "xbr", "ybr"))
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return _rotate(corners, float(a.get("rotation", 0)), ((x0 + x1) / 2, (y0 + y1) / 2))
    cx, cy, rx, ry = (float(a[k]) for k in ("cx", "cy", "rx", "ry"))
    n = min(max(16, math.ceil(2 * math.pi * max(abs(rx), abs(ry)))), 720)  # about a vertex per pixel of rim
    rim = [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]
    return _rotate(rim, float(a.get("rotation", 0)), (cx, cy))


def _rotate(
    points: list[tuple[float, float]], degrees: float, centre: tuple[float, float]
) -> list[tuple[float, float]]:
    """``points`` turned by ``degrees`` about ``centre`` (clockwise on screen, y pointing down), as CVAT."""
    if not degrees:
        return points
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = centre
    return [(cx + cos * (x - cx) - sin * (y - cy), cy + sin * (x - cx) + cos * (y - cy)) for x, y in points]


def _mask(attrib: dict[str, str], width: int, height: int, what: str, problems: list[str]) -> np.ndarray | None:
    """A ``<mask>``: CVAT's run lengths over its box, row by row, off first; placed and clipped."""
    left, top, box_w, box_h = (int(attrib[k]) for k in ("left", "top", "width", "height"))
    if box_w < 1 or box_h < 1:
        problems.append(f"{what}: an empty {box_w}x{box_h} box; skipped")
        return None
    runs = [int(v) for v in attrib["rle"].split(",") if v.strip()]
    if any(r < 0 for r in runs):
        problems.append(f"{what}: negative run lengths in rle; skipped")
        return None
    if sum(runs) != box_w * box_h:
        problems.append(f"{what}: rle covers {sum(runs)} pixels, not its {box_w}x{box_h} box; skipped")
        return None
    on = np.repeat(np.arange(len(runs)) % 2 == 1, runs).reshape(box_h, box_w)
    if left < 0 or top < 0 or left + box_w > width or top + box_h > height:
        problems.append(f"{what}: extends outside the {width}x{height} image; clipped")
    region = np.zeros((height, width), dtype=bool)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + box_h, height), min(left + box_w, width)
    if y1 > y0 and x1 > x0:
        region[y0:y1, x0:x1] = on[y0 - top : y1 - top, x0 - left : x1 - left]
    if not region.any():
        problems.append(f"{what}: no pixel inside the image; skipped")
        return None
    return region
