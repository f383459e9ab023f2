"""The HTTP server behind ``refineseg serve``: a page, ``GET /api/info`` and ``POST /api/segment``.

Standard library only (``http.server``): serving a model should not pull in a web framework.
Requests run in threads, but they share one model, so inference runs under a lock (one image
at a time keeps memory bounded and is as fast on a CPU); decoding, PNG encoding and sending
happen outside it. Every failure a client can cause is answered with a JSON
``{"error": "..."}`` in one sentence, never with a traceback or a server path.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import errno
import io
import ipaddress
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from PIL import Image

from ..constants import DEFAULT_HOST, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, MB
from ..inference.images import pil_to_rgb

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PORT",
    "FORMATS",
    "SegmentationServer",
    "check_can_listen",
    "make_server",
    "serve",
]

FORMATS = ("json", "png", "overlay")

STATIC_DIR = Path(__file__).resolve().parent / "static"
# a slow or stalled client frees its thread after this long
REQUEST_TIMEOUT_S = 60.0
# after refusing an upload unread, how long we keep swallowing what the client still sends, so
# that closing the socket does not reset the connection before the client has read the answer
DISCARD_S = 2.0

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
# the page uses nothing but its own files and the data: URLs of the results it shows
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class HTTPError(Exception):
    """A request the server refuses; sent to the client as ``{"error": message}`` with ``status``.

    Args:
        status: The HTTP status code.
        message: One sentence for the client.
        headers: Extra response headers (``Allow`` for a 405).
    """

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = tuple(headers)


class SegmentationServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one :class:`Segmenter` (and the lock that serialises its use).

    Args:
        address: ``(host, port)`` to bind; an IPv6 host (with ``:``) listens on IPv6.
        segmenter: The model and its preprocessing.
        max_upload_bytes: Larger uploads are refused with 413.
        max_pixels: Larger images are refused with 413.
        quiet: Whether to leave out the per-request log lines.

    Raises:
        ValueError: If a limit is not positive.
        OSError: If the address cannot be bound.
    """

    daemon_threads = True  # a hung client must not keep Ctrl-C from ending the process
    allow_reuse_port = False  # never share a port with another server

    def __init__(
        self,
        address: tuple[str, int],
        segmenter: Segmenter,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        quiet: bool = False,
    ) -> None:
        if max_upload_bytes <= 0:
            raise ValueError(f"max_upload_bytes must be positive, got {max_upload_bytes}")
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        self.segmenter = segmenter
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.quiet = quiet
        self.lock = threading.Lock()
        self.model_name = str(getattr(segmenter.model, "arch", type(segmenter.model).__name__))
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        """Bind the socket, without ``HTTPServer``'s DNS lookup of the host name."""
        # HTTPServer.server_bind looks the host's name up in DNS (socket.getfqdn), which can stall
        # for seconds on a machine without network; the name is never used here
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or stalls is routine, not worth a traceback; anything else is.

        Args:
            request: The client's socket.
            client_address: The client's address.
        """
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    @property
    def host(self) -> str:
        """The address listened on."""
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        """The port listened on (the one picked, after port 0)."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """Where a browser on this machine finds the page (loopback when listening on all interfaces)."""
        host = self.host
        if host == "0.0.0.0":
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://{_host_port(host, self.port)}/"

    @property
    def reachable_from_other_machines(self) -> bool:
        """Whether the address listened on is not a loopback address."""
        try:
            return not ipaddress.ip_address(self.host.split("%")[0]).is_loopback
        except ValueError:
            return True

    def info(self) -> dict[str, Any]:
        """What ``GET /api/info`` answers: the model, its classes and colours, and the upload limits.

        Returns:
            JSON-ready data: ``model``, ``precision``, ``num_classes``, ``classes``, ``limits``, ``formats``.
        """
        seg = self.segmenter
        return {
            "model": self.model_name,
            "precision": seg.precision,
            "num_classes": seg.num_classes,
            "classes": [{"name": n, "color": list(c)} for n, c in zip(seg.class_names, seg.palette, strict=True)],
            "limits": {"max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels},
            "formats": list(FORMATS),
        }


def check_can_listen(host: str, port: int) -> None:
    """Raise the ``OSError`` :func:`make_server` would, without a model: lets the CLI fail before loading one.

    Args:
        host: The address to listen on.
        port: The port (0 is always accepted).

    Raises:
        OSError: Naming ``host:port`` and why (e.g. the port is in use).
    """
    if port == 0:
        return
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind((host, port))
    except OSError as exc:
        raise _listen_error(host, port, exc) from None


def make_server(
    segmenter: Segmenter,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    quiet: bool = False,
) -> SegmentationServer:
    """A bound, not yet running server; call ``serve_forever()`` (or :func:`serve`).

    Args:
        segmenter: The model and its preprocessing.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        max_upload_bytes: Larger uploads are refused with 413.
        max_pixels: Larger images are refused with 413.
        quiet: Whether to leave out the per-request log lines.

    Returns:
        The server.

    Raises:
        ValueError: If ``port`` is out of range or a limit is not positive.
        OSError: For a port in use or an unknown host; the message names ``host:port``.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range; expected 0 to 65535")
    try:
        return SegmentationServer(
            (host, port), segmenter, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels, quiet=quiet
        )
    except OSError as exc:
        raise _listen_error(host, port, exc) from None


def serve(server: SegmentationServer) -> None:
    """Serve until Ctrl-C, printing the URL first; returns normally when interrupted.

    A warning goes to stderr when the server is reachable from other machines. The server is
    closed on return.

    Args:
        server: What :func:`make_server` returned.
    """
    segmenter = server.segmenter
    try:
        print(
            f"serving {server.model_name} ({segmenter.num_classes} classes) at {server.url}  (Ctrl-C stops)",
            flush=True,
        )
        if server.reachable_from_other_machines:
            print(
                f"warning: listening on {server.host}, so the page and API are reachable from other machines "
                "on the network, without any authentication",
                file=sys.stderr,
                flush=True,
            )
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()


class RequestHandler(BaseHTTPRequestHandler):
    """Routes one request; every expected failure becomes a JSON error, everything else a 500."""

    server: SegmentationServer
    server_version = "refineseg"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive for the page, and Expect: 100-continue for curl
    timeout = REQUEST_TIMEOUT_S

    def version_string(self) -> str:
        """The ``Server`` header: ``refineseg``, without the Python version.

        Returns:
            ``server_version``.
        """
        return self.server_version

    def setup(self) -> None:
        """Set up the connection and its per-request state."""
        super().setup()
        self._started = time.monotonic()
        self._unread_body = False

    def parse_request(self) -> bool:
        """Start timing a request, then parse it as ``http.server`` does.

        Returns:
            Whether the request line and headers were valid (else an error was sent).
        """
        self._started = time.monotonic()
        self._unread_body = False
        return super().parse_request()

    # -- methods ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """Route a GET request."""
        self._handle()

    def do_HEAD(self) -> None:
        """Route a HEAD request."""
        self._handle()

    def do_POST(self) -> None:
        """Route a POST request."""
        self._handle()

    def do_PUT(self) -> None:
        """Route a PUT request (answered with 404 or 405)."""
        self._handle()

    def do_DELETE(self) -> None:
        """Route a DELETE request (answered with 404 or 405)."""
        self._handle()

    def do_PATCH(self) -> None:
        """Route a PATCH request (answered with 404 or 405)."""
        self._handle()

    def do_OPTIONS(self) -> None:
        """Route an OPTIONS request (answered with 404 or 405)."""
        self._handle()

    def handle_expect_100(self) -> bool:
        """Refuse an oversized upload before the client sends it (curl asks first for large files).

        Returns:
            Whether the client may send the body.
        """
        length = self.headers.get("Content-Length", "")
        if self.command == "POST" and length.strip().isdigit() and int(length) > self.server.max_upload_bytes:
            self._unread_body = True
            self._send_error(413, _too_large_message(int(length), self.server.max_upload_bytes))
            return False
        return super().handle_expect_100()

    def _route(self, path: str) -> tuple[tuple[str, ...], Callable[[str], None]] | None:
        if path in ("/", "/index.html"):
            return ("GET", "HEAD"), lambda _query: self._send_static("index.html")
        if path == "/api/info":
            return ("GET", "HEAD"), lambda _query: self._send_json(200, self.server.info())
        if path == "/api/segment":
            return ("POST",), self._segment
        if path.startswith("/static/"):
            name = unquote(path[len("/static/") :])
            if _static_file(name) is not None:
                return ("GET", "HEAD"), lambda _query: self._send_static(name)
        return None

    def _handle(self) -> None:
        length = self.headers.get("Content-Length", "0").strip()
        self._unread_body = length != "0" or "Transfer-Encoding" in self.headers
        try:
            url = urlsplit(self.path)
            route = self._route(url.path)
            if route is None:
                raise HTTPError(404, f"there is nothing at {_clip(url.path, 80)}; try GET / or POST /api/segment")
            methods, action = route
            if self.command not in methods:
                allowed = ", ".join(methods)
                raise HTTPError(
                    405,
                    f"{self.command} is not allowed on {url.path}; use {' or '.join(methods)}",
                    [("Allow", allowed)],
                )
            action(url.query)
        except HTTPError as exc:
            self._send_error(exc.status, exc.message, exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nobody to answer
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._send_error(500, "the server failed on this request; its log has the details")

    # -- POST /api/segment ------------------------------------------------------------------------

    def _segment(self, query: str) -> None:
        fmt = _format(query)
        data = self._read_upload()
        rgb = self._decode(data)
        server = self.server
        seg = server.segmenter
        started = time.monotonic()
        with server.lock:
            labels = seg(rgb)
        elapsed_ms = round((time.monotonic() - started) * 1000.0, 1)
        if fmt == "png":
            self._send(200, _png(seg.label_image(labels)), "image/png", [_inline("labels.png")])
        elif fmt == "overlay":
            self._send(200, _png(seg.overlay(rgb, labels), compress_level=3), "image/png", [_inline("overlay.png")])
        else:
            height, width = labels.shape
            colors = dict(zip(seg.class_names, seg.palette, strict=True))
            classes = [
                {"name": name, "color": list(colors[name]), "pixels": pixels, "share": pixels / labels.size}
                for name, pixels in seg.class_pixels(labels).items()
            ]
            result = {
                "width": width,
                "height": height,
                "model": server.model_name,
                "elapsed_ms": elapsed_ms,
                "classes": classes,
                "overlay_png": _b64(_png(seg.overlay(rgb, labels), compress_level=3)),
                "labels_png": _b64(_png(seg.label_image(labels))),
            }
            self._send_json(200, result)

    def _read_upload(self) -> bytes:
        """The uploaded image's bytes: the raw body, or the ``image`` field of a multipart form."""
        limit = self.server.max_upload_bytes
        if self.headers.get("Transfer-Encoding", "identity").strip().lower() != "identity":
            raise HTTPError(411, "send the image with a Content-Length header; chunked uploads are not supported")
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._unread_body = True  # an HTTP/1.0 client may send a body anyway, up to closing
            raise HTTPError(411, "the upload needs a Content-Length header; send the image's bytes as the request body")
        if not raw.strip().isdigit():
            raise HTTPError(400, f"the Content-Length header {_clip(raw, 30)!r} is not a number of bytes")
        length = int(raw)
        if length > limit:
            raise HTTPError(413, _too_large_message(length, limit))
        if length == 0:
            raise HTTPError(400, "the upload is empty; send an image file as the request body")
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            raise HTTPError(408, "the upload was too slow; the server stopped waiting for the image") from None
        self._unread_body = False
        if len(data) < length:
            self.close_connection = True
            raise HTTPError(400, f"the upload ended after {len(data):,} of the {length:,} bytes it announced")
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            return _multipart_image(content_type, data)
        return data

    def _decode(self, data: bytes) -> np.ndarray:
        limit = self.server.max_pixels
        try:
            with Image.open(io.BytesIO(data)) as im:
                pixels = im.width * im.height
                if pixels > limit:
                    raise HTTPError(
                        413,
                        f"the image has {im.width}x{im.height} = {pixels:,} pixels, more than the limit of {limit:,}",
                    )
                return pil_to_rgb(im, max_pixels=limit)
        except HTTPError:
            raise
        except Image.DecompressionBombError:
            raise HTTPError(413, f"the image has more pixels than the limit of {limit:,}") from None
        except Image.UnidentifiedImageError:
            raise HTTPError(400, "the upload is not a readable image (not a format Pillow can read)") from None
        except Exception as exc:  # Pillow raises many kinds of errors for damaged files
            raise HTTPError(400, f"the upload is not a readable image ({_reason(exc)})") from None

    # -- responses --------------------------------------------------------------------------------

    def _send_static(self, name: str) -> None:
        path = _static_file(name)
        if path is None:
            raise HTTPError(404, f"there is no static file {_clip(name, 80)}")
        content_type = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        headers = [("Cache-Control", "no-cache")]
        if path.suffix.lower() == ".html":
            headers += [("Content-Security-Policy", _PAGE_CSP), ("Referrer-Policy", "no-referrer")]
        self._send(200, path.read_bytes(), content_type, headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: Sequence[tuple[str, str]] = ()) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", [("Cache-Control", "no-store"), *headers])

    def _send_error(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        self._send_json(status, {"error": message}, headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        refused_unread = self._unread_body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in headers:
            self.send_header(key, value)
        if refused_unread:
            # the body we did not read would be taken for the next request: end the connection
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status, len(body))
        if refused_unread:
            self._discard_body()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests that ``http.server`` itself rejects get a JSON error like all others.

        Args:
            code: The HTTP status code.
            message: The reason, or ``None`` for the status's phrase.
            explain: Unused (``http.server``'s long explanation).
        """
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        text = (message or phrase).rstrip(".")
        self._send_error(code, text[:1].lower() + text[1:])

    def _discard_body(self) -> None:
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DISCARD_S)
            deadline = time.monotonic() + DISCARD_S
            while time.monotonic() < deadline and self.connection.recv(1 << 16):
                pass
        except OSError:
            pass

    # -- logging: one line per request ------------------------------------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``_log`` writes the request's line once its size and duration are known.

        Args:
            code: Unused.
            size: Unused.
        """

    def _log(self, status: int, size: int) -> None:
        if self.server.quiet:
            return
        ms = (time.monotonic() - self._started) * 1000.0
        request = _clip(_printable(getattr(self, "requestline", "")), 200) or "-"
        print(
            f'{self.address_string()} {time.strftime("%H:%M:%S")} "{request}" {status} {_size(size)} {ms:.0f} ms',
            file=sys.stderr,
            flush=True,
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Log ``http.server``'s own messages on stderr (unless quiet), non-printable characters replaced.

        Args:
            format: A ``%`` format string.
            *args: Its arguments.
        """
        if not self.server.quiet:
            print(f"{self.address_string()} {_printable(format % args)}", file=sys.stderr, flush=True)


# -- helpers ------------------------------------------------------------------------------------------


def _static_file(name: str) -> Path | None:
    """The file ``name`` directly inside the static folder, or None (no sub-folders, no ``..``, no dot files)."""
    if not _STATIC_NAME.match(name):
        return None
    path = STATIC_DIR / name
    try:
        if not path.is_file() or path.resolve().parent != STATIC_DIR:
            return None
    except OSError:
        return None
    return path


def _format(query: str) -> str:
    values = parse_qs(query, keep_blank_values=True).get("format", ["json"])
    fmt = values[-1].strip().lower() or "json"
    if fmt not in FORMATS:
        raise HTTPError(400, f"unknown format {_clip(fmt, 30)!r}; use format=json, format=png or format=overlay")
    return fmt


def _multipart_image(content_type: str, body: bytes) -> bytes:
    """The ``image`` field of a ``multipart/form-data`` body (what ``curl -F image=@photo.jpg`` sends)."""
    header = "Content-Type: " + " ".join(content_type.split()) + "\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header.encode("latin-1") + body)
    parts = [part for part in message.walk() if part is not message] if message.is_multipart() else []
    if not parts:
        raise HTTPError(400, "the multipart/form-data upload could not be parsed (no parts within its boundary)")
    for part in parts:
        if part.get_param("name", header="content-disposition") == "image":
            payload = part.get_payload(decode=True)
            if not payload:
                raise HTTPError(400, 'the "image" field of the upload is empty')
            return bytes(payload)
    raise HTTPError(400, 'the multipart/form-data upload has no field named "image" (curl -F image=@photo.jpg ...)')


def _listen_error(host: str, port: int, exc: OSError) -> OSError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        reason += " (another program listens there; pick another --port)"
    return OSError(f"cannot listen on {_host_port(host, port)}: {reason}")


def _too_large_message(length: int, limit: int) -> str:
    return f"the upload is {_size(length)}, more than the limit of {_size(limit)}"


def _png(im: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _inline(filename: str) -> tuple[str, str]:
    return "Content-Disposition", f'inline; filename="{filename}"'


def _reason(exc: BaseException) -> str:
    """Pillow's message without object addresses, short enough for one line."""
    text = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the upload", str(exc)).strip()
    return _clip(" ".join(text.split()) or type(exc).__name__, 160)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = (n / 1024, "kB") if n < MB else (n / MB, "MB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
