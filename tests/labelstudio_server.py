"""A real Label Studio server for the slow end-to-end test, and the REST calls that test makes.

Used by ``test_labelstudio_e2e.py`` only (``pip install -e '.[labelstudio-server]'`` puts the
``label-studio`` command in the venv; nothing is installed at run time).

- :func:`start_label_studio` starts ``label-studio start`` headless on a free loopback port, with
  its data folder and SQLite database in a temporary folder, an admin user and a known legacy API
  token made by the start command itself, and every way it has of reaching the internet switched
  off (telemetry, Sentry, the PyPI version check; a dead proxy for anything else). It waits for
  ``/health``, and at the end kills the whole process group. Its log is a file, shown on failure.
- :class:`LabelStudioAPI` is a thin httpx client of the REST endpoints the test needs.
- :func:`stub_ml_backend` is a tiny ML backend (stdlib HTTP server in a thread) that speaks Label
  Studio's ML backend protocol and records every request it gets; :func:`refineseg_ml_backend`
  starts the real one, ``refineseg label-studio-backend``, as a subprocess. Both yield a
  :class:`Backend`, so the test swaps one for the other in a line.

Label Studio 1.23 facts this relies on (read from its source, ``label_studio/``):

- ``ML_BLOCK_LOCAL_IP`` defaults to true: Label Studio then refuses an ML backend on a loopback
  or private address (``ml/serializers.py``, ``ml/api_connector.py``). Connecting a backend also
  creates a webhook to ``<backend>/webhook`` for all actions (``ml/models.py``), whose URL
  ``SSRF_PROTECTION_ENABLED`` (default true) refuses on loopback: ``POST /api/ml`` then fails with
  403 "URL resolves to a reserved network address". Both are set false here.
- Legacy tokens (``Authorization: Token ...``) are off for a new organization unless
  ``--enable-legacy-api-token`` (or ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true``).
- ``POST /api/projects/{id}/import`` keeps one file per multipart field name
  (``request.FILES.items()``), so each file gets its own field.
- Settings come from ``LABEL_STUDIO_<NAME>``, ``HEARTEX_<NAME>`` or ``<NAME>`` (``get_env``), so
  stray ``HOST``, ``PORT``, ``USERNAME`` ... in the caller's environment would leak in: they are
  removed from the server's environment.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import numpy as np

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent
LABEL_STUDIO = BIN / "label-studio"
REFINESEG = BIN / "refineseg"
USERNAME = "admin@example.com"
PASSWORD = "refineseg-e2e-password"
TOKEN = "refineseg-e2e-legacy-token-0123456789"  # len > 5, or the start command ignores it
# the first start runs all of Label Studio's Django migrations: ~40 s on 2 loaded cores (2026-12-06)
START_TIMEOUT_S = float(os.environ.get("REFINESEG_LS_START_TIMEOUT", "600"))
BACKEND_START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 600.0  # retrieving predictions waits for the ML backend (Label Studio's own limit: 100 s)

# settings read through label_studio's get_env, which also looks at the bare name: never inherit them
_LEAKY_NAMES = ("HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DEBUG", "LOG_LEVEL", "DATABASE_NAME")


def label_studio_missing() -> str | None:
    """Why the end-to-end test cannot run here, or ``None`` when it can."""
    if not LABEL_STUDIO.is_file():
        return f"the Label Studio server is not installed ({LABEL_STUDIO} is missing): pip install -e '.[labelstudio-server]'"
    return None


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def tail(path: Path, chars: int = 8000) -> str:
    """The end of a log file (empty when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-chars:]


def wait_for_http(
    url: str, timeout_s: float, *, process: subprocess.Popen | None = None, log: Path | None = None
) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took.

    Raises:
        RuntimeError: ``process`` exited first, or ``timeout_s`` passed; the message ends with the log's tail.
    """
    start = time.monotonic()
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{url}: the server exited with {process.returncode} before answering\n{tail(log) if log else ''}"
            )
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s\n{tail(log) if log else ''}")
        time.sleep(0.5)


def stop_process_group(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM the process's group (it was started with ``start_new_session``), then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace_s)
    # the leader may be gone while children live on: the group is killed either way
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace_s)


def offline_env(**extra: str) -> dict[str, str]:
    """The caller's environment with proxies pointing nowhere except for loopback."""
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        env.pop(name, None)
        env.pop(name.lower(), None)
    dead = f"http://{LOOPBACK}:9"  # the discard port: nothing listens, so any outside request fails at once
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = dead
    env["NO_PROXY"] = env["no_proxy"] = f"{LOOPBACK},localhost,::1"
    env.update(extra)
    return env


@dataclass
class LabelStudioServer:
    """A started Label Studio: its URL, admin token, folders, process and log."""

    url: str
    token: str
    port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    start_s: float
    command: list[str] = field(default_factory=list)
    version: str = ""

    def api(self) -> LabelStudioAPI:
        return LabelStudioAPI(self.url, self.token)

    def log(self, chars: int = 8000) -> str:
        return tail(self.log_path, chars)


def label_studio_command(data_dir: Path, port: int) -> list[str]:
    """The ``label-studio start`` command line: headless, loopback only, admin user and legacy token made at start."""
    url = f"http://{LOOPBACK}:{port}"
    return [
        str(LABEL_STUDIO),
        "start",
        "--no-browser",
        "--data-dir",
        str(data_dir),
        "--database",
        str(data_dir / "label_studio.sqlite3"),
        "--internal-host",
        LOOPBACK,
        "--port",
        str(port),
        "--host",
        url,  # what Label Studio tells the ML backend in /setup's "hostname"
        "--username",
        USERNAME,
        "--password",
        PASSWORD,
        "--user-token",
        TOKEN,
        "--enable-legacy-api-token",
        "--log-level",
        "INFO",
    ]


def label_studio_env(root: Path) -> dict[str, str]:
    """The server's environment: offline, SQLite, local ML backends allowed, local files served from ``root``."""
    env = offline_env()
    for name in list(env):
        if name.startswith(("LABEL_STUDIO_", "HEARTEX_")) or name in _LEAKY_NAMES:
            del env[name]
    env.update(
        DJANGO_DB="sqlite",
        LABEL_STUDIO_BASE_DATA_DIR=str(root / "data"),
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        # the ML backend runs on 127.0.0.1, which Label Studio refuses by default (SSRF guards): both the
        # backend's URL (ML_BLOCK_LOCAL_IP) and the webhook to <backend>/webhook that connecting it makes
        # (webhooks/serializers.py, under SSRF_PROTECTION_ENABLED) would be refused with a 403
        ML_BLOCK_LOCAL_IP="false",
        SSRF_PROTECTION_ENABLED="false",
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(root),
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        # nothing leaves the machine: no usage analytics, no Sentry, no PyPI version check
        COLLECT_ANALYTICS="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        LATEST_VERSION_CHECK="false",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def start_label_studio(
    root: Path, *, timeout_s: float = START_TIMEOUT_S, env: dict[str, str] | None = None
) -> Iterator[LabelStudioServer]:
    """Start Label Studio with everything under ``root``; stop its process group on exit.

    ``env`` adds to or overrides :func:`label_studio_env`, e.g. ``ML_TIMEOUT_SETUP="30"``: Label
    Studio gives an ML backend 1 s for ``/health`` (``ML_TIMEOUT_HEALTH``), 3 s for ``/setup``
    (``ML_TIMEOUT_SETUP``), 100 s for ``/predict`` (``ML_TIMEOUT_PREDICT``, a read timeout) and 1 s
    to connect (``ML_CONNECTION_TIMEOUT``); the defaults are kept, as users get them.

    Raises:
        RuntimeError: it exited or did not answer ``/health`` within ``timeout_s`` (the log's tail is in the message).
    """
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "data"
    data_dir.mkdir(exist_ok=True)
    log_path = root / "label-studio.log"
    port = free_port()
    command = label_studio_command(data_dir, port)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,  # it reads git details of its working folder for /api/version
            env={**label_studio_env(root), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{LOOPBACK}:{port}"
        start_s = wait_for_http(f"{url}/health", timeout_s, process=process, log=log_path)
        server = LabelStudioServer(url, TOKEN, port, data_dir, log_path, process, start_s, command)
        # label-studio moves to the next port if its own is taken (server._get_free_port): make sure
        # the server answering is this one, with this token
        try:
            with server.api() as api:
                server.version = api.version()
        except (httpx.HTTPError, LabelStudioError) as exc:
            raise RuntimeError(f"{url} answers /health but not as this Label Studio: {exc}\n{tail(log_path)}") from exc
        yield server
    finally:
        stop_process_group(process)


class LabelStudioError(RuntimeError):
    """A REST call answered with an error status; the message has the method, path, status and body."""


class LabelStudioAPI:
    """The REST calls of the end-to-end test, with ``Authorization: Token <token>``."""

    def __init__(self, url: str, token: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Token {token}"},
            timeout=httpx.Timeout(timeout_s, connect=10),
            trust_env=False,  # loopback only: no proxy
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> LabelStudioAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise LabelStudioError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response

    def version(self) -> str:
        """``GET /api/version``: Label Studio's release."""
        return self.request("GET", "/api/version").json()["release"]

    def create_project(self, title: str, label_config: str) -> dict:
        """``POST /api/projects/``."""
        return self.request("POST", "/api/projects/", json={"title": title, "label_config": label_config}).json()

    def project(self, project_id: int) -> dict:
        """``GET /api/projects/{id}/``."""
        return self.request("GET", f"/api/projects/{project_id}/").json()

    def import_files(self, project_id: int, files: dict[str, bytes]) -> dict:
        """``POST /api/projects/{id}/import``, multipart, one field per file (name -> bytes); one task per image."""
        parts = [(name, (name, data, "application/octet-stream")) for name, data in files.items()]
        return self.request("POST", f"/api/projects/{project_id}/import", files=parts).json()

    def import_tasks(self, project_id: int, tasks: list[dict]) -> dict:
        """``POST /api/projects/{id}/import`` with task JSON (each ``{"image": URL}``): tasks whose images are elsewhere."""
        return self.request("POST", f"/api/projects/{project_id}/import", json=tasks).json()

    def tasks(self, project_id: int) -> list[dict]:
        """``GET /api/tasks?project={id}`` (every page), oldest first; each has ``data.image``, ``predictions``, ..."""
        tasks: list[dict] = []
        page = 1
        while True:
            params = {"project": project_id, "page": page, "page_size": 100, "fields": "all"}
            body = self.request("GET", "/api/tasks/", params=params).json()
            batch = body["tasks"] if isinstance(body, dict) else body
            tasks.extend(batch)
            if not batch or (isinstance(body, dict) and len(tasks) >= body.get("total", len(tasks))):
                break
            page += 1
        return sorted(tasks, key=lambda task: task["id"])

    def task(self, task_id: int) -> dict:
        """``GET /api/tasks/{id}/``."""
        return self.request("GET", f"/api/tasks/{task_id}/").json()

    def fetch(self, url_or_path: str) -> bytes:
        """GET a file Label Studio serves (``/data/upload/...``) with the token, as an ML backend does."""
        return self.request("GET", urljoin(self.url + "/", url_or_path)).content

    def connect_ml_backend(self, project_id: int, backend_url: str, title: str = "refineseg") -> dict:
        """``POST /api/ml``: Label Studio calls the backend's ``/health`` and ``/setup`` before answering."""
        body = {"url": backend_url, "project": project_id, "title": title}
        return self.request("POST", "/api/ml", json=body).json()

    def ml_backends(self, project_id: int) -> list[dict]:
        """``GET /api/ml?project={id}``: each backend's ``state`` (CO connected, ER error, DI disconnected)."""
        return self.request("GET", "/api/ml", params={"project": project_id}).json()

    def retrieve_predictions(self, project_id: int, task_ids: list[int]) -> dict:
        """The Data Manager's "Retrieve Predictions" action: Label Studio posts the tasks to the backend's ``/predict``.

        ``POST /api/dm/actions?id=retrieve_tasks_predictions&project={id}``; synchronous without Redis.
        Tasks that already hold a prediction of the backend's current model version are skipped.
        """
        body = {"selectedItems": {"all": False, "included": task_ids}}
        params = {"id": "retrieve_tasks_predictions", "project": project_id}
        return self.request("POST", "/api/dm/actions", params=params, json=body).json()

    def predictions(self, task_id: int) -> list[dict]:
        """``GET /api/predictions/?task={id}``."""
        return self.request("GET", "/api/predictions/", params={"task": task_id}).json()

    def create_annotation(self, task_id: int, result: list[dict], **extra: Any) -> dict:
        """``POST /api/tasks/{id}/annotations/`` with a ``result`` (e.g. a prediction's, accepted as is)."""
        return self.request("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result, **extra}).json()

    def export_json(self, project_id: int, path: Path) -> list[dict]:
        """``GET /api/projects/{id}/export?exportType=JSON&download_all_tasks=true`` into ``path``; returns the tasks."""
        params = {"exportType": "JSON", "download_all_tasks": "true"}
        data = self.request("GET", f"/api/projects/{project_id}/export", params=params).content
        path.write_bytes(data)
        return json.loads(data)


# ---------------------------------------------------------------------------------------------
# ML backends: a stub in a thread, and the real `refineseg label-studio-backend` in a subprocess


@dataclass
class Backend:
    """An ML backend Label Studio can connect to: its URL, and (stub only) the requests it got."""

    url: str
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, JSON body)
    log_path: Path | None = None

    def calls(self, path: str) -> list[Any]:
        return [body for _, p, body in self.requests if p == path]

    def log(self, chars: int = 8000) -> str:
        if self.log_path is not None:
            return tail(self.log_path, chars)
        return "\n".join(f"{m} {p} {json.dumps(b)[:1500]}" for m, p, b in self.requests)[-chars:]


def brush_region(mask: np.ndarray, label: str, *, from_name: str = "tag", to_name: str = "image") -> dict:
    """A ``brushlabels`` region of a boolean ``HxW`` mask, RLE by refineseg's own encoder."""
    from refineseg.labelstudio import encode_mask

    height, width = mask.shape
    return {
        "from_name": from_name,
        "to_name": to_name,
        "type": "brushlabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {"format": "rle", "rle": encode_mask(mask), "brushlabels": [label]},
    }


@contextlib.contextmanager
def stub_ml_backend(
    label_studio_url: str, token: str, mask_of: Callable[[np.ndarray], np.ndarray], label: str
) -> Iterator[Backend]:
    """A minimal ML backend on a free loopback port: records each request, predicts ``mask_of(rgb)``.

    ``GET /health`` -> ``{"status": "UP"}``; ``POST /setup`` -> ``{"model_version": "stub"}``;
    ``POST /predict`` fetches each task's ``data.image`` from Label Studio with the token (the path
    the real backend takes) and answers one brush region per task.
    """
    from PIL import Image

    backend = Backend(url="")
    lock = threading.Lock()
    fetch = httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=60, trust_env=False)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the requests are recorded instead
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Any) -> None:
            with lock:
                backend.requests.append((self.command, self.path, body))

        def do_GET(self) -> None:
            self._record(None)
            if self.path == "/health":
                self._reply(200, {"status": "UP", "model_class": "Stub"})
            else:
                self._reply(404, {"error": self.path})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            self._record(body)
            if self.path == "/setup":
                self._reply(200, {"model_version": "stub"})
            elif self.path == "/webhook":  # Label Studio's events (ANNOTATION_CREATED, ...): ignored
                self._reply(200, {})
            elif self.path == "/predict":
                try:
                    results = [self._predict(task) for task in body["tasks"]]
                except Exception as exc:
                    self._reply(500, {"error": repr(exc)})
                else:
                    self._reply(200, {"results": results})
            else:
                self._reply(404, {"error": self.path})

        def _predict(self, task: dict) -> dict:
            response = fetch.get(urljoin(label_studio_url + "/", task["data"]["image"]))
            response.raise_for_status()
            rgb = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
            return {"result": [brush_region(mask_of(rgb), label)], "score": 0.5, "model_version": "stub"}

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    backend.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="stub-ml-backend", daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        server.shutdown()
        server.server_close()
        fetch.close()
        thread.join(10)


@contextlib.contextmanager
def refineseg_ml_backend(
    weights: Path, label_studio: LabelStudioServer, log_path: Path, *options: str
) -> Iterator[Backend]:
    """The real backend, ``refineseg label-studio-backend`` (with more ``options``), as a subprocess on a free port; ready at ``/health``."""
    port = free_port()
    command = [
        str(REFINESEG),
        "label-studio-backend",
        "--weights",
        str(weights),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--label-studio-url",
        label_studio.url,
        "--api-key",
        label_studio.token,
        *options,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=offline_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{LOOPBACK}:{port}"
        wait_for_http(f"{url}/health", BACKEND_START_TIMEOUT_S, process=process, log=log_path)
        yield Backend(url=url, log_path=log_path)
    finally:
        stop_process_group(process)


def refineseg_label_config(weights: Path) -> str:
    """``refineseg label-studio config --weights W``: the labelling config for the model (stdout XML)."""
    done = subprocess.run(
        [str(REFINESEG), "label-studio", "config", "--weights", str(weights)],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"refineseg label-studio config failed ({done.returncode}):\n{done.stderr}")
    return done.stdout
