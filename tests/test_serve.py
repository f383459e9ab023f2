"""``refineseg serve``: the page and HTTP API, with a tiny model.

Most behaviour is checked in-process with FastAPI's ``TestClient``; what happens on the wire
(refusing a body before it is read, chunked uploads, keep-alive, concurrency, the log line)
against a real uvicorn server on a free loopback port, in a thread; the command line, the
worker processes and a load test against ``refineseg serve`` itself, in a subprocess.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageFile

import refineseg
import refineseg.models
from refineseg._extras import install_hint
from refineseg.cli import main

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")

import anyio
import uvicorn
from fastapi.testclient import TestClient

from refineseg.constants import DEFAULT_MAX_INFERENCE_PIXELS
from refineseg.serve import ServeConfig, bind, create_app
from refineseg.serve.config import LOCAL_HOSTS
from refineseg.serve.errors import HTTPError
from refineseg.serve.limits import UploadLimits
from refineseg.serve.page import STATIC_DIR
from refineseg.serve.run import server_url, uvicorn_config
from refineseg.serve.uploads import decode_image, inference_size

from .fixtures import CLASS_NAMES, HEIGHT, PALETTE, WIDTH, png_bytes, sample_image, tiny_model

try:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError:  # pragma: no cover - schemathesis is in the dev extra
    schemathesis = None

MAX_UPLOAD = 200_000
MAX_PIXELS = 10_000
# the names the in-process client (TestClient: "testserver") and schemathesis address the app by
TEST_HOSTS = [*LOCAL_HOSTS, "testserver"]


class LiveServer:
    """The app on a real uvicorn server, on a free port of 127.0.0.1, in a background thread.

    ``config`` gives the server's connection settings (keep-alive timeout, concurrency limit);
    ``options`` go to :func:`create_app`.
    """

    def __init__(self, segmenter: refineseg.Segmenter, config: ServeConfig | None = None, **options: object) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.url = server_url(self.sock)
        self.app = create_app(segmenter, **options)  # type: ignore[arg-type]
        config = config or ServeConfig(host="127.0.0.1", port=0)
        self.server = uvicorn.Server(uvicorn_config(self.app, config))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextlib.contextmanager
def live_server(
    segmenter: refineseg.Segmenter, config: ServeConfig | None = None, **options: object
) -> Iterator[LiveServer]:
    server = LiveServer(segmenter, config, **options).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def segmenter() -> refineseg.Segmenter:
    return refineseg.Segmenter(tiny_model())


@pytest.fixture(scope="module")
def app(segmenter: refineseg.Segmenter):
    return create_app(
        segmenter, max_upload_bytes=MAX_UPLOAD, max_pixels=MAX_PIXELS, quiet=True, allowed_hosts=TEST_HOSTS
    )


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def server(segmenter: refineseg.Segmenter) -> Iterator[LiveServer]:
    with live_server(segmenter, max_upload_bytes=MAX_UPLOAD, max_pixels=MAX_PIXELS, quiet=True) as srv:
        yield srv


def request(
    server: LiveServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(*server.address, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_exchange(server: LiveServer, head: str, body: bytes = b"") -> bytes:
    """Send exactly these bytes and read the answer until the server closes: for requests http.client won't make."""
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def error_of(response) -> tuple[int, str]:
    """The status and message of an error answer, checking it is one JSON sentence without server details."""
    if isinstance(response, tuple):
        status, headers, body = response
    else:
        status, headers, body = response.status_code, response.headers, response.content
    assert headers["Content-Type"].startswith("application/json")
    message = json.loads(body)["error"]
    assert isinstance(message, str) and message and "\n" not in message
    assert "Traceback" not in message and "/work" not in message and str(Path.cwd()) not in message
    return status, message


def decode_png(data: str | bytes) -> Image.Image:
    raw = base64.b64decode(data) if isinstance(data, str) else data
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    im = Image.open(io.BytesIO(raw))
    im.load()
    return im


def without_timing(body: bytes) -> dict:
    result = json.loads(body)
    assert isinstance(result.pop("elapsed_ms"), float)  # the one field that may differ between answers
    return result


# -- page ---------------------------------------------------------------------------------------------


def test_page_is_served_with_its_elements(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    page = response.text
    for element in ('id="file"', 'id="overlay"', 'id="legend"', 'id="error"', 'id="status"'):
        assert element in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/index.html").content == response.content
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(kind) and response.content


def test_page_uses_no_external_resources():
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path.name
        assert not re.search(r"url\(\s*[\"']?(https?:)?//|@import|fonts\.googleapis", text), path.name


def test_every_answer_carries_the_security_headers(client):
    for method, path in (
        ("GET", "/"),
        ("GET", "/api/info"),
        ("GET", "/nope"),
        ("POST", "/api/segment"),
        ("GET", "/openapi.json"),
    ):
        headers = client.request(method, path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Server"] == "refineseg", path
    assert client.get("/api/info").headers["Cache-Control"] == "no-store"


def test_static_files_cannot_escape_the_folder(server):
    # sent as written by http.client (an HTTP client library would normalise the dots away)
    for path in ("/static/..%2fapp.py", "/static/%2e%2e/app.py", "/static/../app.py", "/static/.x", "/static/"):
        assert request(server, "GET", path)[0] == 404, path
    assert request(server, "GET", "/static/app.js")[0] == 200
    assert raw_exchange(server, "GET /static/../../__init__.py HTTP/1.0\n").startswith(b"HTTP/1.1 404")


def test_head_and_keep_alive(server):
    status, headers, body = request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    conn = http.client.HTTPConnection(*server.address, timeout=30)
    try:
        for _ in range(2):  # the same connection serves both
            conn.request("GET", "/api/info")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["model"]
    finally:
        conn.close()


# -- API ----------------------------------------------------------------------------------------------


def test_info_lists_model_classes_and_limits(client):
    response = client.get("/api/info")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    info = response.json()
    assert info["model"] == "lw_refinenet_mobilenet_v2" and info["backend"] == "pytorch"
    assert info["classes"] == [{"name": n, "color": list(c)} for n, c in zip(CLASS_NAMES, PALETTE, strict=True)]
    assert info["limits"] == {
        "max_upload_bytes": MAX_UPLOAD,
        "max_pixels": MAX_PIXELS,
        "max_inference_pixels": DEFAULT_MAX_INFERENCE_PIXELS,
    }
    assert info["formats"] == ["json", "png", "overlay"]
    head = client.head("/api/info")
    assert head.status_code == 200 and head.content == b""


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_segment_json(client, segmenter):
    image = sample_image()
    response = client.post("/api/segment", content=png_bytes(image), headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["width"], result["height"]) == (WIDTH, HEIGHT)
    assert (result["inference_width"], result["inference_height"]) == (WIDTH, HEIGHT)  # within the budget
    classes = result["classes"]
    assert classes and {c["name"] for c in classes} <= set(CLASS_NAMES)
    assert sum(c["share"] for c in classes) == pytest.approx(1.0)
    assert sum(c["pixels"] for c in classes) == WIDTH * HEIGHT
    assert [c["pixels"] for c in classes] == sorted((c["pixels"] for c in classes), reverse=True)
    assert all(c["pixels"] > 0 and c["color"] == list(PALETTE[CLASS_NAMES.index(c["name"])]) for c in classes)

    overlay = decode_png(result["overlay_png"])
    assert overlay.size == (WIDTH, HEIGHT) and overlay.mode == "RGB"
    labels = decode_png(result["labels_png"])
    assert labels.size == (WIDTH, HEIGHT) and labels.mode == "P"
    expected = segmenter(image)
    np.testing.assert_array_equal(np.asarray(labels), expected)
    counts = np.bincount(expected.ravel(), minlength=3)
    assert {c["name"]: c["pixels"] for c in classes} == {CLASS_NAMES[i]: int(n) for i, n in enumerate(counts) if n}


def test_segment_png_and_overlay_formats(client, segmenter):
    image = sample_image()
    response = client.post("/api/segment?format=png", content=png_bytes(image))
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    labels = decode_png(response.content)
    assert labels.mode == "P" and labels.size == image.size
    np.testing.assert_array_equal(np.asarray(labels), segmenter(image))
    assert labels.getpalette()[:9] == [v for c in PALETTE for v in c]
    # the format's case does not matter, and the last of two counts
    assert client.post("/api/segment?format=json&format=PNG", content=png_bytes(image)).content == response.content

    # a JPEG without Content-Type: any body is taken as the image
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG")
    response = client.post("/api/segment?format=overlay", content=jpeg.getvalue())
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    overlay = decode_png(response.content)
    assert overlay.mode == "RGB" and overlay.size == image.size


def test_segment_multipart_form_upload(client):
    data = png_bytes(sample_image())
    boundary = "----refineseg-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    answer = client.post("/api/segment", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    raw = client.post("/api/segment", content=data).json()
    assert answer.json()["classes"] == raw["classes"]
    # what httpx (and curl -F) make of a file upload
    assert (
        client.post("/api/segment", files={"image": ("x.png", data, "image/png")}).json()["classes"] == raw["classes"]
    )

    no_image = f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--{boundary}--\r\n'.encode()
    status, message = error_of(client.post("/api/segment", content=no_image, headers=headers))
    assert status == 400 and '"image"' in message
    status, message = error_of(
        client.post("/api/segment", content=b"junk", headers={"Content-Type": "multipart/form-data"})
    )
    assert status == 400 and "multipart/form-data" in message


def test_unreadable_uploads_are_400_with_a_clear_message(client):
    status, message = error_of(client.post("/api/segment", content=b"just some notes, not a picture\n"))
    assert status == 400 and message.startswith("the upload is not a readable image (")
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    whole = png_bytes(Image.fromarray(noise))
    truncated = whole[: len(whole) // 2]
    status, message = error_of(client.post("/api/segment", content=truncated))
    assert status == 400 and "not a readable image" in message
    status, message = error_of(client.post("/api/segment", content=b""))
    assert status == 400 and "empty" in message


def test_too_many_pixels_is_refused(client):
    status, message = error_of(client.post("/api/segment", content=png_bytes(sample_image(200, 100))))
    assert status == 413 and "20,000 pixels" in message and "10,000" in message


def test_too_large_upload_is_413(client):
    status, message = error_of(client.post("/api/segment", content=b"x" * (MAX_UPLOAD + 1)))
    assert status == 413 and "more than the limit of 195.3 kB" in message


def test_unknown_paths_methods_and_formats(client):
    status, message = error_of(client.get("/nope"))
    assert status == 404 and "/nope" in message
    response = client.get("/api/segment")
    assert (response.status_code, response.headers["Allow"]) == (405, "POST") and "use POST" in response.json()["error"]
    response = client.put("/api/info", content=b"x")
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert client.post("/", content=b"x").status_code == 405
    status, message = error_of(client.post("/api/segment?format=jpeg", content=png_bytes(sample_image())))
    assert status == 400 and "jpeg" in message and "format=png" in message
    # FastAPI's documentation pages would load scripts from a CDN: they are left out
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404


def test_unexpected_failures_are_a_json_500_without_details(segmenter, monkeypatch, capsys):
    app = create_app(segmenter, quiet=True, allowed_hosts=TEST_HOSTS)

    def broken(self, rgb, labels, fmt, elapsed_ms, size=None):
        raise RuntimeError("secret /work/path details")

    monkeypatch.setattr(type(app.state.service), "answer", broken)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post("/api/segment", content=png_bytes(sample_image()))
    status, message = error_of(response)
    assert status == 500 and "log" in message and response.headers["X-Content-Type-Options"] == "nosniff"
    assert "secret /work/path details" in capsys.readouterr().err  # the traceback goes to the log


def test_openapi_describes_the_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == {"/api/info", "/api/segment", "/healthz"}
    segment = schema["paths"]["/api/segment"]["post"]
    assert set(segment["requestBody"]["content"]) == {"image/*", "application/octet-stream", "multipart/form-data"}
    assert segment["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["image"]
    assert [p["name"] for p in segment["parameters"]] == ["format"]
    assert segment["parameters"][0]["schema"]["enum"] == ["json", "png", "overlay"]
    assert set(segment["responses"]["200"]["content"]) == {"application/json", "image/png"}
    assert {"400", "411", "413"} <= set(segment["responses"]) and "422" not in segment["responses"]
    assert schema["paths"]["/healthz"]["get"]["responses"]["200"]


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_openapi_fuzzing_finds_no_server_error(app):
    """Requests made up from /openapi.json, valid and invalid (random bodies, formats, forms), never
    get a 5xx, and every answer has a status, content type and body the description lists. Driven
    with Hypothesis directly (schemathesis's pytest fixture loader does not run on pytest 9)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    seen: dict[str, set[int]] = {}

    @given(case=cases)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def fuzz(case) -> None:
        checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
        response = case.call_and_validate(checks=checks)
        seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)

    fuzz()
    assert set(seen) == {"GET /api/info", "GET /healthz", "POST /api/segment"}, seen
    assert all(status < 500 for statuses in seen.values() for status in statuses), seen


# -- what a request may cost, who may ask ------------------------------------------------------------


def jpeg_bytes(im: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def test_inference_size_keeps_the_aspect_within_the_budget():
    assert inference_size(640, 480, None) == (640, 480) == inference_size(640, 480, 0)
    assert inference_size(640, 480, 640 * 480) == (640, 480)
    for width, height, budget in ((6000, 6000, 1_048_576), (4000, 3000, 1_000_000), (10_000, 3, 5000), (3, 7, 2)):
        w, h = inference_size(width, height, budget)
        assert 1 <= w <= width and 1 <= h <= height and (w * h <= budget or (w, h) == (1, 1)), (w, h)
        assert abs(w / h - width / height) / (width / height) < 0.35 or min(w, h) == 1
    assert inference_size(6000, 6000, 1_048_576) == (1024, 1024)


def test_decoding_is_bounded_by_the_budget_and_keeps_the_upright_size():
    # a JPEG is decoded by its decoder at a reduced scale, then shrunk to the budget
    decoded = decode_image(jpeg_bytes(sample_image(400, 300)), 10**6, 400 * 300 // 16)
    assert (decoded.width, decoded.height) == (400, 300) and decoded.shrunk
    assert decoded.rgb.shape == (75, 100, 3)
    # EXIF orientation 6 (a quarter turn): both sizes are the upright ones
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = jpeg_bytes(sample_image(400, 300), exif=exif.tobytes())
    decoded = decode_image(turned, 10**6, 400 * 300 // 16)
    assert (decoded.width, decoded.height) == (300, 400) and decoded.rgb.shape == (100, 75, 3)
    assert decode_image(turned, 10**6, None).rgb.shape == (400, 300, 3)
    # a palette PNG is converted before it is resampled
    palette = sample_image(200, 100).convert("P")
    assert decode_image(png_bytes(palette), 10**6, 50 * 25).rgb.shape == (25, 50, 3)


def test_large_images_are_segmented_shrunk_and_answered_at_their_size(segmenter):
    """Above the budget, the model sees the shrunk image; the labels come back at the upload's
    size (nearest neighbour from the model's labels), the overlay at the model's size."""
    app = create_app(segmenter, quiet=True, allowed_hosts=TEST_HOSTS, max_inference_pixels=WIDTH * HEIGHT // 4)
    image = sample_image()
    with TestClient(app) as test_client:
        result = test_client.post("/api/segment", content=png_bytes(image)).json()
        assert (result["width"], result["height"]) == (WIDTH, HEIGHT)
        assert (result["inference_width"], result["inference_height"]) == (WIDTH // 2, HEIGHT // 2)
        small = segmenter(image.resize((WIDTH // 2, HEIGHT // 2), Image.Resampling.BILINEAR, reducing_gap=2.0))
        expected = np.asarray(Image.fromarray(small).resize((WIDTH, HEIGHT), Image.Resampling.NEAREST))
        labels = decode_png(result["labels_png"])
        assert labels.size == (WIDTH, HEIGHT)
        np.testing.assert_array_equal(np.asarray(labels), expected)
        assert sum(c["pixels"] for c in result["classes"]) == WIDTH * HEIGHT
        assert decode_png(result["overlay_png"]).size == (WIDTH // 2, HEIGHT // 2)
        png = test_client.post("/api/segment?format=png", content=png_bytes(image))
        np.testing.assert_array_equal(np.asarray(decode_png(png.content)), expected)
        overlay = test_client.post("/api/segment?format=overlay", content=png_bytes(image))
        assert decode_png(overlay.content).size == (WIDTH // 2, HEIGHT // 2)


def test_truncated_images_are_400_whatever_pillow_was_told(client, monkeypatch):
    """Other code in the process may set Pillow's LOAD_TRUNCATED_IMAGES; the server still refuses
    a truncated file rather than segment the grey it would be padded with."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    for data in (jpeg_bytes(noise, quality=95), png_bytes(noise)):
        status, message = error_of(client.post("/api/segment", content=data[: len(data) * 2 // 3]))
        assert status == 400 and "truncated" in message, message


def test_a_full_queue_is_503_with_retry_after(segmenter):
    app = create_app(segmenter, quiet=True, allowed_hosts=TEST_HOSTS, jobs=1, max_queue=0)
    service = app.state.service
    with TestClient(app) as test_client:
        with service.admission():  # one request admitted: jobs 1 + queue 0 is full
            response = test_client.post("/api/segment", content=png_bytes(sample_image()))
        status, message = error_of(response)
        assert status == 503 and "busy" in message and int(response.headers["Retry-After"]) >= 1
        assert response.headers["Connection"] == "close" and service.refused == 1
        assert test_client.post("/api/segment", content=png_bytes(sample_image())).status_code == 200
    assert service.admitted == 0


def test_host_names_are_checked(segmenter):
    app = create_app(segmenter, quiet=True, allowed_hosts=[*LOCAL_HOSTS, "seg.example.com", "*.lan"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "seg.example.com", "box.lan:8000"):
            assert test_client.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example.com", "evil.example.com:8000", "127.0.0.1.evil.com", "lan"):
            status, message = error_of(test_client.get("/api/info", headers={"Host": host}))
            assert status == 400 and "--allowed-hosts" in message, host
    with TestClient(create_app(segmenter, quiet=True, allowed_hosts=["*"])) as test_client:
        assert test_client.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


def test_cross_site_posts_are_403(client):
    image = png_bytes(sample_image())
    for origin in ("http://evil.example.com", "null", "http://testserver:8080", "https://testserver.evil.com"):
        status, message = error_of(
            client.post("/api/segment", content=image, headers={"Origin": origin, "Content-Type": "text/plain"})
        )
        assert status == 403 and "this server's own page" in message, origin
    # the server's own page, and clients that send no Origin (curl, scripts)
    assert client.post("/api/segment", content=image, headers={"Origin": "http://testserver"}).status_code == 200
    assert client.post("/api/segment", content=image).status_code == 200
    # reading is not state-changing
    assert client.get("/api/info", headers={"Origin": "http://evil.example.com"}).status_code == 200


def test_api_key_guards_the_api_only(segmenter):
    app = create_app(segmenter, quiet=True, allowed_hosts=TEST_HOSTS, api_key="s3cret-key")
    image = png_bytes(sample_image())
    with TestClient(app) as test_client:
        for path in ("/api/info",):
            status, message = error_of(test_client.get(path))
            assert status == 401 and "X-API-Key" in message
        response = test_client.post("/api/segment", content=image)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        status, message = error_of(test_client.get("/api/info", headers={"X-API-Key": "wrong"}))
        assert status == 401 and message == "the API key is wrong"
        assert test_client.get("/api/info", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert test_client.get("/api/info", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert test_client.post("/api/segment", content=image, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        # the page, its files, the health check and the description stay open
        for path in ("/", "/static/app.js", "/healthz", "/openapi.json"):
            assert test_client.get(path).status_code == 200, path
        # the page asks for the key when the API wants one
        page = test_client.get("/").text
        assert 'id="key-form"' in page and 'type="password"' in page
        assert "X-API-Key" in test_client.get("/static/app.js").text


def test_cli_reads_the_api_key_from_option_file_or_environment(tmp_path):
    from refineseg.cli.serve import api_key

    def args(**given):
        return SimpleNamespace(**{"api_key": None, "api_key_file": None, **given})

    assert api_key(args(), {}) is None
    assert api_key(args(), {"REFINESEG_API_KEY": " from-env\n"}) == "from-env"
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-file\nsecond line ignored\n")
    assert api_key(args(api_key_file=str(key_file)), {"REFINESEG_API_KEY": "env"}) == "from-file"
    assert api_key(args(api_key="from-option"), {"REFINESEG_API_KEY": "env"}) == "from-option"
    with pytest.raises(ValueError, match="REFINESEG_API_KEY: the API key is empty"):
        api_key(args(), {"REFINESEG_API_KEY": "  "})


def test_config_hosts_and_the_key_kept_out_of_repr():
    config = ServeConfig(host="0.0.0.0", allowed_hosts=("Seg.Example.com", " "), api_key="k3y")
    assert config.hosts() == ("localhost", "127.0.0.1", "::1", "seg.example.com")
    assert ServeConfig(host="192.168.1.5").hosts() == ("localhost", "127.0.0.1", "::1", "192.168.1.5")
    assert "k3y" not in repr(config)
    env: dict[str, str] = {}
    config.to_environment(env)
    assert ServeConfig.from_environment(env) == config
    for bad in ({"max_queue": -1}, {"timeout_keep_alive": 0}, {"limit_concurrency": 0}, {"api_key": ""}):
        with pytest.raises(ValueError):
            ServeConfig(**bad)


# -- on the wire: a real uvicorn server ----------------------------------------------------------------


def test_oversized_upload_is_refused_before_its_body_is_read(server):
    # only the headers go out: an answer proves the server did not wait for the 10 MB it was told about
    with socket.create_connection(server.address, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 10000000\r\n\r\n"
        )
        answer = sock.recv(65536)
        assert time.monotonic() - started < 1, "the refusal did not come at once"
        while chunk := sock.recv(65536):  # the server waits a moment for the body, then closes
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
    assert "more than the limit of" in json.loads(body)["error"]
    # curl asks first for large files (Expect: 100-continue) and gets the refusal instead of "continue"
    answer = raw_exchange(
        server, "POST /api/segment HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 10000000\nExpect: 100-continue\n"
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    # a client that sends the whole body regardless still reads the refusal: the server reads the
    # rest and throws it away before closing, rather than reset the connection under the client
    status, message = error_of(request(server, "POST", "/api/segment", b"x" * 10_000_000))
    assert status == 413 and "9.5 MB" in message


def test_upload_without_length_is_411(server):
    answer = raw_exchange(server, "POST /api/segment HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n")
    assert answer.startswith(b"HTTP/1.1 411") and b"Content-Length" in answer


def chunked(data: bytes, size: int = 4096) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


def test_chunked_uploads_are_counted_and_cut_at_the_limit(server):
    data = png_bytes(sample_image())
    answer = raw_exchange(
        server,
        "POST /api/segment?format=png HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\nConnection: close\n",
        chunked(data),
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    assert body == request(server, "POST", "/api/segment?format=png", data)[2]

    # a stream past the limit is answered 413 once the limit is passed, not after the whole of it
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 65536
        sent = 0
        sock.settimeout(0.05)
        answer = b""
        while sent < 50 * MAX_UPLOAD and not answer:
            with contextlib.suppress(OSError):
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
            with contextlib.suppress(TimeoutError, BlockingIOError):
                answer = sock.recv(65536)
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower(), answer[:300]
    assert json.loads(body)["error"] == "the upload is more than the limit of 195.3 kB"
    assert sent < 10 * MAX_UPLOAD  # the server answered long before the sender stopped


def test_a_stalled_upload_is_408():
    async def app(scope, receive, send):
        await receive()

    async def stalled():
        await anyio.sleep(30)

    async def send(message):
        raise AssertionError("nothing is sent: the app's error handler answers the HTTPError")

    limits = UploadLimits(app, max_bytes=100, read_timeout_s=0.05)
    scope = {"type": "http", "method": "POST", "path": "/api/segment", "headers": [(b"content-length", b"10")]}
    with pytest.raises(HTTPError) as caught:
        anyio.run(limits, scope, stalled, send)
    assert caught.value.status_code == 408 and caught.value.headers == {"Connection": "close"}
    assert "too slow" in caught.value.message


def test_concurrent_requests_share_the_model(server, segmenter):
    """Overlapping requests for one image all succeed and get the same answer as a request made
    alone: the PNG byte for byte, the JSON in every field but its timing (labels and overlay PNGs
    included), so concurrent use of the shared model does not mix up or corrupt results."""
    data = png_bytes(sample_image())
    png, json_ = "/api/segment?format=png", "/api/segment"
    paths = [png, json_, png, json_, png]

    def answer(status_headers_body: tuple[int, http.client.HTTPMessage, bytes]) -> tuple[int, str, object]:
        status, headers, body = status_headers_body
        if not headers["Content-Type"].startswith("application/json"):
            return status, headers["Content-Type"], body
        return status, headers["Content-Type"], without_timing(body)

    alone = {path: answer(request(server, "POST", path, data)) for path in (png, json_)}
    assert [alone[path][0] for path in (png, json_)] == [200, 200]
    start = threading.Barrier(len(paths), timeout=30)

    def post(path: str) -> tuple[int, str, object]:
        start.wait()  # release them together so they overlap
        return answer(request(server, "POST", path, data))

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        answers = [f.result(timeout=60) for f in [pool.submit(post, path) for path in paths]]
    assert [status for status, _, _ in answers] == [200] * len(paths)
    for path, got in zip(paths, answers, strict=True):
        assert got == alone[path], f"a concurrent {path} answer differs from the one made alone"
    expected = segmenter(sample_image())
    np.testing.assert_array_equal(np.asarray(decode_png(alone[png][2])), expected)
    np.testing.assert_array_equal(np.asarray(decode_png(alone[json_][2]["labels_png"])), expected)


class GatedSegmenter(refineseg.Segmenter):
    """A segmenter that holds each image until the test opens its gate, to see what the server does meanwhile.

    ``started`` is set when the model has an image; ``calls`` counts the images it was given.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        self.started.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().__call__(image)


def test_inference_runs_off_the_event_loop():
    """While an image is being segmented, the server still answers other requests.

    The model holds the image until the other requests are answered (no timing: issue 26 saw
    a 0.3 s sleep and a 0.5 s bound flake on a loaded machine), so their answers cannot have
    waited for it."""
    gated = GatedSegmenter(tiny_model())
    with live_server(gated, quiet=True) as srv, ThreadPoolExecutor(max_workers=1) as pool:
        segmenting = pool.submit(request, srv, "POST", "/api/segment?format=png", png_bytes(sample_image()))
        try:
            assert gated.started.wait(30), "the image never reached the model"
            assert request(srv, "GET", "/healthz")[0] == 200
            assert request(srv, "GET", "/api/info")[0] == 200
            assert not segmenting.done()
        finally:
            gated.gate.set()
        assert segmenting.result(timeout=30)[0] == 200


def test_one_log_line_per_request(segmenter, capsys):
    with live_server(segmenter) as srv:
        assert request(srv, "GET", "/api/info")[0] == 200
        deadline = time.monotonic() + 5
        while "/api/info" not in (err := capsys.readouterr().err) and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and '"GET /api/info HTTP/1.1" 200' in lines[0], lines
    assert re.match(r'127\.0\.0\.1 \d\d:\d\d:\d\d "GET /api/info HTTP/1\.1" 200 \d+ B \d+ ms$', lines[0]), lines


# -- command line -------------------------------------------------------------------------------------


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--port", "--weights", "--workers", "--max-upload-mb", "--max-pixels", "curl", "/api/segment"):
        assert text in out
    for text in ("--max-inference-pixels", "--max-queue", "--timeout-keep-alive", "--limit-concurrency"):
        assert text in out
    for text in ("--allowed-hosts", "--api-key", "--api-key-file", "REFINESEG_API_KEY", "Retry-After"):
        assert text in out
    for text in ("format=png", "/healthz", "/openapi.json", "refineseg[serve]"):
        assert text in out


def test_cli_bad_arguments_are_one_line_errors(capsys, tmp_path):
    for argv, text in (
        (["serve", "--port", "70000"], "--port 70000"),
        (["serve", "--port", "-1"], "--port -1"),
        (["serve", "--workers", "0"], "--workers 0"),
        (["serve", "--max-upload-mb", "0"], "--max-upload-mb"),
        (["serve", "--max-pixels", "0"], "--max-pixels"),
        (["serve", "--max-inference-pixels", "-1"], "--max-inference-pixels"),
        (["serve", "--max-queue", "-1"], "--max-queue"),
        (["serve", "--timeout-keep-alive", "0"], "--timeout-keep-alive"),
        (["serve", "--limit-concurrency", "0"], "--limit-concurrency"),
        (["serve", "--allowed-hosts", "evil.*.com"], "--allowed-hosts evil.*.com"),
        (["serve", "--api-key", "k", "--api-key-file", str(tmp_path / "k")], "give one of them"),
        (["serve", "--api-key-file", str(tmp_path / "absent.txt")], "cannot read it"),
        (["serve", "--api-key", "two words"], "spaces"),
        (["serve", "--port", "0", "--weights", str(tmp_path / "absent.safetensors")], "no such weights file"),
    ):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("refineseg serve: error:") and text in err and len(err.splitlines()) == 1, err


def test_cli_port_in_use_names_host_and_port(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--weights", str(tmp_path / "never-loaded.safetensors")]) == 1
    err = capsys.readouterr().err.strip()
    assert f"127.0.0.1:{port}" in err and "in use" in err and len(err.splitlines()) == 1, err


def test_cli_serves_until_ctrl_c(capsys, tmp_path, monkeypatch):
    weights = tmp_path / "m.safetensors"
    refineseg.save_model(tiny_model(), weights)

    def interrupted(self, sockets=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn.Server, "run", interrupted)
    monkeypatch.delenv("REFINESEG_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--weights", str(weights)]) == 0
    captured = capsys.readouterr()
    assert re.search(r"serving lw_refinenet_mobilenet_v2 \(3 classes\) at http://127\.0\.0\.1:\d+/", captured.out)
    assert captured.out.rstrip().endswith("stopped")
    assert "reachable from other machines" in captured.err
    # without a key, the warning says so and how to give one; with a key, it says the API needs it
    assert "without any authentication" in captured.err and "--api-key-file" in captured.err
    assert "host names localhost, 127.0.0.1, ::1" in captured.err
    monkeypatch.setenv("REFINESEG_API_KEY", "k3y")
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--weights", str(weights)]) == 0
    err = capsys.readouterr().err
    assert "the API needs the key" in err and "without any authentication" not in err and "k3y" not in err


def test_cli_without_the_serve_extra_says_what_to_install():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['fastapi'] = None\nfrom refineseg.cli import main\nsys.exit(main(['serve']))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"refineseg serve: error: serving needs FastAPI: {install_hint('serve')}"


def test_help_and_import_load_no_web_stack():
    """``import refineseg`` and ``refineseg serve --help`` stay light: no FastAPI, uvicorn or torch."""
    probe = (
        "import contextlib, io, json, sys\n"
        "import refineseg\n"
        "from refineseg.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['serve', '--help'])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & {"fastapi", "starlette", "uvicorn", "pydantic", "torch", "anyio"}, sorted(loaded)


def test_config_travels_through_the_environment():
    config = ServeConfig(weights="w.safetensors", precision="fp32", calibration=("a.jpg",), workers=3, quiet=True)
    env: dict[str, str] = {}
    config.to_environment(env)
    assert ServeConfig.from_environment(env) == config
    with pytest.raises(ValueError, match="not set"):
        ServeConfig.from_environment({})
    with pytest.raises(ValueError, match="unknown fields: colour"):
        ServeConfig.from_json('{"colour": 1}')
    with pytest.raises(ValueError, match="workers"):
        ServeConfig(workers=0)


# -- the command in a subprocess: workers, load --------------------------------------------------------


class ServeProcess:
    """``python -m refineseg serve ... --port 0`` in a subprocess; ``url`` once it answers."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        weights = tmp_path / "tiny.safetensors"
        if not weights.exists():
            refineseg.save_model(tiny_model(), weights)
        self.log = tmp_path / "serve.log"
        command = [sys.executable, "-m", "refineseg", "serve", "--port", "0", "--weights", str(weights), *args]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        self.url = ""
        for line in self.process.stdout:
            if match := re.search(r" at (http://\S+/)", line):
                self.url = match.group(1)
                break
        assert self.url, f"the server did not start: {self.log.read_text()[-2000:]}"
        host, port = self.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.address = (host, int(port))
        deadline = time.monotonic() + 120
        while True:  # the port is bound before the model loads, listened on once the app is ready
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()[-2000:]
            time.sleep(0.1)

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(*self.address, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> str:
        """Ctrl-C, as a terminal sends it; returns what the command printed after its first line."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        return out


def rss_mib(pid: int) -> float:
    """A process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="memory and processes are read from /proc")
@pytest.mark.slow
def test_workers_serve_from_several_processes(tmp_path):
    srv = ServeProcess(tmp_path, "--workers", "2", "--precision", "fp32", "--quiet")
    try:
        workers = [
            pid for pid in children(srv.process.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2, workers
        data = png_bytes(sample_image())
        answers = set()
        for _ in range(6):
            conn = http.client.HTTPConnection(*srv.address, timeout=60)
            conn.request("POST", "/api/segment?format=png", body=data)
            response = conn.getresponse()
            assert response.status == 200
            answers.add(response.read())
            conn.close()
        assert len(answers) == 1
        assert json.loads(srv.get("/api/info")[1])["precision"] == "fp32"
    finally:
        out = srv.stop()
    assert srv.process.returncode == 0 and out.rstrip().endswith("stopped"), out


@pytest.mark.skipif(sys.platform != "linux", reason="memory is read from /proc")
@pytest.mark.slow
def test_load_many_concurrent_requests(tmp_path):
    """300 requests, 8 at a time, on a real server process: every answer is 200 and the same for the
    same image and format, and the server's memory stops growing once it is warm (the resident
    memory after the last 100 requests is within a few MiB of that after the first 100)."""
    image = png_bytes(sample_image(160, 120))
    paths = ["/api/segment?format=png", "/api/segment?format=overlay", "/api/segment"]
    srv = ServeProcess(tmp_path, "--precision", "fp32", "--quiet", "--max-pixels", "100000")
    local = threading.local()

    def post(i: int) -> tuple[str, int, bytes]:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(*srv.address, timeout=60)
        path = paths[i % len(paths)]
        local.conn.request("POST", path, body=image, headers={"Content-Type": "image/png"})
        response = local.conn.getresponse()
        return path, response.status, response.read()

    rss = []
    answers: dict[str, set] = {path: set() for path in paths}
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for round_ in range(3):
                for path, status, body in pool.map(post, range(round_ * 100, (round_ + 1) * 100)):
                    assert status == 200, body[:200]
                    answers[path].add(json.dumps(without_timing(body)) if path == "/api/segment" else body)
                rss.append(rss_mib(srv.process.pid))
        seconds = time.monotonic() - started
    finally:
        out = srv.stop()
    assert all(len(found) == 1 for found in answers.values()), {p: len(f) for p, f in answers.items()}
    assert rss[2] - rss[0] < max(16.0, 0.05 * rss[0]), f"RSS after each 100 requests: {rss} MiB"
    assert srv.process.returncode == 0 and out.rstrip().endswith("stopped")
    print(f"300 requests in {seconds:.1f} s, RSS after each 100: {', '.join(f'{r:.0f}' for r in rss)} MiB")
