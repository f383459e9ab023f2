"""A model's labels as Label Studio regions: one brush mask per class, or polygons.

Each class the model found in an image (except background, which in Label Studio is what nobody
painted) becomes one ``brushlabels`` region whose mask is exactly the pixels ``refineseg
predict`` gives that class, encoded by :func:`refineseg.labelstudio.encode_mask`. A region's
``score`` is the model's mean top-class probability over its pixels. For a project whose
config has only a ``<PolygonLabels>`` tag (or with ``polygons=True``), each connected part of a
class becomes a polygon instead: its outer contour (OpenCV's, which comes with
``label-studio-sdk``), simplified to within a pixel, in percent of the image's size as Label
Studio stores polygons; holes are filled and parts under :data:`MIN_POLYGON_PIXELS` pixels are
left out, so polygons are an approximation, brush masks are not.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from ...labelstudio import LabelConfig, encode_mask

__all__ = ["MIN_POLYGON_PIXELS", "regions"]

MIN_POLYGON_PIXELS = 16  # smaller specks are noise to a labeller, and a click each to delete
POLYGON_TOLERANCE_PX = 1.0  # the simplified outline stays within a pixel of the mask's


def _region_id() -> str:
    return uuid.uuid4().hex[:10]


def _polygons(mask: np.ndarray) -> list[list[list[float]]]:
    from ..._extras import require

    cv2 = require("cv2", "labelstudio", purpose="polygon predictions")
    height, width = mask.shape
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        if cv2.contourArea(contour) < MIN_POLYGON_PIXELS:
            continue
        points = cv2.approxPolyDP(contour, POLYGON_TOLERANCE_PX, True).reshape(-1, 2)
        if len(points) >= 3:
            # contour points are pixel indices; a pixel's centre is at +0.5 in Label Studio's continuous frame
            polygons.append([[100.0 * (x + 0.5) / width, 100.0 * (y + 0.5) / height] for x, y in points.tolist()])
    return polygons


def regions(
    labels: np.ndarray,
    seen: np.ndarray,
    top_probability: np.ndarray,
    classes: dict[int, str],
    config: LabelConfig,
    *,
    polygons: bool = False,
) -> list[dict[str, Any]]:
    """The Label Studio regions of one image's labels.

    Args:
        labels: The class per pixel, ``HxW``, at the image's own size.
        seen: The class per pixel at the size the model saw (the same array when it saw the
            image whole).
        top_probability: The model's probability of each pixel's class, at the size of ``seen``.
        classes: Class index -> project label (:func:`refineseg.labelstudio.match_classes`).
        config: The project's labelling config.
        polygons: Whether to answer polygons even when the config has a brush tag.

    Returns:
        The regions, in class-index order.
    """
    as_polygons = config.polygon_name is not None and (polygons or config.brush_name is None)
    height, width = labels.shape
    common = {"to_name": config.image_name, "original_width": width, "original_height": height, "image_rotation": 0}
    out: list[dict[str, Any]] = []
    for index in np.unique(labels).tolist():
        label = classes.get(int(index))
        if label is None:
            continue  # background: what nobody painted
        mask = labels == index
        in_seen = top_probability[seen == index]
        # a class can vanish when shrunk labels are scaled up or appear only then: no score of its own
        score = round(float(in_seen.mean()), 4) if in_seen.size else None
        if as_polygons:
            for points in _polygons(mask):
                value = {"points": points, "polygonlabels": [label], "closed": True}
                out.append(
                    {
                        "id": _region_id(),
                        "from_name": config.polygon_name,
                        "type": "polygonlabels",
                        **common,
                        "value": value,
                        "score": score,
                    }
                )
        else:
            value = {"format": "rle", "rle": encode_mask(mask), "brushlabels": [label]}
            out.append(
                {
                    "id": _region_id(),
                    "from_name": config.brush_name,
                    "type": "brushlabels",
                    **common,
                    "value": value,
                    "score": score,
                }
            )
    return out
