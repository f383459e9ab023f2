"""Fault injection on ``refineseg serve`` (issue 23, items 8-12): real servers on loopback, bounded.

Each test sends what an abusive or unlucky client sends, to a real uvicorn server on a free port
of 127.0.0.1 (in a thread, or ``refineseg serve`` in a subprocess where the process itself is
measured or killed), and checks the answer, its timing or memory, or the log:

* item 8: a JPEG (632 bytes) and a PNG (about 100 kB) whose headers claim 6000x6000 are answered
  in about the time of an image at the compute budget, without gigabytes of memory; a truncated
  image is a 400 even when other code set Pillow's ``LOAD_TRUNCATED_IMAGES``; a client that hangs
  up has its work dropped before the model sees it;
* item 9: once the wait queue is full, the next request is answered 503 with ``Retry-After``
  before its body is sent;
* item 10: a connection that sends nothing, or trickles its request head, is closed after the
  keep-alive timeout; early refusals end their connection;
* item 11: a foreign Host is 400, a cross-site POST 403, the API key is wanted and accepted;
* item 12: a worker killed with SIGKILL is logged, and replaced.

Every loop is bounded in count and time; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import refineseg

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")

import uvicorn

from refineseg.serve import ServeConfig, bind, create_app
from refineseg.serve.run import uvicorn_config

from .test_serve import GatedSegmenter, ServeProcess, children, png_bytes, rss_mib, sample_image, tiny_model

pytestmark = pytest.mark.slow

LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="memory and processes are read from /proc")
# the longest any one answer is waited for; a server that takes longer has failed the test anyway
ANSWER_TIMEOUT_S = 120.0
API_KEY = "fault-injection-key-0123456789"


# -- servers and raw HTTP -----------------------------------------------------------------------------


class ThreadServer:
    """``app`` on a real uvicorn server with refineseg's settings, on a free loopback port, in a thread.

    ``uvicorn_options`` override settings of :func:`refineseg.serve.run.uvicorn_config`.
    """

    def __init__(self, app, **uvicorn_options: object) -> None:
        self.app = app
        self.sock = bind("127.0.0.1", 0)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.host = f"127.0.0.1:{self.address[1]}"
        config = uvicorn_config(app, ServeConfig(host="127.0.0.1", port=0), **uvicorn_options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def head(method: str, path: str, host: str, *headers: str, length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length, read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer: {data[:200]!r}"
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the middle of the answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reading and dropping anything it sends), or ``None``."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def exchange(
    address: tuple[str, int], data: bytes, timeout: float = ANSWER_TIMEOUT_S
) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def post_image(
    address: tuple[str, int], host: str, path: str, image: bytes, *headers: str
) -> tuple[int, dict[str, str], bytes]:
    return exchange(address, head("POST", path, host, *headers, length=len(image)) + image)


def json_error(status_headers_body: tuple[int, dict[str, str], bytes]) -> tuple[int, str]:
    status, headers, body = status_headers_body
    assert headers["content-type"].startswith("application/json"), (status, headers)
    payload = json.loads(body)
    assert "error" in payload, (status, body[:200])
    return status, payload["error"]


def wait_for(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class RssPeak:
    """The highest resident memory of a process while the block runs, sampled from /proc every 10 ms.

    (VmHWM would hide a peak below the one the process reached when it loaded its model.)
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start_mib = self.peak_mib = rss_mib(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            with contextlib.suppress(OSError, AssertionError):
                self.peak_mib = max(self.peak_mib, rss_mib(self.pid))

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    @property
    def growth_mib(self) -> float:
        """How far above its resident memory at the start the process went."""
        return self.peak_mib - self.start_mib


def stop(srv: ServeProcess) -> None:
    """Ctrl-C, and SIGKILL where the server does not end within a minute (a test that failed)."""
    try:
        srv.stop()
    except subprocess.TimeoutExpired:
        srv.process.kill()
        srv.process.communicate(timeout=30)


@pytest.fixture(scope="module")
def segmenter() -> refineseg.Segmenter:
    return refineseg.Segmenter(tiny_model())


@contextlib.contextmanager
def gated_server(**app_options: object) -> Iterator[tuple[ThreadServer, GatedSegmenter]]:
    gated = GatedSegmenter(tiny_model())
    try:
        with ThreadServer(create_app(gated, quiet=True, **app_options)) as srv:
            yield srv, gated
    finally:
        gated.gate.set()


# -- item 8: the compute budget, truncated images, clients that hang up ----------------------------------


def bomb_jpeg(width: int = 6000, height: int = 6000) -> bytes:
    """A 16x16 JPEG whose frame header (SOF0) claims ``width`` x ``height``: a few hundred bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 60)).save(buffer, format="JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    struct.pack_into(">HH", data, sof + 5, height, width)  # marker, length (2), precision (1), height, width
    return bytes(data)


def bomb_png(width: int = 6000, height: int = 6000) -> bytes:
    """A black ``width`` x ``height`` PNG: about 100 kB that decode to 36 Mpx."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def process_server(tmp_path_factory) -> Iterator[ServeProcess]:
    srv = ServeProcess(tmp_path_factory.mktemp("serve"), "--precision", "fp32", "--quiet")
    try:
        yield srv
    finally:
        stop(srv)


@LINUX_ONLY
def test_a_header_claiming_36_megapixels_costs_no_more_than_the_budget(process_server):
    """Issue 23 item 8: a 631-byte JPEG and a 100 kB PNG claiming 6000x6000 pixels took 47-84 s at
    5 GB. Now they are decoded small and segmented at the compute budget (1 Mpx by default): each
    costs about what a 1024x1024 photo costs, in time and in peak memory (measured against one,
    on the same server: the machine may be loaded), and the labels still come back at 6000x6000."""
    srv = process_server
    host = f"127.0.0.1:{srv.address[1]}"
    noise = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    reference = png_bytes(Image.fromarray(noise))  # exactly the budget: segmented as it is
    cases = [
        ("1024x1024 reference, warm-up", reference, "png"),
        ("1024x1024 reference", reference, "png"),
        ("1024x1024 reference, json", reference, "json"),
        ("6000x6000 JPEG", bomb_jpeg(), "png"),
        ("6000x6000 PNG", bomb_png(), "png"),
        ("6000x6000 JPEG, json", bomb_jpeg(), "json"),
    ]
    costs: dict[str, tuple[float, float]] = {}
    for name, data, fmt in cases:
        with RssPeak(srv.process.pid) as memory:
            started = time.monotonic()
            status, _, body = post_image(srv.address, host, f"/api/segment?format={fmt}", data)
            seconds = time.monotonic() - started
        assert status == 200, (name, body[:300])
        costs[name] = (seconds, memory.growth_mib)
        print(f"{name} ({len(data):,} bytes): {seconds:.2f} s, peak RSS +{memory.growth_mib:.0f} MiB")
        if name.startswith("6000x6000"):  # the API's promise: labels at the image's size
            if fmt == "png":
                assert Image.open(io.BytesIO(body)).size == (6000, 6000)
            else:
                result = json.loads(body)
                assert (result["width"], result["height"]) == (6000, 6000)
                assert (result["inference_width"], result["inference_height"]) == (1024, 1024)
                assert sum(c["pixels"] for c in result["classes"]) == 6000 * 6000
                assert Image.open(io.BytesIO(base64.b64decode(result["labels_png"]))).size == (6000, 6000)
    assert len(bomb_jpeg()) < 1000
    reference_s = max(costs["1024x1024 reference"][0], costs["1024x1024 reference, json"][0])
    reference_mib = max(costs["1024x1024 reference"][1], costs["1024x1024 reference, json"][1])
    for name in ("6000x6000 JPEG", "6000x6000 PNG", "6000x6000 JPEG, json"):
        seconds, growth = costs[name]
        assert seconds < 2 * reference_s + 3, f"{name}: {seconds:.1f} s, against {reference_s:.1f} s at the budget"
        assert growth < reference_mib + 300, f"{name}: peak RSS +{growth:.0f} MiB, against +{reference_mib:.0f} MiB"


def test_truncated_images_are_400_even_when_pillow_is_told_to_load_them(segmenter, monkeypatch):
    """A library in the process may set Pillow's LOAD_TRUNCATED_IMAGES (then a cut file decodes,
    its missing part grey); the server refuses truncated files all the same."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8))
    jpeg = io.BytesIO()
    noise.save(jpeg, format="JPEG", quality=95)
    with ThreadServer(create_app(segmenter, quiet=True)) as srv:
        for name, data in (("jpeg", jpeg.getvalue()), ("png", png_bytes(noise))):
            answer = post_image(srv.address, srv.host, "/api/segment?format=png", data[: len(data) * 2 // 3])
            status, message = json_error(answer)
            assert status == 400 and "truncated" in message, (name, status, message)


@pytest.mark.parametrize("jobs", [1, 4], ids=["waiting-for-a-job", "waiting-for-the-model"])
def test_a_client_that_hangs_up_has_its_work_dropped(jobs):
    """While the model holds request A, request B arrives whole and its client hangs up: the
    model never sees B's image (whether B waited for a job slot or for the model thread)."""
    image = png_bytes(sample_image())
    with gated_server(jobs=jobs) as (srv, gated), contextlib.ExitStack() as stack:
        service = srv.app.state.service
        a = stack.enter_context(socket.create_connection(srv.address, timeout=ANSWER_TIMEOUT_S))
        a.sendall(head("POST", "/api/segment?format=png", srv.host, length=len(image)) + image)
        assert gated.started.wait(30), "request A never reached the model"
        b = socket.create_connection(srv.address, timeout=30)
        b.sendall(head("POST", "/api/segment?format=png", srv.host, length=len(image)) + image)
        wait_for(lambda: getattr(service, "admitted", 0) == 2)  # B is in (its body read with its head)
        b.close()
        if jobs > 1:  # B waits for the model: it is dropped from the model's queue as soon as it is gone
            assert wait_for(lambda: getattr(service, "skipped", 0) == 1), "B was not dropped while A ran"
        gated.gate.set()
        assert read_response(a)[0] == 200
        # the model thread runs in order: had B been queued, it would run before C
        assert post_image(srv.address, srv.host, "/api/segment?format=png", image)[0] == 200
        assert gated.calls == 2, f"the model segmented {gated.calls} images (A, C and the dropped B?)"
        assert service.skipped == 1


# -- item 9: a bounded wait queue ------------------------------------------------------------------------


def test_a_full_queue_is_503_with_retry_after_before_the_body_is_sent():
    """With the model busy, the default queue admits 4 jobs + 8 waiting; the 13th request is refused
    at once, before it sends its body (so uploads in memory are bounded by configuration)."""
    image = png_bytes(sample_image())
    with gated_server() as (srv, gated), contextlib.ExitStack() as stack:
        service = srv.app.state.service
        waiting = []
        for _ in range(12):
            sock = stack.enter_context(socket.create_connection(srv.address, timeout=ANSWER_TIMEOUT_S))
            sock.sendall(head("POST", "/api/segment?format=png", srv.host, length=len(image)) + image)
            waiting.append(sock)
        assert gated.started.wait(30)
        wait_for(lambda: getattr(service, "admitted", 0) == 12)
        # only the head of a 5 MB upload: the answer comes without the body
        with socket.create_connection(srv.address, timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(head("POST", "/api/segment", srv.host, "Content-Type: image/png", length=5_000_000))
            answer = read_response(sock)
            seconds = time.monotonic() - started
            status, message = json_error(answer)
            assert status == 503 and "busy" in message, (status, message)
            assert 1 <= int(answer[1]["retry-after"]) <= 60 and answer[1]["connection"] == "close"
            assert closed_within(sock, 10) is not None, "the refused connection stayed open"
        assert seconds < 5, f"the refusal took {seconds:.1f} s"
        # ten more, bodies and all: every one refused, none admitted
        statuses = [post_image(srv.address, srv.host, "/api/segment", image)[0] for _ in range(10)]
        assert statuses == [503] * 10 and service.admitted == 12
        gated.gate.set()
        assert [read_response(sock)[0] for sock in waiting] == [200] * 12
    assert service.admitted == 0 and service.refused == 11


# -- item 10: idle connections, early refusals ------------------------------------------------------------


def test_idle_and_half_sent_connections_are_closed(segmenter):
    """uvicorn closed an idle connection only after an answer: one that sent nothing, or half a
    request head, stayed open for ever (1100 of them exhausted the open files)."""
    with ThreadServer(create_app(segmenter, quiet=True), timeout_keep_alive=1) as srv:
        # sends nothing
        with socket.create_connection(srv.address, timeout=10) as sock:
            seconds = closed_within(sock, 10)
            assert seconds is not None and 0.5 < seconds < 5, seconds
        # half a request head, the rest trickled: the deadline is not extended by the pieces
        with socket.create_connection(srv.address, timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            with contextlib.suppress(OSError):
                for i in range(8):
                    time.sleep(0.4)
                    sock.sendall(f"X-Trickle-{i}: 1\r\n".encode())
            assert closed_within(sock, 10) is not None
            assert time.monotonic() - started < 6
        # after an answer, the keep-alive timeout as before
        with socket.create_connection(srv.address, timeout=10) as sock:
            sock.sendall(head("GET", "/healthz", srv.host))
            assert read_response(sock)[0] == 200
            seconds = closed_within(sock, 10)
            assert seconds is not None and seconds < 5


def test_early_refusals_end_their_connection(segmenter):
    """An answer sent before the request body was read (bad format=, 404, 405, a refused Host...)
    says Connection: close and ends the connection; one whose body was read (a form that does not
    parse) may keep it, until the keep-alive timeout. Before, both stayed open indefinitely."""
    with ThreadServer(create_app(segmenter, quiet=True)) as srv:
        cases = (
            ("POST", "/api/segment?format=jpeg", ("Content-Type: image/png",), 400),
            ("POST", "/nope", (), 404),
            ("POST", "/api/info", (), 405),
        )
        for method, path, headers, expected in cases:
            with socket.create_connection(srv.address, timeout=10) as sock:
                sock.sendall(head(method, path, srv.host, *headers, length=2000) + b"x" * 2000)
                status, answer_headers, _ = read_response(sock)
                assert status == expected, (path, status)
                assert answer_headers.get("connection") == "close", (path, answer_headers)
                assert closed_within(sock, 10) is not None, f"{path}: the connection stayed open"
        with socket.create_connection(srv.address, timeout=10) as sock:
            multipart = ("Content-Type: multipart/form-data; boundary=zz",)
            sock.sendall(head("POST", "/api/segment", srv.host, *multipart, length=2000) + b"x" * 2000)
            assert read_response(sock)[0] == 400
            assert closed_within(sock, 15) is not None, "the connection stayed open after the keep-alive timeout"
        # a request without a body keeps its connection
        with socket.create_connection(srv.address, timeout=10) as sock:
            for _ in range(2):
                sock.sendall(head("GET", "/nope", srv.host))
                status, answer_headers, _ = read_response(sock)
                assert status == 404 and "connection" not in answer_headers


def test_beyond_the_connection_limit_requests_are_503(segmenter):
    with ThreadServer(create_app(segmenter, quiet=True), limit_concurrency=4) as srv:
        with contextlib.ExitStack() as stack:
            for _ in range(4):
                stack.enter_context(socket.create_connection(srv.address, timeout=10))
            assert wait_for(lambda: len(srv.server.server_state.connections) >= 4)
            status, headers, _ = exchange(srv.address, head("GET", "/healthz", srv.host), timeout=10)
            assert status == 503 and headers.get("connection") == "close"
        assert wait_for(lambda: len(srv.server.server_state.connections) == 0)
        assert exchange(srv.address, head("GET", "/healthz", srv.host), timeout=10)[0] == 200


# -- item 11: Host, Origin, API key ------------------------------------------------------------------------


def test_a_foreign_host_is_400(segmenter):
    """DNS rebinding: a page at evil.example.com whose name now points at 127.0.0.1 sends its own name."""
    with ThreadServer(create_app(segmenter, quiet=True)) as srv:
        port = srv.address[1]
        for host in ("evil.example.com", f"evil.example.com:{port}"):
            answer = exchange(srv.address, head("GET", "/api/info", host), timeout=10)
            status, message = json_error(answer)
            assert status == 400 and "--allowed-hosts" in message and answer[1]["connection"] == "close"
        for host in (srv.host, f"localhost:{port}", f"[::1]:{port}"):
            assert exchange(srv.address, head("GET", "/api/info", host), timeout=10)[0] == 200, host


def test_a_cross_site_post_is_403_and_never_segmented():
    """A page on any site can make the browser send a text/plain POST without asking; its Origin
    header says where it came from."""
    image = png_bytes(sample_image())
    with gated_server() as (srv, gated):
        gated.gate.set()
        for origin in ("http://evil.example.com", "null", f"http://localhost:{srv.address[1] + 1}"):
            answer = post_image(
                srv.address, srv.host, "/api/segment", image, f"Origin: {origin}", "Content-Type: text/plain"
            )
            status, message = json_error(answer)
            assert status == 403 and "own page" in message, (origin, status, message)
        assert gated.calls == 0
        # the server's own page
        own = post_image(srv.address, srv.host, "/api/segment", image, f"Origin: http://{srv.host}")
        assert own[0] == 200 and gated.calls == 1


@pytest.fixture(scope="module")
def workers_server(tmp_path_factory) -> Iterator[ServeProcess]:
    """``refineseg serve --workers 2`` with an API key from the environment (which the workers get too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFINESEG_API_KEY", API_KEY)
        srv = ServeProcess(tmp_path_factory.mktemp("workers"), "--workers", "2", "--precision", "fp32", "--quiet")
    try:
        yield srv
    finally:
        stop(srv)


@LINUX_ONLY
def test_the_api_key_is_wanted_and_accepted(workers_server):
    srv = workers_server
    host = f"127.0.0.1:{srv.address[1]}"
    for _ in range(4):  # whichever worker answers
        answer = exchange(srv.address, head("GET", "/api/info", host), timeout=30)
        status, message = json_error(answer)
        assert status == 401 and "Authorization: Bearer" in message
        assert answer[1]["www-authenticate"].startswith("Bearer")
        assert json_error(exchange(srv.address, head("GET", "/api/info", host, "X-API-Key: wrong"), timeout=30)) == (
            401,
            "the API key is wrong",
        )
        for given in (f"Authorization: Bearer {API_KEY}", f"X-API-Key: {API_KEY}"):
            assert exchange(srv.address, head("GET", "/api/info", host, given), timeout=30)[0] == 200
    image = png_bytes(sample_image())
    assert post_image(srv.address, host, "/api/segment", image)[0] == 401
    assert post_image(srv.address, host, "/api/segment", image, f"X-API-Key: {API_KEY}")[0] == 200
    for path in ("/healthz", "/", "/static/app.js"):  # open: no data, no work
        assert exchange(srv.address, head("GET", path, host), timeout=30)[0] == 200, path


# -- item 12: a worker that dies ------------------------------------------------------------------------


def workers_of(srv: ServeProcess) -> list[int]:
    return [pid for pid in children(srv.process.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@LINUX_ONLY
def test_a_killed_worker_is_logged_and_replaced(workers_server):
    srv = workers_server
    assert wait_for(lambda: len(workers_of(srv)) == 2, 60)
    victim = workers_of(srv)[0]
    os.kill(victim, signal.SIGKILL)
    line = f"worker {victim} was killed by SIGKILL"
    assert wait_for(lambda: line in srv.log.read_text(), 30), f"nothing logged: {srv.log.read_text()[-2000:]}"
    log = srv.log.read_text()
    assert "the requests it was answering got no answer" in log
    assert f"Child process [{victim}] died" in log  # uvicorn's own line, no longer swallowed
    # uvicorn starts another, which loads its model and answers
    assert wait_for(lambda: len(workers_of(srv)) == 2 and victim not in workers_of(srv), 60)
    host = f"127.0.0.1:{srv.address[1]}"
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    answered = 0
    while answered < 6 and time.monotonic() < deadline:  # both workers, whichever the kernel picks
        with contextlib.suppress(OSError, AssertionError):
            if exchange(srv.address, head("GET", "/healthz", host), timeout=30)[0] == 200:
                answered += 1
    assert answered == 6
