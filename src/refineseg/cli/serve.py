"""``refineseg serve``: a local web page and JSON/PNG API that segments uploaded images."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from ._options import (
    add_allowed_hosts,
    add_backend,
    add_image_limits,
    add_precision,
    allowed_hosts,
    calibration_images,
    check_image_limits,
)

HELP = "a local web page (and JSON/PNG API) that segments uploaded images"

DESCRIPTION = """\
Serve a page where you choose or drop an image and see its segmentation (the input and a
colour overlay side by side, with each class's share of the image), and an HTTP API for
scripts (FastAPI on uvicorn; needs the [serve] extra: pip install 'refineseg[serve]').
Without --weights it uses the shipped CamVid model (no network needed). Each worker process
holds one model and runs one image at a time on it, off the event loop; --workers N runs N
processes on the same port (each loads the model). It listens on 127.0.0.1 (this machine
only) unless --host says otherwise, and answers only to the host names localhost, 127.0.0.1,
::1 and --host (add others with --allowed-hosts; this stops DNS rebinding); a POST from
another site's page (an Origin header other than the server's own) is refused. For a server
reachable from the network, --api-key-file FILE (or the environment variable
REFINESEG_API_KEY) makes /api/... want the key; the page asks for it once and sends it.

What one request may cost is bounded: an image above --max-inference-pixels is decoded at a
reduced size and segmented shrunk to that many pixels (its labels still come back at its own
size, its overlay at the model's), a client that hangs up has its work dropped, at most
--max-queue requests wait beyond those being worked on (more get 503 with Retry-After, before
their upload is read), and a connection that sends no whole request for --timeout-keep-alive
seconds is closed.

API:
  GET  /api/info                      model name, classes and colours, upload limits (JSON)
  POST /api/segment                   the image as the request body, or a multipart form
                                      field named "image"; answers JSON with width, height,
                                      classes (name, color, pixels, share) and base64 PNGs
                                      overlay_png and labels_png
  POST /api/segment?format=png        the label image (palette PNG, pixel value = class index)
  POST /api/segment?format=overlay    the colour overlay as a PNG
  GET  /healthz                       {"status": "ok"} once the model is loaded
  GET  /openapi.json                  the OpenAPI description of the API
  errors are JSON {"error": "..."}: 400 unreadable or truncated image or unknown Host,
  401 API key missing or wrong, 403 request from another site's page, 408 stalled upload,
  411 no Content-Length (nor chunked), 413 upload or image too large, 503 busy (Retry-After)

examples:
  refineseg serve                                   then open http://127.0.0.1:8000/
  refineseg serve --weights runs/camvid/best.safetensors --device cuda --port 8080
  refineseg serve --host 0.0.0.0 --workers 4 --api-key-file key.txt --allowed-hosts seg.example.com
                                                    four processes, reachable from the network
  curl -F image=@street.jpg http://127.0.0.1:8000/api/segment
  curl --data-binary @street.jpg 'http://127.0.0.1:8000/api/segment?format=png' -o labels.png
  curl -H "Authorization: Bearer $(cat key.txt)" -F image=@street.jpg http://seg.example.com:8000/api/segment
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg serve`` and its options to the sub-commands.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    from ..constants import (
        DEFAULT_HOST,
        DEFAULT_LIMIT_CONCURRENCY,
        DEFAULT_MAX_QUEUE,
        DEFAULT_PORT,
        DEFAULT_TIMEOUT_KEEP_ALIVE_S,
    )

    p = sub.add_parser(
        "serve", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 makes it reachable from other machines)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--weights",
        default="camvid",
        metavar="W",
        help='a .safetensors weights file or the name of shipped weights (default "camvid")',
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port, each with its own copy of the model (default 1); "
        "more serve more requests at once where the CPU has cores to spare or on several GPUs",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps, ... (default cpu)")
    add_image_limits(p, bytes_flag="--max-upload-mb", bytes_help="largest upload accepted")
    p.add_argument(
        "--max-queue",
        type=int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help=f"requests that may wait, their uploads in memory, beyond those being worked on; more get 503 with "
        f"Retry-After before their upload is read (default {DEFAULT_MAX_QUEUE})",
    )
    p.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=DEFAULT_TIMEOUT_KEEP_ALIVE_S,
        metavar="S",
        help="close a connection that sends no whole request head within S seconds of opening or of its last "
        f"answer (default {DEFAULT_TIMEOUT_KEEP_ALIVE_S})",
    )
    p.add_argument(
        "--limit-concurrency",
        type=int,
        default=DEFAULT_LIMIT_CONCURRENCY,
        metavar="N",
        help=f"with more open connections than N, answer requests 503 at once (default {DEFAULT_LIMIT_CONCURRENCY})",
    )
    add_allowed_hosts(p, who="clients")
    p.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="a key that requests to /api/... must carry (Authorization: Bearer KEY or X-API-Key: KEY); other "
        "users of this machine can read a command line, so prefer --api-key-file or REFINESEG_API_KEY",
    )
    p.add_argument(
        "--api-key-file",
        default=None,
        metavar="FILE",
        help="read the API key from FILE (its first line); without either option the key comes from the "
        "environment variable REFINESEG_API_KEY when set",
    )
    add_precision(p, default="auto", calibration_default="required with int8")
    add_backend(p)
    p.add_argument("--quiet", "-q", action="store_true", help="do not log one line per request")
    p.set_defaults(run=run)


def api_key(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> str | None:
    """The API key the options (or the environment) give: ``--api-key``, ``--api-key-file``, ``REFINESEG_API_KEY``.

    Args:
        args: The parsed command line.
        environ: The environment (default ``os.environ``).

    Returns:
        The key, or ``None`` when none is given.

    Raises:
        ValueError: For both options at once, a key file that cannot be read, or an empty key.
    """
    from ..serve.config import API_KEY_ENV

    if args.api_key is not None and args.api_key_file is not None:
        raise ValueError("--api-key and --api-key-file: give one of them")
    if args.api_key is not None:
        key, source = args.api_key, "--api-key"
    elif args.api_key_file is not None:
        try:
            lines = Path(args.api_key_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"--api-key-file {args.api_key_file}: cannot read it ({reason})") from None
        key, source = (lines[0] if lines else ""), f"--api-key-file {args.api_key_file}"
    else:
        env = os.environ if environ is None else environ
        if API_KEY_ENV not in env:
            return None
        key, source = env[API_KEY_ENV], API_KEY_ENV
    key = key.strip()
    if not key:
        raise ValueError(f"{source}: the API key is empty")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ValueError(f"{source}: the API key holds spaces or control characters; use letters, digits and symbols")
    return key


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model and serve until Ctrl-C.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: For an option out of range.
        OSError: If the address cannot be listened on or the weights cannot be read.
        ImportError: Without the ``[serve]`` extra.
    """

    # check the arguments before spending seconds on loading the model
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected a port number from 0 to 65535")
    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: expected at least 1 process")
    max_upload_bytes = check_image_limits(args, bytes_flag="--max-upload-mb")
    if not args.host.strip():
        raise ValueError("--host: expected an address such as 127.0.0.1 or 0.0.0.0")
    if args.max_queue < 0:
        raise ValueError(f"--max-queue {args.max_queue}: expected 0 or more requests")
    if args.timeout_keep_alive < 1:
        raise ValueError(f"--timeout-keep-alive {args.timeout_keep_alive}: expected at least 1 second")
    if args.limit_concurrency < 1:
        raise ValueError(f"--limit-concurrency {args.limit_concurrency}: expected at least 1 connection")
    hosts = allowed_hosts(args)

    # first: without the [serve] extra, its ImportError says what to install
    from ..serve import ServeConfig, bind, serve

    key = api_key(args)
    calibration = calibration_images(args, wanted=args.precision == "int8", flag="--precision int8")
    config = ServeConfig(
        weights=args.weights,
        device=args.device,
        precision=args.precision,
        backend=args.backend,
        calibration=tuple(str(p) for p in calibration) if calibration is not None else None,
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_upload_bytes=max_upload_bytes,
        max_pixels=args.max_pixels,
        quiet=args.quiet,
        max_inference_pixels=args.max_inference_pixels,
        max_queue=args.max_queue,
        timeout_keep_alive=args.timeout_keep_alive,
        limit_concurrency=args.limit_concurrency,
        allowed_hosts=hosts,
        api_key=key,
    )
    sock = bind(config.host, config.port)  # a port in use fails here, before the model loads
    try:
        print(f"loading {args.weights} on {args.device} ...", flush=True)
        # with --workers each worker loads its own; this one checks that it loads, and names it
        segmenter = config.load_segmenter()
    except BaseException:
        sock.close()
        raise
    serve(config, segmenter, sock)
    return 0
