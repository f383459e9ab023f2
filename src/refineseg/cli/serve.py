"""``refineseg serve``: a local web page and JSON/PNG API that segments uploaded images."""

from __future__ import annotations

import argparse

from ._options import add_precision, calibration_images

HELP = "a local web page (and JSON/PNG API) that segments uploaded images"

DESCRIPTION = """\
Serve a page where you choose or drop an image and see its segmentation (the input and a
colour overlay side by side, with each class's share of the image), and an HTTP API for
scripts. Without --weights it uses the shipped CamVid model (no network needed). One model
serves all requests, one image at a time. It listens on 127.0.0.1 (this machine only) unless
--host says otherwise; there is no authentication.

API:
  GET  /api/info                      model name, classes and colours, upload limits (JSON)
  POST /api/segment                   the image as the request body, or a multipart form
                                      field named "image"; answers JSON with width, height,
                                      classes (name, color, pixels, share) and base64 PNGs
                                      overlay_png and labels_png
  POST /api/segment?format=png        the label image (palette PNG, pixel value = class index)
  POST /api/segment?format=overlay    the colour overlay as a PNG
  errors are JSON {"error": "..."}: 400 unreadable image, 411 no Content-Length,
  413 upload or image too large

examples:
  refineseg serve                                   then open http://127.0.0.1:8000/
  refineseg serve --weights runs/camvid/best.safetensors --device cuda --port 8080
  curl -F image=@street.jpg http://127.0.0.1:8000/api/segment
  curl --data-binary @street.jpg 'http://127.0.0.1:8000/api/segment?format=png' -o labels.png
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    from ..constants import MB

    # check the arguments before spending seconds on loading the model
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected a port number from 0 to 65535")
    if not args.max_upload_mb > 0:
        raise ValueError(f"--max-upload-mb {args.max_upload_mb:g}: expected a positive size")
    if args.max_pixels <= 0:
        raise ValueError(f"--max-pixels {args.max_pixels}: expected a positive number of pixels")
    if not args.host.strip():
        raise ValueError("--host: expected an address such as 127.0.0.1 or 0.0.0.0")

    from ..inference import Segmenter
    from ..serve.app import check_can_listen, make_server, serve

    calibration = calibration_images(args, wanted=args.precision == "int8", flag="--precision int8")
    check_can_listen(args.host, args.port)

    print(f"loading {args.weights} on {args.device} ...", flush=True)
    segmenter = Segmenter.from_pretrained(
        args.weights, device=args.device, max_pixels=args.max_pixels, precision=args.precision, calibration=calibration
    )
    server = make_server(
        segmenter,
        args.host,
        args.port,
        max_upload_bytes=round(args.max_upload_mb * MB),
        max_pixels=args.max_pixels,
        quiet=args.quiet,
    )
    serve(server)
    return 0
