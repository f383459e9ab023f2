"""``refineseg label-studio-backend`` (pre-label Label Studio tasks) and ``refineseg label-studio config``."""

from __future__ import annotations

import argparse
import os
import sys

from ._options import (
    add_allowed_hosts,
    add_backend,
    add_image_limits,
    add_precision,
    allowed_hosts,
    calibration_images,
    check_image_limits,
)

BACKEND_HELP = "a Label Studio ML backend: pre-label a project's images with a model"
BACKEND_DESCRIPTION = """\
Serve Label Studio's ML backend protocol (GET /health, POST /setup, POST /predict) so a Label
Studio project pre-labels its images with your model: each class the model finds becomes a
brush region (exactly the labels `refineseg predict` gives; or polygons, for a project that
labels with polygons), with the model's confidence as the prediction's score. Needs
pip install 'refineseg[labelstudio]'.

In Label Studio: create the project with the labelling config `refineseg label-studio config
--weights W` prints (the model's classes and colours; a project whose labels lack a class of the
model cannot connect, and this backend's log names both lists), then Settings > Model > Connect
Model with this backend's URL, and turn on "Use predictions to prelabel tasks". Label Studio
refuses backends on this machine's own addresses unless it was started with
ML_BLOCK_LOCAL_IP=false SSRF_PROTECTION_ENABLED=false (docs/LABEL_STUDIO.md says what they
turn off). With the project's task sampling set to uncertainty sampling, Label Studio offers
the images the model is least sure of first (lowest score: 1 - mean per-pixel entropy, the
measure `refineseg rank` uses). Retrained weights get a new model_version, and Label Studio
asks for new predictions.

Images are fetched from the Label Studio at --label-studio-url only, with its API key (legacy
token or personal access token); a task whose image is on another host is refused, and images
are size-checked as `refineseg serve` checks uploads. Local-storage images can be read from
disk with --local-files-root (Label Studio's LOCAL_FILES_DOCUMENT_ROOT).

examples:
  refineseg label-studio config --weights runs/mine/best.safetensors > config.xml
  export LABEL_STUDIO_API_KEY=...      (Label Studio: Account & Settings > Access Token)
  refineseg label-studio-backend --weights runs/mine/best.safetensors --label-studio-url http://localhost:8080
                                        then connect http://127.0.0.1:9090 in the project's settings
"""
CONFIG_HELP = "print the Label Studio labelling config for a model's classes"

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
LOCAL_ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
DEFAULT_BACKEND_PORT = 9090  # Label Studio's documentation and its example backends use it


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg label-studio-backend`` and ``refineseg label-studio config``.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    from ..constants import DEFAULT_HOST

    p = sub.add_parser(
        "label-studio-backend",
        help=BACKEND_HELP,
        description=BACKEND_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--weights",
        default="camvid",
        metavar="W",
        help='a .safetensors weights file or shipped weights name (default "camvid")',
    )
    p.add_argument(
        "--label-studio-url",
        default=None,
        metavar="URL",
        help=f"where Label Studio runs, e.g. http://localhost:8080; task images are fetched from there only (default: ${URL_ENV})",
    )
    p.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help=f"Label Studio's access token, to fetch task images (default: ${KEY_ENV}; prefer the variable: other users can read a command line)",
    )
    p.add_argument(
        "--local-files-root",
        default=None,
        metavar="DIR",
        help=f"read local-storage images (/data/local-files/?d=...) from DIR instead of through Label Studio (default: ${LOCAL_ROOT_ENV} when set)",
    )
    p.add_argument(
        "--polygons",
        action="store_true",
        help="answer polygons (outer outlines, simplified to a pixel) where the project has a <PolygonLabels> tag besides <BrushLabels>",
    )
    p.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_BACKEND_PORT,
        metavar="PORT",
        help=f"port (default {DEFAULT_BACKEND_PORT}; 0 picks a free one)",
    )
    add_allowed_hosts(p, who="Label Studio (host.docker.internal when it runs in Docker)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps, ... (default cpu)")
    add_image_limits(p, bytes_flag="--max-image-mb", bytes_help="largest image file fetched from Label Studio")
    add_precision(p, default="auto", calibration_default="required with int8")
    add_backend(p)
    p.add_argument("--quiet", "-q", action="store_true", help="do not log one line per request")
    p.set_defaults(run=run_backend)

    c = sub.add_parser(
        "label-studio",
        help="Label Studio helpers: `refineseg label-studio config --weights W`",
        description=CONFIG_HELP,
    )
    tools = c.add_subparsers(dest="tool", metavar="TOOL", required=True)
    cfg = tools.add_parser(
        "config",
        help=CONFIG_HELP,
        description=CONFIG_HELP
        + " (paste it into the project's Settings > Labeling Interface > Code); background classes are left out: in Label Studio background is what nobody painted",
    )
    cfg.add_argument(
        "--weights",
        default="camvid",
        metavar="W",
        help='a .safetensors weights file or shipped weights name (default "camvid")',
    )
    cfg.add_argument("--polygons", action="store_true", help="add a <PolygonLabels> tag with the same classes")
    cfg.set_defaults(run=run_config)


def run_config(args: argparse.Namespace) -> int:
    """Print the labelling config for the model's classes and colours.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.
    """
    from ..labelstudio import label_config
    from ..palette import class_names_or_default, palette_or_default
    from ..weights.loading import load_model

    model = load_model(args.weights)
    n = model.num_classes
    names, palette = class_names_or_default(model.meta.class_names, n), palette_or_default(model.meta.palette, n)
    sys.stdout.write(label_config(names, palette, polygons=args.polygons))
    return 0


def run_backend(args: argparse.Namespace) -> int:
    """Check the options, load the model and serve the backend until Ctrl-C.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: For an option out of range.
        OSError: If the address cannot be listened on or the weights cannot be read.
        ImportError: Without the ``[labelstudio]`` extra.
    """
    from .._extras import require_all

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected a port number from 0 to 65535")
    max_image_bytes = check_image_limits(args, bytes_flag="--max-image-mb")
    hosts = allowed_hosts(args)
    url = args.label_studio_url or os.environ.get(URL_ENV) or None
    key = args.api_key or os.environ.get(KEY_ENV) or None
    local_root = args.local_files_root or os.environ.get(LOCAL_ROOT_ENV) or None
    if url is None and local_root is None:
        raise ValueError(
            f"--label-studio-url (or ${URL_ENV}): expected Label Studio's address, e.g. http://localhost:8080"
        )
    if local_root is not None and not os.path.isdir(local_root):
        raise ValueError(f"--local-files-root {local_root}: no such folder")
    # without the extra, one line saying what to install, before the model loads
    require_all(
        {"label-studio-sdk": "label_studio_sdk", "httpx": "httpx", "fastapi": "fastapi", "uvicorn": "uvicorn"},
        "labelstudio",
        purpose="the Label Studio backend",
    )
    import uvicorn

    from ..serve import ServeConfig, bind
    from ..serve.labelstudio import ImageSource, LabelStudioBackend, create_backend_app, model_version
    from ..serve.run import server_url, uvicorn_config

    calibration = calibration_images(args, wanted=args.precision == "int8", flag="--precision int8")
    config = ServeConfig(
        weights=args.weights,
        device=args.device,
        precision=args.precision,
        backend=args.backend,
        calibration=tuple(str(p) for p in calibration) if calibration is not None else None,
        host=args.host,
        port=args.port,
        max_upload_bytes=max_image_bytes,
        max_pixels=args.max_pixels,
        max_inference_pixels=args.max_inference_pixels,
        quiet=args.quiet,
        allowed_hosts=hosts,
    )
    source = ImageSource(url, key, local_files_root=local_root, max_bytes=config.max_upload_bytes)
    sock = bind(config.host, config.port)  # a port in use fails here, before the model loads
    try:
        print(f"loading {args.weights} on {args.device} ...", flush=True)
        segmenter = config.load_segmenter()
        backend = LabelStudioBackend(
            segmenter,
            source,
            version=model_version(segmenter, args.weights),
            max_pixels=config.max_pixels,
            max_inference_pixels=config.max_inference_pixels,
            polygons=args.polygons,
        )
        app = create_backend_app(backend, quiet=config.quiet, allowed_hosts=config.hosts())
        print(
            f"Label Studio ML backend {backend.version} ({segmenter.num_classes} classes) at {server_url(sock)}, "
            f"images from {source.describe()}  (Ctrl-C stops)",
            flush=True,
        )
        uvicorn.Server(uvicorn_config(app, config)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        source.close()
    print("stopped", flush=True)
    return 0
