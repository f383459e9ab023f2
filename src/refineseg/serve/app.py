"""The web application behind ``refineseg serve`` (FastAPI): a page, a JSON/PNG API, its description.

Routes:

* ``GET /`` (and ``/index.html``): the page; ``GET /static/NAME``: its script and style sheet;
* ``GET /api/info``: the model, its classes and colours, the upload limits;
* ``POST /api/segment[?format=json|png|overlay]``: segment an uploaded image;
* ``GET /healthz``: ``{"status": "ok"}`` once the model is loaded (it is loaded before the
  server accepts connections, so any answer means ready);
* ``GET /openapi.json``: the OpenAPI description of the API. The interactive docs pages of
  FastAPI are left out: they load their scripts from a CDN, which the page's security policy
  (and a machine without network) would not allow.

Every error is JSON ``{"error": "..."}`` (:mod:`refineseg.serve.errors`); the middleware, from the
outside in: one log line per request, security headers, a JSON 500 for anything unexpected,
the upload limit (and ``Connection: close`` on any answer sent before the body was read), the
Host, Origin and API key checks (:mod:`refineseg.serve.access`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from starlette.responses import Response

from .._version import __version__
from ..constants import DEFAULT_MAX_INFERENCE_PIXELS, DEFAULT_MAX_PIXELS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_UPLOAD_BYTES
from ._text import clip
from .access import AccessControl
from .access_log import AccessLog
from .errors import CatchAll, HTTPError, add_error_handlers
from .limits import UploadLimits
from .page import static_response
from .responses import SecurityHeaders, json_response
from .schemas import FORMAT_PARAMETER, SEGMENT_REQUEST_BODY, SEGMENT_RESPONSES, Health, Info, SegmentResult
from .segment import DEFAULT_JOBS, FORMATS, SegmentService
from .uploads import read_upload

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["create_app"]

DESCRIPTION = """\
Semantic segmentation of uploaded images with a RefineNet / Light-Weight RefineNet model.

`POST /api/segment` takes the image file as the request body (any format Pillow reads) or as
the `image` field of a multipart form, and answers JSON (`format=json`, the default), the label
image (`format=png`) or the colour overlay (`format=overlay`). An image larger than the
server's compute budget (`limits.max_inference_pixels` of `GET /api/info`) is segmented shrunk
to it: its labels come back at the image's own size, its overlay at the size the model saw.
Errors are JSON `{"error": "..."}`; when the server is busy, 503 with `Retry-After`. A server
started with an API key wants it on `/api/...` as `Authorization: Bearer KEY` or `X-API-Key: KEY`.
"""


def _service(request: Request) -> SegmentService:
    service: SegmentService = request.app.state.service
    return service


# -- the page ---------------------------------------------------------------------------------------


async def page() -> Response:
    """The page (``static/index.html``).

    Returns:
        The HTML page, with its Content Security Policy.
    """
    return static_response("index.html")


async def static(name: str) -> Response:
    """One of the page's files.

    Args:
        name: The file's name in ``static/``.

    Returns:
        The file.
    """
    return static_response(name)


# -- the API ----------------------------------------------------------------------------------------


async def info(request: Request) -> Response:
    """The model's name and precision, its classes with their colours, and the upload limits.

    Args:
        request: The request.

    Returns:
        The JSON answer.
    """
    return json_response(_service(request).info())


async def health() -> Response:
    """``{"status": "ok"}``: the server answers, so its model is loaded.

    Returns:
        The JSON answer.
    """
    return json_response({"status": "ok"})


async def segment(request: Request) -> Response:
    """Segment the uploaded image; answer JSON, the label PNG or the overlay PNG.

    The query's ``format`` (``json``, ``png`` or ``overlay``; any case, empty or absent meaning
    ``json``, the last one counting when given twice) is read here rather than declared, so
    that every refusal is a JSON error in one sentence, and checked before the upload is read.

    Args:
        request: The request; its body is the image, raw or as a multipart form's ``image`` field.

    Returns:
        The answer.

    Raises:
        HTTPError: 400, 408, 411 or 413 for an upload the server refuses; 503 when its queue
            is full; 499 (for the log) when the client hung up before the answer.
    """
    values = request.query_params.getlist("format")
    fmt = (values[-1] if values else "").strip().lower() or "json"
    if fmt not in FORMATS:
        raise HTTPError(400, f"unknown format {clip(fmt, 30)!r}; use format=json, format=png or format=overlay")
    service = _service(request)
    with service.admission():  # a full queue is refused here, before the upload is read
        data = await read_upload(request)
        return await service.segment(data, fmt, request.is_disconnected)


# -- the application --------------------------------------------------------------------------------


def create_app(
    segmenter: Segmenter,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    quiet: bool = False,
    jobs: int = DEFAULT_JOBS,
    max_inference_pixels: int | None = DEFAULT_MAX_INFERENCE_PIXELS,
    max_queue: int = DEFAULT_MAX_QUEUE,
    allowed_hosts: Sequence[str] | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The application serving ``segmenter``: the page, the API and its OpenAPI description.

    Args:
        segmenter: The model and its preprocessing, shared by all requests.
        max_upload_bytes: Larger uploads are refused with 413, before they are read.
        max_pixels: Larger images are refused with 413, before they are decoded.
        quiet: Whether to leave out the per-request log lines.
        jobs: How many requests may be decoding, segmenting or encoding at once (inference
            itself runs one image at a time).
        max_inference_pixels: The compute budget: larger images are shrunk to this many pixels
            before inference; ``None`` or 0 segments them at full resolution.
        max_queue: How many requests may wait beyond the ``jobs`` being worked on; more are
            answered 503 with ``Retry-After``, before their upload is read.
        allowed_hosts: The Host names answered (``*.example.com`` patterns, ``*`` for any);
            ``None``: ``localhost``, ``127.0.0.1`` and ``::1``. Others get 400.
        api_key: A key that requests to ``/api/...`` must carry (401 without it); ``None``: none.

    Returns:
        An ASGI application (run it with uvicorn, or :func:`refineseg.serve.run.serve`).

    Raises:
        ValueError: If a limit or ``jobs`` is not positive, ``max_queue`` is negative, a host
            pattern is malformed or ``api_key`` is empty.
    """
    service = SegmentService(
        segmenter,
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
        jobs=jobs,
        max_inference_pixels=max_inference_pixels,
        max_queue=max_queue,
    )
    app = FastAPI(
        title="refineseg",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    _add_routes(app)
    add_error_handlers(app)
    # added innermost first: the access log sees every answer, the headers go on every answer; the
    # access checks answer inside the upload limits, which close the connection on an unread body
    app.add_middleware(AccessControl, allowed_hosts=allowed_hosts, api_key=api_key)
    app.add_middleware(UploadLimits, max_bytes=service.max_upload_bytes)
    app.add_middleware(CatchAll)
    app.add_middleware(SecurityHeaders)
    if not quiet:
        app.add_middleware(AccessLog)
    return app


def _add_routes(app: FastAPI) -> None:
    # on the app itself, not through an APIRouter: a 405's Allow header lists the methods of the
    # app's routes matching the path (errors._allowed_methods)
    for path in ("/", "/index.html"):
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/static/{name:path}", static, methods=["GET", "HEAD"], include_in_schema=False)
    # HEAD apart from GET, left out of the description: one operation per route there
    app.add_api_route(
        "/api/info",
        info,
        methods=["GET"],
        response_model=Info,
        summary="The model, its classes and the upload limits",
        description="The model's name and precision, its classes with their colours (by class index), the "
        "upload limits and the formats `POST /api/segment` answers in.",
    )
    app.add_api_route("/api/info", info, methods=["HEAD"], include_in_schema=False)
    app.add_api_route(
        "/healthz",
        health,
        methods=["GET"],
        response_model=Health,
        summary="Whether the server is up, its model loaded",
        description='`{"status": "ok"}`. The model is loaded before the server accepts connections, so any '
        "answer means ready.",
    )
    app.add_api_route("/healthz", health, methods=["HEAD"], include_in_schema=False)
    app.add_api_route(
        "/api/segment",
        segment,
        methods=["POST"],
        summary="Segment an image",
        description="Segment the uploaded image. The answer's format is chosen with `format`; refusals are "
        'JSON `{"error": "..."}`.',
        response_model=SegmentResult,
        responses=SEGMENT_RESPONSES,
        openapi_extra={"parameters": [FORMAT_PARAMETER], "requestBody": SEGMENT_REQUEST_BODY},
    )
