"""Options that several commands share, defined once."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "add_allowed_hosts",
    "add_calibration",
    "add_image_limits",
    "add_precision",
    "allowed_hosts",
    "calibration_images",
    "check_image_limits",
    "images_in",
]


def add_precision(parser: argparse.ArgumentParser, *, default: str, calibration_default: str) -> None:
    """Add ``--precision`` and the int8 calibration options to ``parser``.

    Args:
        parser: The command's parser.
        default: The ``--precision`` default.
        calibration_default: Which images calibrate int8 when ``--calibration`` is not
            given, as the help says it.
    """
    from ..constants import PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help=f"number format of the model (default {default}): fp32 (exact); bf16 (weights converted once; "
        "1.6-2x faster on CPUs with AVX512-BF16 or AMX, slower elsewhere); int8 (quantized with ONNX Runtime, "
        "calibrated on a few images, cached after the first run; fastest on CPUs with VNNI; needs "
        "refineseg[onnx]); auto (bf16 where the CPU has native bf16 and the model's bf16 outputs pass the "
        "optimisation check, else fp32; `refineseg models --hardware` says which). docs/BENCHMARKS.md has "
        "what each costs in mIoU",
    )
    add_calibration(parser, default=calibration_default, flag="--precision int8")


def add_backend(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend``: what runs the model (:mod:`refineseg.inference.backends`).

    Args:
        parser: The command's parser.
    """
    parser.add_argument(
        "--backend",
        choices=["auto", "pytorch", "onnxruntime", "openvino"],
        default="auto",
        help="what runs the model. auto (the default): the fastest installed runtime for this model, precision "
        "and CPU, measured once on first use (a minute: the model is exported to ONNX) and kept; "
        "`refineseg models --hardware` lists the choices. Without refineseg[openvino] auto is pytorch, or "
        "onnxruntime for --precision int8 and for --weights FILE.onnx from `refineseg export`. onnxruntime "
        "(refineseg[onnx]) and openvino (refineseg[openvino]) run other weights from their ONNX export, made "
        "once and cached; openvino runs fp32, bf16 and int8, onnxruntime fp32 and int8. "
        "REFINESEG_AUTO_BACKEND=default (or a runtime's name) fixes auto's answer without measuring",
    )


def add_calibration(parser: argparse.ArgumentParser, *, default: str, flag: str) -> None:
    """Add ``--calibration`` (images, folders, globs) and ``--calibration-images N`` for int8.

    Args:
        parser: The command's parser.
        default: Which images calibrate when ``--calibration`` is not given, as the help says it.
        flag: The option that asks for int8 (``"--int8"``, ``"--precision int8"``), named in the help.
    """
    from ..constants import DEFAULT_CALIBRATION_IMAGES

    parser.add_argument(
        "--calibration",
        nargs="+",
        metavar="INPUT",
        help=f"with {flag}: images, folders or glob patterns whose activations set the int8 ranges; "
        f"images like those the model will see, never the ones it is evaluated on ({default})",
    )
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=DEFAULT_CALIBRATION_IMAGES,
        metavar="N",
        help=f"calibrate on at most N images, spread evenly over those found (default {DEFAULT_CALIBRATION_IMAGES})",
    )


def images_in(inputs: Sequence[str], *, option: str, exclude: Path | None = None) -> list[Path]:
    """The image files that ``inputs`` (files, folders, globs) name, videos left out.

    Args:
        inputs: Image files, folders and glob patterns.
        option: The option they were given to, named in the errors.
        exclude: A folder to skip (an output folder inside an input folder).

    Returns:
        The image files, in the order found.

    Raises:
        ValueError: If an input names nothing, or no image is found.
    """
    from ..inference.inputs import collect_inputs

    items, errors = collect_inputs(inputs, exclude=exclude)
    if errors:
        raise ValueError(f"{option}: {errors[0]}")
    images = [item.path for item in items if not item.is_video]
    if not images:
        raise ValueError(f"{option} {' '.join(inputs)}: no images found")
    return images


def calibration_images(
    args: argparse.Namespace, *, wanted: bool, flag: str, fallback: Callable[[], Sequence[Path]] | None = None
) -> list[Path] | None:
    """The calibration images ``args`` name (or ``fallback()``'s), at most ``--calibration-images`` of them.

    Args:
        args: The parsed command line, with the options of :func:`add_calibration`.
        wanted: Whether int8 was asked for.
        flag: The option that asks for int8, named in the errors.
        fallback: Where the images come from without ``--calibration`` (none: it is required).

    Returns:
        The images, spread evenly over those found; ``None`` when int8 is not ``wanted``.

    Raises:
        ValueError: If ``--calibration-images`` is below 1, ``--calibration`` is given without
            int8, int8 has no images, or the images cannot be found.
    """
    from ..inference.quantize import spread

    if args.calibration_images < 1:
        raise ValueError(f"--calibration-images must be at least 1, got {args.calibration_images}")
    if not wanted:
        if args.calibration:
            raise ValueError(f"--calibration applies with {flag} only")
        return None
    found: Sequence[Path]
    if args.calibration:
        found = images_in(args.calibration, option="--calibration")
    elif fallback is not None:
        found = fallback()
    else:
        raise ValueError(f"{flag} needs --calibration IMAGES (a few dozen like those the model will see)")
    return spread(found, args.calibration_images)


def add_image_limits(parser: argparse.ArgumentParser, *, bytes_flag: str, bytes_help: str) -> None:
    """Add the limits on one image a server takes: its file's size, its pixels, the compute budget.

    ``serve`` and ``label-studio-backend`` share them (and :func:`check_image_limits`).

    Args:
        parser: The command's parser.
        bytes_flag: The file-size option (``--max-upload-mb``), in MB.
        bytes_help: What that option limits (``"largest upload accepted"``).
    """
    from ..constants import DEFAULT_MAX_INFERENCE_PIXELS, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, MB

    parser.add_argument(
        bytes_flag,
        type=float,
        default=DEFAULT_MAX_UPLOAD_BYTES / MB,
        metavar="MB",
        help=f"{bytes_help}, in MB (default {DEFAULT_MAX_UPLOAD_BYTES // MB})",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"largest image accepted, width x height (default {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument(
        "--max-inference-pixels",
        type=int,
        default=DEFAULT_MAX_INFERENCE_PIXELS,
        metavar="N",
        help=f"the compute budget of an image: larger images are segmented shrunk to N pixels, their labels "
        f"answered at their own size (default {DEFAULT_MAX_INFERENCE_PIXELS:,}; 0: full resolution, in sliding "
        "windows above 2048x1024, which can take minutes for a large image)",
    )


def check_image_limits(args: argparse.Namespace, *, bytes_flag: str) -> int:
    """Check the options :func:`add_image_limits` added, before anything slow starts.

    Args:
        args: The parsed command line.
        bytes_flag: The file-size option, as given to :func:`add_image_limits`.

    Returns:
        The file-size limit in bytes.

    Raises:
        ValueError: A limit that is not positive (the compute budget may be 0).
    """
    from ..constants import MB

    megabytes = getattr(args, bytes_flag.lstrip("-").replace("-", "_"))
    if not megabytes > 0:
        raise ValueError(f"{bytes_flag} {megabytes:g}: expected a positive size")
    if args.max_pixels <= 0:
        raise ValueError(f"--max-pixels {args.max_pixels}: expected a positive number of pixels")
    if args.max_inference_pixels < 0:
        raise ValueError(f"--max-inference-pixels {args.max_inference_pixels}: expected a number of pixels, or 0")
    return round(megabytes * MB)


def add_allowed_hosts(parser: argparse.ArgumentParser, *, who: str) -> None:
    """Add ``--allowed-hosts``: the Host names a server answers to besides the loopback names and ``--host``.

    Args:
        parser: The command's parser.
        who: Who reaches the server by those names (``"clients"``), for the help.
    """
    parser.add_argument(
        "--allowed-hosts",
        action="append",
        default=None,
        metavar="NAMES",
        help=f"comma-separated host names (or *.example.com) the server answers to besides localhost, 127.0.0.1, "
        f"::1 and --host: the names {who} reach it by; a request with another Host gets 400; * allows any",
    )


def allowed_hosts(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The names ``--allowed-hosts`` gives, checked.

    Args:
        args: The parsed command line.

    Returns:
        The names, or ``None`` when none is given.

    Raises:
        ValueError: A wildcard anywhere but a whole name (``*``) or a first label (``*.example.com``).
    """
    hosts = [h.strip() for value in args.allowed_hosts or () for h in value.split(",") if h.strip()]
    for host in hosts:
        if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
            raise ValueError(f"--allowed-hosts {host}: a wildcard must be the whole name (*) or like *.example.com")
    return tuple(hosts) or None
