"""Label Studio labelling configs: the one refineseg suggests for a model, and reading a project's.

A project's labelling config is XML: an ``<Image name="image" value="$image"/>`` tag names the
task field that holds the image, a ``<BrushLabels name="tag" toName="image">`` tag (and
optionally a ``<PolygonLabels>`` one) lists the classes as ``<Label value="road" .../>``.
refineseg matches a model's classes to those labels by their ``value``, exactly (an ``alias``
is only what the editor shows). The config comes over the network from Label Studio, so it is
parsed with the standard library's expat parser, which expands no external entities and
refuses entity-expansion bombs.

Classes named ``background`` (any case; also LabelMe's ``_background_``) are left out of the
suggested config and need not be in a project's: in Label Studio's semantic segmentation,
background is what nobody painted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

__all__ = [
    "BACKGROUND_NAMES",
    "LabelConfig",
    "LabelConfigError",
    "is_background",
    "label_config",
    "match_classes",
    "parse_config",
]

BACKGROUND_NAMES = ("background", "_background_")
BRUSH_TAG = "BrushLabels"
POLYGON_TAG = "PolygonLabels"


class LabelConfigError(ValueError):
    """A labelling config refineseg cannot predict for; the message is one line."""


@dataclass(frozen=True)
class LabelConfig:
    """What refineseg needs of a project's labelling config.

    Attributes:
        image_name: The ``<Image>`` tag's ``name`` (a region's ``to_name``).
        image_key: The task ``data`` field holding the image (its ``value`` without ``$``).
        brush_name: The ``<BrushLabels>`` tag's ``name`` (a region's ``from_name``), or ``None``.
        brush_labels: Its labels' values, in order.
        polygon_name: The ``<PolygonLabels>`` tag's ``name``, or ``None``.
        polygon_labels: Its labels' values, in order.
    """

    image_name: str
    image_key: str
    brush_name: str | None = None
    brush_labels: tuple[str, ...] = ()
    polygon_name: str | None = None
    polygon_labels: tuple[str, ...] = ()


def is_background(name: str) -> bool:
    """Whether a class name means "nothing painted" (see the module's note).

    Args:
        name: A class name.

    Returns:
        True for ``background`` (any case) and ``_background_``.
    """
    return name.strip().lower() in BACKGROUND_NAMES


def _hex(colour: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in colour[:3])


def _labels_xml(tag: str, name: str, names: Sequence[str], colours: Sequence[Sequence[int]]) -> list[str]:
    lines = [f'  <{tag} name={quoteattr(name)} toName="image">']
    for class_name, colour in zip(names, colours, strict=True):
        if not is_background(class_name):
            lines.append(f"    <Label value={quoteattr(class_name)} background={quoteattr(_hex(colour))}/>")
    lines.append(f"  </{tag}>")
    return lines


def label_config(class_names: Sequence[str], palette: Sequence[Sequence[int]], *, polygons: bool = False) -> str:
    """The labelling config to paste into a Label Studio project for a model with these classes.

    Label Studio's "Semantic Segmentation with Masks" template with the model's class names and
    colours (background classes left out), and with ``polygons`` a ``<PolygonLabels>`` tag of
    the same classes.

    Args:
        class_names: The model's class names, in class-index order.
        palette: One RGB colour per class.
        polygons: Whether to add the polygon tag.

    Returns:
        The XML.

    Raises:
        ValueError: The names and colours differ in number, or no class is left.
    """
    if len(class_names) != len(palette):
        raise ValueError(f"{len(class_names)} class names but {len(palette)} colours")
    if all(is_background(n) for n in class_names):
        raise ValueError("the model has no class besides background to label")
    lines = ["<View>", '  <Image name="image" value="$image" zoom="true"/>']
    lines += _labels_xml(BRUSH_TAG, "tag", class_names, palette)
    if polygons:
        lines += _labels_xml(POLYGON_TAG, "poly", class_names, palette)
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def parse_config(xml: str) -> LabelConfig:
    """Read the image field and the brush and polygon labels of a project's labelling config.

    Args:
        xml: The config (``label_config`` of the project, or of a ``/predict`` request).

    Returns:
        The parts refineseg uses.

    Raises:
        LabelConfigError: The XML is malformed, has no ``<Image>`` tag with a ``$`` value, or
            has neither a ``<BrushLabels>`` nor a ``<PolygonLabels>`` tag on that image.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LabelConfigError(f"the labelling config is not valid XML: {exc}") from exc
    # Label Studio reads tag names in any case (<image>, <brushlabels>)
    elements = [(e.tag.lower() if isinstance(e.tag, str) else "", e) for e in root.iter()]
    images = {
        e.get("name", ""): e
        for t, e in elements
        if t == "image" and e.get("name") and (e.get("value") or "").startswith("$")
    }
    if not images:
        raise LabelConfigError('the labelling config has no <Image name="..." value="$..."> tag')
    # the first brush and polygon tags that label an image; they must label the same one
    found: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for wanted in (BRUSH_TAG, POLYGON_TAG):
        for tag, element in elements:
            if tag == wanted.lower() and element.get("name") and element.get("toName") in images:
                labels = tuple(label.get("value", "") for label in element.iter() if str(label.tag).lower() == "label")
                found[wanted] = (element.get("toName", ""), element.get("name", ""), tuple(v for v in labels if v))
                break
    if not found:
        if any(tag == "bitmasklabels" for tag, _ in elements):
            raise LabelConfigError(
                "the labelling config labels with <BitmaskLabels>, which refineseg does not write; use <BrushLabels> "
                "(`refineseg label-studio config` prints a config that fits)"
            )
        raise LabelConfigError(
            f"the labelling config has no <BrushLabels> or <PolygonLabels> tag on an image ({', '.join(images)})"
        )
    targets = {image for image, _, _ in found.values()}
    if len(targets) > 1:
        raise LabelConfigError(
            f"the config's brush and polygon tags label different images ({', '.join(sorted(targets))})"
        )
    image_name = targets.pop()
    image = images[image_name]
    found_names = {tag: (name, labels) for tag, (_, name, labels) in found.items()}
    brush_name, brush_labels = found_names.get(BRUSH_TAG, (None, ()))
    polygon_name, polygon_labels = found_names.get(POLYGON_TAG, (None, ()))
    return LabelConfig(
        image_name=image_name,
        image_key=image.get("value", "")[1:],
        brush_name=brush_name,
        brush_labels=brush_labels,
        polygon_name=polygon_name,
        polygon_labels=polygon_labels,
    )


def match_classes(class_names: Sequence[str], labels: Sequence[str]) -> dict[int, str]:
    """Which project label each of the model's classes is predicted as, matched by name.

    Every class of the model except background must be one of the project's labels, by its exact
    name, or the model would propose regions the project cannot hold; the project may have more
    labels (the model never proposes those).

    Args:
        class_names: The model's class names, in class-index order.
        labels: The project's label values (a ``<BrushLabels>`` or ``<PolygonLabels>`` tag's).

    Returns:
        Class index -> label, for every class but background.

    Raises:
        LabelConfigError: A class is missing, with both lists in one line.
    """
    wanted = {i: n for i, n in enumerate(class_names) if not is_background(n)}
    missing = [n for n in wanted.values() if n not in set(labels)]
    if missing:
        raise LabelConfigError(
            f"the project's labels do not include the model's classes {', '.join(missing)}: "
            f"the model's classes are [{', '.join(class_names)}], the project's labels are [{', '.join(labels)}] "
            "(matched by exact name; `refineseg label-studio config` prints a config that fits)"
        )
    return wanted
