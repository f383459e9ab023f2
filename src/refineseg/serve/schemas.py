"""What the API's answers look like, for the OpenAPI description at ``/openapi.json``.

The routes build their JSON themselves (:func:`~refineseg.serve.responses.json_response`); these
models only describe it, so that the description and the answers cannot drift apart silently:
the tests check the answers against the description.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "FORMAT_PARAMETER",
    "SEGMENT_REQUEST_BODY",
    "SEGMENT_RESPONSES",
    "ClassColor",
    "ClassShare",
    "ErrorMessage",
    "Health",
    "Info",
    "Limits",
    "SegmentResult",
]

Color = list[int]


class ErrorMessage(BaseModel):
    """Every error the API answers.

    Attributes:
        error: One sentence saying what was wrong and, where it helps, what to do.
    """

    error: str = Field(description="what was wrong, in one sentence")


class Health(BaseModel):
    """The answer of ``GET /healthz``.

    Attributes:
        status: ``ok``: the model is loaded and the server answers.
    """

    status: Literal["ok"]


class ClassColor(BaseModel):
    """A class the model knows.

    Attributes:
        name: The class's name.
        color: Its colour in the overlay and label image, ``[r, g, b]``.
    """

    name: str
    color: Color = Field(description="[r, g, b], 0-255")


class Limits(BaseModel):
    """The largest uploads the server accepts, and the largest image it segments as it is.

    Attributes:
        max_upload_bytes: The largest upload, in bytes.
        max_pixels: The largest image, width x height.
        max_inference_pixels: The compute budget: larger images are segmented shrunk to this
            many pixels (``null``: at full resolution).
    """

    max_upload_bytes: int
    max_pixels: int
    max_inference_pixels: int | None = Field(
        description="larger images are segmented shrunk to this many pixels; null: at full resolution"
    )


class Info(BaseModel):
    """The answer of ``GET /api/info``.

    Attributes:
        model: The model's architecture.
        precision: The number format it runs in (``fp32``, ``bf16``, ``int8``).
        backend: What runs it (``pytorch``, ``onnxruntime``, ``openvino``, ...).
        num_classes: How many classes it predicts.
        classes: The classes and their colours, by class index.
        limits: The upload limits.
        formats: The values ``format=`` accepts.
    """

    model: str
    precision: str
    backend: str
    num_classes: int
    classes: list[ClassColor]
    limits: Limits
    formats: list[str]


class ClassShare(BaseModel):
    """A class found in a segmented image.

    Attributes:
        name: The class's name.
        color: Its colour, ``[r, g, b]``.
        pixels: How many pixels it covers.
        share: Its share of the image, in [0, 1].
    """

    name: str
    color: Color = Field(description="[r, g, b], 0-255")
    pixels: int
    share: float


class SegmentResult(BaseModel):
    """The JSON answer of ``POST /api/segment``.

    Attributes:
        width: The image's width in pixels (the labels' width).
        height: Its height.
        inference_width: The width the model segmented it at (the overlay's width): smaller
            than ``width`` for an image above the compute budget.
        inference_height: The height the model segmented it at.
        model: The model's architecture.
        elapsed_ms: How long the model took (waiting for it included).
        classes: The classes found, largest first.
        overlay_png: The image blended with its class colours, a base64 PNG.
        labels_png: The label image (palette PNG, pixel value = class index), base64.
    """

    width: int
    height: int
    inference_width: int = Field(description="the width the model saw, the overlay's width")
    inference_height: int = Field(description="the height the model saw, the overlay's height")
    model: str
    elapsed_ms: float
    classes: list[ClassShare] = Field(description="the classes found, largest first")
    overlay_png: str = Field(description="the colour overlay at the size the model saw, a base64-encoded PNG")
    labels_png: str = Field(
        description="the label image at the image's size (palette PNG, pixel value = class index), base64"
    )


_BINARY = {"type": "string", "format": "binary"}

FORMAT_PARAMETER: dict[str, Any] = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "`json` (the classes found and base64 PNGs), `png` (the label image: palette PNG, pixel "
    "value = class index) or `overlay` (the colour overlay as a PNG); any case",
    "schema": {"type": "string", "enum": ["json", "png", "overlay"], "default": "json"},
}
"""The ``format`` query parameter of ``POST /api/segment`` in the OpenAPI description."""

SEGMENT_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "The image file (any format Pillow reads) as the request body, or a multipart/form-data "
    "form with the file in a field named `image` (`curl -F image=@photo.jpg`). Any other content type is "
    "taken as a raw image file too. A Content-Length header (or a chunked body) is required.",
    "content": {
        "image/*": {"schema": _BINARY},
        "application/octet-stream": {"schema": _BINARY},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"image": {**_BINARY, "description": "the image file"}},
                "required": ["image"],
            }
        },
    },
}
"""The ``requestBody`` of ``POST /api/segment`` in the OpenAPI description (the route reads the body itself)."""


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description}


SEGMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`format=json` (the default): the classes found and base64 PNGs (JSON). `format=png`: the "
        "label image (palette PNG, pixel value = class index). `format=overlay`: the colour overlay as a PNG.",
        "content": {"image/png": {"schema": _BINARY}},
    },
    400: _error(
        "an unknown format, an empty upload, not a readable image (a truncated one included), a form without an "
        "`image` field, a Host header the server does not answer to"
    ),
    401: _error(
        "the server wants an API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) and got none or a wrong one"
    ),
    403: _error("an `Origin` header other than the server's own: a request from another site's page"),
    408: _error("the upload stalled"),
    411: _error("no Content-Length header and not chunked"),
    413: _error("the upload has more bytes, or the image more pixels, than the limits of `GET /api/info`"),
    503: _error("the server is busy (its queue is full); try again after `Retry-After` seconds"),
}
"""The responses of ``POST /api/segment`` in the OpenAPI description."""
