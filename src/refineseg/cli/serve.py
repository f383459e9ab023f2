"""``refineseg serve``: a local web page and JSON/PNG API that segments uploaded images."""

from __future__ import annotations

import argparse

from ._options import add_precision, calibration_images

HELP = "a local web page (and JSON/PNG API) that segments uploaded images"

DESCRIPTION = """\
Serve a page where you choose or drop an image and see its segmentation (the input and a
colour overlay side by side, with each class's share of the image), and an HTTP API for
scripts (FastAPI on uvicorn; needs the [serve] extra: pip install 'refineseg[serve]').
Without --weights it uses the shipped CamVid model (no network needed). Each worker process
holds one model and runs one image at a time on it, off the event loop; --workers N runs N
processes on the same port (each loads the model). It listens on 127.0.0.1 (this machine
only) unless --host says otherwise; there is no authentication.

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
  errors are JSON {"error": "..."}: 400 unreadable image, 408 stalled upload,
  411 no Content-Length (nor chunked), 413 upload or image too large

examples:
  refineseg serve                                   then open http://127.0.0.1:8000/
  refineseg serve --weights runs/camvid/best.safetensors --device cuda --port 8080
  refineseg serve --host 0.0.0.0 --workers 4        four processes, reachable from the network
  curl -F image=@street.jpg http://127.0.0.1:8000/api/segment
  curl --data-binary @street.jpg 'http://127.0.0.1:8000/api/segment?format=png' -o labels.png
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg serve`` and its options to the sub-commands.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    from ..constants import DEFAULT_HOST, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, MB

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
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_BYTES / MB,
        metavar="MB",
        help=f"largest upload accepted, in MB (default {DEFAULT_MAX_UPLOAD_BYTES // MB})",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"largest image accepted, width x height (default {DEFAULT_MAX_PIXELS:,})",
    )
    add_precision(p, default="auto", calibration_default="required with int8")
    p.add_argument("--quiet", "-q", action="store_true", help="do not log one line per request")
    p.set_defaults(run=run)


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
    from ..constants import MB

    # check the arguments before spending seconds on loading the model
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected a port number from 0 to 65535")
    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: expected at least 1 process")
    if not args.max_upload_mb > 0:
        raise ValueError(f"--max-upload-mb {args.max_upload_mb:g}: expected a positive size")
    if args.max_pixels <= 0:
        raise ValueError(f"--max-pixels {args.max_pixels}: expected a positive number of pixels")
    if not args.host.strip():
        raise ValueError("--host: expected an address such as 127.0.0.1 or 0.0.0.0")

    # first: without the [serve] extra, its ImportError says what to install
    from ..serve import ServeConfig, bind, serve

    calibration = calibration_images(args, wanted=args.precision == "int8", flag="--precision int8")
    config = ServeConfig(
        weights=args.weights,
        device=args.device,
        precision=args.precision,
        calibration=tuple(str(p) for p in calibration) if calibration is not None else None,
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_upload_bytes=round(args.max_upload_mb * MB),
        max_pixels=args.max_pixels,
        quiet=args.quiet,
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
