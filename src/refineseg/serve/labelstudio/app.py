"""``refineseg label-studio-backend``: a Label Studio ML backend that pre-labels tasks with a model.

Label Studio's ML backend protocol, on refineseg's FastAPI stack:

* ``GET /health`` (and ``GET /``): ``{"status": "UP", "model_class": "refineseg", ...}`` at once
  (Label Studio waits 1 s);
* ``POST /setup``: Label Studio connecting a project (its labelling config as ``schema``):
  the config is checked against the model's classes, and the answer is ``{"model_version":
  ...}``; a config without the model's classes is refused with 400 and one line naming both
  lists, so the project cannot connect a backend that would answer nothing it can hold;
* ``POST /predict``: ``{"tasks": [...], "label_config": ...}`` in, ``{"results": [...]}`` out, one
  prediction per task in order: the model's regions (:mod:`.predictions`), a ``score`` and the
  ``model_version``. The score is the model's confidence, ``1 -`` the mean normalised per-pixel
  entropy (:func:`refineseg.inference.uncertainty.confidence`), the measure ``refineseg rank
  --by entropy`` ranks by: Label Studio's uncertainty sampling offers the lowest score first;
* ``POST /webhook``: accepted and ignored (the backend does not train).

``model_version`` is ``refineseg-ARCH-HASH-PRECISION``, HASH from the weights file's bytes: new
weights give a new version, and Label Studio then asks for new predictions.

A task's image is fetched from the Label Studio that the backend was started for
(:mod:`.fetch`: no other host, size-capped) and checked as ``serve`` checks an upload (the pixel
limit before decoding; an image above ``max_inference_pixels`` is segmented shrunk and its
labels scaled up to its size). A task that fails (its image refused, unreadable or too large)
gets an empty prediction and a log line naming it; when every task of a request fails, the
request is answered with the first failure's status and message, which Label Studio shows.
The model runs on one thread, one image at a time, as in ``serve``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from fastapi import FastAPI, Request
from starlette.responses import Response

from ..._version import __version__
from ...constants import DEFAULT_MAX_INFERENCE_PIXELS, DEFAULT_MAX_PIXELS, MB
from ...inference.uncertainty import confidence
from ...labelstudio import LabelConfig, LabelConfigError, encode_mask, match_classes, parse_config
from ..access import AccessControl
from ..access_log import AccessLog
from ..errors import CatchAll, HTTPError, add_error_handlers
from ..limits import UploadLimits
from ..responses import SecurityHeaders, json_response
from ..segment import scaled_labels
from ..uploads import decode_image
from .fetch import ImageSource, TaskImageError
from .predictions import regions

if TYPE_CHECKING:
    from ...inference.segmenter import Segmenter

__all__ = ["MAX_REQUEST_BYTES", "LabelStudioBackend", "create_backend_app", "model_version"]

log = logging.getLogger(__name__)

# a /predict request carries tasks (their data, annotations and predictions so far) and the config
MAX_REQUEST_BYTES = 32 * MB
HASH_CHARS = 12
MAX_PROJECTS = 64  # labelling configs kept from /setup


def model_version(segmenter: Segmenter, weights: str) -> str:
    """``refineseg-ARCH-HASH-PRECISION``: changes with the weights' bytes and with the precision.

    Args:
        segmenter: The loaded model.
        weights: The weights file, or the name of shipped weights (its file is hashed then).

    Returns:
        The version string.
    """
    arch = str(getattr(segmenter.model, "arch", type(segmenter.model).__name__))
    path = Path(weights)
    if not path.is_file():
        from ...weights.catalogue import weights_path

        try:
            path = weights_path(weights)
        except FileNotFoundError:  # a Hub reference, say: its name stands for its bytes
            path = Path()
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(weights.encode())
    return f"refineseg-{arch}-{digest.hexdigest()[:HASH_CHARS]}-{segmenter.precision}"


class LabelStudioBackend:
    """The model, the image source and the limits the backend's requests share.

    Args:
        segmenter: The model and its preprocessing.
        source: Where task images come from.
        version: The ``model_version`` answered.
        max_pixels: Larger images are refused.
        max_inference_pixels: Larger images are segmented shrunk to this many pixels
            (``None`` or 0: full resolution).
        polygons: Whether to answer polygons when the project has both tags.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        source: ImageSource,
        *,
        version: str,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_inference_pixels: int | None = DEFAULT_MAX_INFERENCE_PIXELS,
        polygons: bool = False,
    ) -> None:
        self.segmenter = segmenter
        self.source = source
        self.version = version
        self.max_pixels = int(max_pixels)
        self.max_inference_pixels = int(max_inference_pixels) if max_inference_pixels else None
        self.polygons = polygons
        self.configs: dict[str, str] = {}  # project -> the labelling config /setup sent
        self.predicted = 0
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refineseg-model")
        # import the SDK's converter now: it takes about a second, which the first /predict would pay
        encode_mask(np.zeros((1, 1), bool))

    def remember_config(self, project: str, xml: str) -> None:
        """Keep a project's labelling config from ``/setup``, for ``/predict`` requests without one.

        Only the latest :data:`MAX_PROJECTS` projects are kept (anyone who can reach the
        backend can call ``/setup``).

        Args:
            project: Label Studio's project key (``ID.TIMESTAMP``).
            xml: Its labelling config.
        """
        self.configs.pop(project, None)
        self.configs[project] = xml
        while len(self.configs) > MAX_PROJECTS:
            self.configs.pop(next(iter(self.configs)))

    def classes_for(self, xml: str) -> tuple[LabelConfig, dict[int, str]]:
        """The project's config and which label each class is predicted as.

        Args:
            xml: The project's labelling config.

        Returns:
            The parsed config and class index -> label (background left out).

        Raises:
            LabelConfigError: The config is unusable or lacks some of the model's classes.
        """
        config = parse_config(xml)
        if config.brush_name is not None and (self.polygons is False or config.polygon_name is None):
            labels = config.brush_labels
        else:
            labels = config.polygon_labels
        return config, match_classes(list(self.segmenter.class_names), labels)

    def _infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        labels, probabilities = self.segmenter.batch_labels_and_probabilities([rgb])
        top = probabilities[0].max(0).values.float().cpu().numpy()
        return labels[0], top, float(confidence(probabilities[0]))

    async def predict_task(self, task: Any, config: LabelConfig, classes: dict[int, str]) -> dict[str, Any]:
        """One task's prediction.

        Args:
            task: The task as Label Studio sent it (its ``data`` holds the image reference).
            config: The project's labelling config.
            classes: Class index -> project label.

        Returns:
            ``{"result": regions, "score": confidence, "model_version": ...}``.

        Raises:
            TaskImageError: The task has no usable image reference, or its image is refused.
            HTTPError: The image is unreadable (400) or has too many pixels (413).
        """
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise TaskImageError("a task must be an object with a data object")
        reference = task["data"].get(config.image_key)
        if reference is None:
            raise TaskImageError(
                f'no {config.image_key!r} field in its data (the config\'s <Image value="${config.image_key}">)'
            )
        data = await anyio.to_thread.run_sync(self.source.fetch, reference)
        image = await anyio.to_thread.run_sync(decode_image, data, self.max_pixels, self.max_inference_pixels)
        seen, top, score = await asyncio.wrap_future(self._model_thread.submit(self._infer, image.rgb))
        labels = scaled_labels(seen, (image.width, image.height)) if image.shrunk else seen
        result = await anyio.to_thread.run_sync(
            lambda: regions(labels, seen, top, classes, config, polygons=self.polygons)
        )
        self.predicted += 1
        return {"result": result, "score": round(score, 6), "model_version": self.version}


def _backend(request: Request) -> LabelStudioBackend:
    backend: LabelStudioBackend = request.app.state.backend
    return backend


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "the request body must be a JSON object")
    return body


async def _health(request: Request) -> Response:
    """``GET /health``: up, with the model's version (Label Studio waits 1 s for it)."""
    backend = _backend(request)
    return json_response(
        {"status": "UP", "model_class": "refineseg", "model_version": backend.version, "version": __version__}
    )


async def _setup(request: Request) -> Response:
    """``POST /setup``: check the project's config against the model's classes, answer the model version."""
    backend = _backend(request)
    body = await _json_body(request)
    schema = body.get("schema")
    if isinstance(schema, str) and schema.strip():
        try:
            backend.classes_for(schema)
        except LabelConfigError as exc:
            log.warning("setup of project %s refused: %s", body.get("project"), exc)
            raise HTTPError(400, str(exc)) from None
        backend.remember_config(str(body.get("project")), schema)
    return json_response({"model_version": backend.version})


async def _predict(request: Request) -> Response:
    """``POST /predict``: one prediction per task, in order (see the module's description)."""
    backend = _backend(request)
    body = await _json_body(request)
    tasks = body.get("tasks")
    if not isinstance(tasks, list):
        raise HTTPError(400, 'the request has no "tasks" list')
    xml = body.get("label_config") or backend.configs.get(str(body.get("project")))
    if not isinstance(xml, str) or not xml.strip():
        raise HTTPError(400, "the request has no label_config, and no /setup gave one for its project")
    try:
        config, classes = backend.classes_for(xml)
    except LabelConfigError as exc:
        raise HTTPError(400, str(exc)) from None
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    failures: list[HTTPError] = []
    for task in tasks:
        task_id = task.get("id") if isinstance(task, dict) else None
        try:
            results.append(await backend.predict_task(task, config, classes))
        except (TaskImageError, HTTPError) as exc:
            status = exc.status if isinstance(exc, TaskImageError) else exc.status_code
            message = f"task {task_id}: {exc if isinstance(exc, TaskImageError) else exc.message}"
            log.warning("%s", message)
            failures.append(HTTPError(status, message))
            results.append({"result": [], "model_version": backend.version})
        except Exception:  # one task's failure must not lose the others' predictions
            log.exception("task %s: failed", task_id)
            failures.append(HTTPError(500, f"task {task_id}: the backend failed on it (its log has the traceback)"))
            results.append({"result": [], "model_version": backend.version})
    if tasks and len(failures) == len(tasks):
        raise failures[0]
    log.info("predicted %d of %d tasks in %.2f s", len(tasks) - len(failures), len(tasks), time.monotonic() - started)
    return json_response({"results": results})


async def _webhook(request: Request) -> Response:
    """``POST /webhook``: Label Studio's annotation events; the backend does not train on them."""
    return json_response({"status": "Unknown event"})


def create_backend_app(
    backend: LabelStudioBackend, *, quiet: bool = False, allowed_hosts: list[str] | tuple[str, ...] | None = None
) -> FastAPI:
    """The ASGI application of the Label Studio ML backend.

    Args:
        backend: The model, image source and limits.
        quiet: Whether to leave out the per-request log lines.
        allowed_hosts: The Host names answered (as ``serve``'s); ``None``: the loopback names.

    Returns:
        The application (run it with uvicorn).
    """
    app = FastAPI(
        title="refineseg Label Studio ML backend", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.backend = backend
    for path in ("/health", "/"):
        app.add_api_route(path, _health, methods=["GET"])
    app.add_api_route("/setup", _setup, methods=["POST"])
    app.add_api_route("/predict", _predict, methods=["POST"])
    app.add_api_route("/webhook", _webhook, methods=["POST"])
    add_error_handlers(app)
    app.add_middleware(AccessControl, allowed_hosts=allowed_hosts, api_key=None)
    app.add_middleware(UploadLimits, max_bytes=MAX_REQUEST_BYTES)
    app.add_middleware(CatchAll)
    app.add_middleware(SecurityHeaders)
    if not quiet:
        app.add_middleware(AccessLog)
    return app
