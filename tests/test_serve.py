"""``refineseg serve``: the HTTP API and page, against a real server on a free port with a tiny model."""

from __future__ import annotations

import base64
import http.client
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg
from refineseg.cli import main
from refineseg.serve import SegmentationServer, make_server
from refineseg.serve.app import STATIC_DIR

CLASS_NAMES = ["sky", "road", "car"]
PALETTE = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
WIDTH, HEIGHT = 56, 40
MAX_UPLOAD = 200_000
MAX_PIXELS = 10_000


def tiny_model() -> refineseg.SegmentationModel:
    """A 3-class Light-Weight RefineNet with random (seeded) weights: fast, and its classes are known.

    The classifier gets larger weights than its initialisation gives, so that the sample image
    comes out as several classes rather than one, and the legend has rows to check.
    """
    torch.manual_seed(0)
    model = refineseg.lw_refinenet_mobilenet_v2(num_classes=3)
    with torch.no_grad():
        classifier = model.head.classifier
        classifier.weight.copy_(torch.randn(classifier.weight.shape, generator=torch.Generator().manual_seed(2)))
        classifier.bias.zero_()
    model.meta.class_names = list(CLASS_NAMES)
    model.meta.palette = list(PALETTE)
    return model


def sample_image(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A small RGB picture with some structure (sky-ish top, grey bottom, a dark block)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    rgb[..., 1] = np.where(y < height // 2, 180, 90)
    rgb[..., 2] = np.where(y < height // 2, 230, 90)
    rgb[height // 2 :, width // 3 : width // 2] = 20
    return Image.fromarray(rgb)


def png_bytes(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


def start_server(segmenter: refineseg.Segmenter, **options: object) -> tuple[SegmentationServer, threading.Thread]:
    server = make_server(segmenter, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def stop_server(server: SegmentationServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def segmenter() -> refineseg.Segmenter:
    return refineseg.Segmenter(tiny_model())


@pytest.fixture(scope="module")
def server(segmenter: refineseg.Segmenter) -> Iterator[SegmentationServer]:
    srv, thread = start_server(segmenter, max_upload_bytes=MAX_UPLOAD, max_pixels=MAX_PIXELS, quiet=True)
    yield srv
    stop_server(srv, thread)


def request(
    server: SegmentationServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_exchange(server: SegmentationServer, head: str, body: bytes = b"") -> bytes:
    """Send exactly these bytes and read the answer until the server closes: for requests http.client won't make."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def error_of(status_body: tuple[int, http.client.HTTPMessage, bytes]) -> tuple[int, str]:
    status, headers, body = status_body
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


# -- page ---------------------------------------------------------------------------------------------


def test_page_is_served_with_its_elements(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    for element in ('id="file"', 'id="overlay"', 'id="legend"', 'id="error"', 'id="status"'):
        assert element in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and body


def test_page_uses_no_external_resources():
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path.name
        assert not re.search(r"url\(\s*[\"']?(https?:)?//|@import|fonts\.googleapis", text), path.name


def test_static_files_cannot_escape_the_folder(server):
    for path in ("/static/..%2fapp.py", "/static/%2e%2e/app.py", "/static/../app.py", "/static/.x", "/static/"):
        assert request(server, "GET", path)[0] == 404, path
    assert raw_exchange(server, "GET /static/../../__init__.py HTTP/1.0\n").startswith(b"HTTP/1.1 404")


def test_head_and_keep_alive(server):
    status, headers, body = request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        for _ in range(2):  # the same connection serves both
            conn.request("GET", "/api/info")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["model"]
    finally:
        conn.close()


# -- API ----------------------------------------------------------------------------------------------


def test_info_lists_model_classes_and_limits(server):
    status, headers, body = request(server, "GET", "/api/info")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    info = json.loads(body)
    assert info["model"] == "lw_refinenet_mobilenet_v2"
    assert info["classes"] == [{"name": n, "color": list(c)} for n, c in zip(CLASS_NAMES, PALETTE, strict=True)]
    assert info["limits"] == {"max_upload_bytes": MAX_UPLOAD, "max_pixels": MAX_PIXELS}


def test_segment_json(server, segmenter):
    image = sample_image()
    status, _, body = request(server, "POST", "/api/segment", png_bytes(image), {"Content-Type": "image/png"})
    assert status == 200, body
    result = json.loads(body)
    assert (result["width"], result["height"]) == (WIDTH, HEIGHT)
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


def test_segment_png_and_overlay_formats(server, segmenter):
    image = sample_image()
    status, headers, body = request(server, "POST", "/api/segment?format=png", png_bytes(image))
    assert status == 200 and headers["Content-Type"] == "image/png"
    labels = decode_png(body)
    assert labels.mode == "P" and labels.size == image.size
    np.testing.assert_array_equal(np.asarray(labels), segmenter(image))
    assert labels.getpalette()[:9] == [v for c in PALETTE for v in c]

    # a JPEG without Content-Type: any body is taken as the image
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG")
    status, headers, body = request(server, "POST", "/api/segment?format=overlay", jpeg.getvalue())
    assert status == 200 and headers["Content-Type"] == "image/png"
    overlay = decode_png(body)
    assert overlay.mode == "RGB" and overlay.size == image.size


def test_segment_multipart_form_upload(server):
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
    status, _, answer = request(server, "POST", "/api/segment", body, headers)
    assert status == 200, answer
    raw = json.loads(request(server, "POST", "/api/segment", data)[2])
    assert json.loads(answer)["classes"] == raw["classes"]

    no_image = f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--{boundary}--\r\n'.encode()
    status, message = error_of(request(server, "POST", "/api/segment", no_image, headers))
    assert status == 400 and '"image"' in message


def test_unreadable_uploads_are_400_with_a_clear_message(server):
    status, message = error_of(request(server, "POST", "/api/segment", b"just some notes, not a picture\n"))
    assert status == 400 and message.startswith("the upload is not a readable image (")
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    whole = png_bytes(Image.fromarray(noise))
    truncated = whole[: len(whole) // 2]
    status, message = error_of(request(server, "POST", "/api/segment", truncated))
    assert status == 400 and "not a readable image" in message
    status, message = error_of(request(server, "POST", "/api/segment", b""))
    assert status == 400 and "empty" in message


def test_oversized_upload_is_refused_before_its_body_is_read(server):
    # only the headers go out: an answer proves the server did not wait for the 10 MB it was told about
    started = time.monotonic()
    answer = raw_exchange(
        server, "POST /api/segment HTTP/1.1\nHost: x\nContent-Type: image/png\nContent-Length: 10000000\n"
    )
    assert time.monotonic() - started < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    assert "more than the limit of" in json.loads(body)["error"]
    # curl asks first for large files (Expect: 100-continue) and gets the refusal instead of "continue"
    answer = raw_exchange(
        server, "POST /api/segment HTTP/1.1\nHost: x\nContent-Length: 10000000\nExpect: 100-continue\n"
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer


def test_upload_without_length_is_411(server):
    answer = raw_exchange(server, "POST /api/segment HTTP/1.1\nHost: x\nConnection: close\n")
    assert answer.startswith(b"HTTP/1.1 411") and b"Content-Length" in answer
    answer = raw_exchange(
        server, "POST /api/segment HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n", b"5\r\nhello\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 411")


def test_too_many_pixels_is_refused(server):
    status, message = error_of(request(server, "POST", "/api/segment", png_bytes(sample_image(200, 100))))
    assert status == 413 and "20,000 pixels" in message and "10,000" in message


def test_unknown_paths_methods_and_formats(server):
    status, message = error_of(request(server, "GET", "/nope"))
    assert status == 404 and "/nope" in message
    status, headers, body = request(server, "GET", "/api/segment")
    assert (status, headers["Allow"]) == (405, "POST") and "use POST" in json.loads(body)["error"]
    assert request(server, "PUT", "/api/info", b"x")[0] == 405
    assert request(server, "POST", "/", b"x")[0] == 405
    status, message = error_of(request(server, "POST", "/api/segment?format=jpeg", png_bytes(sample_image())))
    assert status == 400 and "jpeg" in message and "format=png" in message


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
        result = json.loads(body)
        assert isinstance(result.pop("elapsed_ms"), float)  # the one field that may differ
        return status, headers["Content-Type"], result

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


def test_one_log_line_per_request(segmenter, capsys):
    srv, thread = start_server(segmenter)
    try:
        assert request(srv, "GET", "/api/info")[0] == 200
        deadline = time.monotonic() + 5
        while "/api/info" not in (err := capsys.readouterr().err) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop_server(srv, thread)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and '"GET /api/info HTTP/1.1" 200' in lines[0], lines


# -- command line -------------------------------------------------------------------------------------


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--port", "--weights", "--max-upload-mb", "--max-pixels", "curl", "/api/segment", "format=png"):
        assert text in out


def test_cli_bad_arguments_are_one_line_errors(capsys, tmp_path):
    for argv, text in (
        (["serve", "--port", "70000"], "--port 70000"),
        (["serve", "--port", "-1"], "--port -1"),
        (["serve", "--max-upload-mb", "0"], "--max-upload-mb"),
        (["serve", "--max-pixels", "0"], "--max-pixels"),
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

    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(SegmentationServer, "serve_forever", interrupted)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--weights", str(weights)]) == 0
    captured = capsys.readouterr()
    assert re.search(r"serving lw_refinenet_mobilenet_v2 \(3 classes\) at http://127\.0\.0\.1:\d+/", captured.out)
    assert captured.out.rstrip().endswith("stopped")
    assert "reachable from other machines" in captured.err
