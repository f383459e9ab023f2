"""``refineseg predict``: segment image files, folders, globs and videos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._distributed import add_distributed, distributed_options
from ._options import add_backend, add_precision, calibration_images, images_in

HELP = "segment images, folders, globs and videos (the shipped CamVid model unless --weights)"

DESCRIPTION = """\
Segment each input and write, under --output:
  NAME.png            class labels: a palette PNG (lossless, the input's size; pixel value = class index)
  NAME_overlay.jpg    the class colours blended over the image (--no-overlay to skip)
  NAME_probs.npy      class probabilities, float16 CxHxW (with --probabilities)
  NAME_overlay.mp4    for a video, every frame overlaid (label PNGs per frame with --video-labels)
NAME is the file's name without its suffix; for a folder given as input, its path inside the folder.
Inputs are files, folders (searched recursively for images and videos) and glob patterns.
Images of any mode (RGB, RGBA, grey, 16-bit, palette, CMYK) are read upright (EXIF orientation);
images above --tile-above pixels are segmented in overlapping --tile-size windows so memory stays
bounded. An input that cannot be read is reported on one line and the others are still segmented;
the exit status is 1 if any input failed. Inputs are never overwritten.

Without --weights the CamVid model that ships with refineseg is used (11 street-scene classes,
no network needed). The model runs through refineseg.optimize_for_inference (batch norm folded,
channels-last, faster pooling: the same outputs several times faster on a CPU) unless --no-optimize.
--precision auto (the default) runs it in bf16 on CPUs with native bf16 (AVX512-BF16, AMX), 1.6-2x
faster, and in fp32 elsewhere; --precision fp32 is exact everywhere. --precision int8 quantizes it
with ONNX Runtime, calibrated on --calibration images or on up to --calibration-images of the
inputs, once per model and calibration set. docs/BENCHMARKS.md has what each costs in mIoU.

examples:
  refineseg predict street.jpg --output out/
  refineseg predict photos/ 'more/*.png' clip.mp4 --output out/ --batch-size 8
  refineseg predict big_aerial.tif --weights runs/mine/best.safetensors --tile-size 768 --output out/
  refineseg predict photos/ --weights camvid.onnx --output out/
  refineseg predict photos/ --precision int8 --calibration DATA/camvid/train --output out/
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg predict`` to the command line.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    from ..constants import DEFAULT_TILE_SIZE, DEFAULT_WHOLE_IMAGE_PIXELS

    p = sub.add_parser(
        "predict", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or glob patterns")
    p.add_argument("--output", "-o", type=Path, required=True, help="folder for the results (created if needed)")
    p.add_argument(
        "--weights",
        default="camvid",
        help="a .safetensors weights file, shipped weights name (default camvid) or hf://ORG/NAME[@REVISION]",
    )
    p.add_argument("--batch-size", type=int, default=4, help="same-size images per forward pass (default 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="image scales whose softmax is averaged")
    p.add_argument("--flip", action="store_true", help="also average horizontally flipped predictions")
    p.add_argument("--probabilities", action="store_true", help="also write NAME_probs.npy")
    p.add_argument("--no-overlay", dest="overlay", action="store_false", help="write only the label PNGs")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay colour opacity, 0..1 (default 0.5)")
    p.add_argument("--video-labels", action="store_true", help="for videos, also write a label PNG per frame")
    p.add_argument(
        "--tile-above",
        type=int,
        default=DEFAULT_WHOLE_IMAGE_PIXELS,
        metavar="PIXELS",
        help=f"images with more pixels run in sliding windows (default {DEFAULT_WHOLE_IMAGE_PIXELS:,})",
    )
    p.add_argument("--tile-size", type=int, default=DEFAULT_TILE_SIZE, help="sliding-window size in pixels")
    add_backend(p)
    p.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="run the model as built instead of optimize_for_inference (same outputs, slower)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also torch.compile the model: pays for many images of one size (compiling takes tens of seconds)",
    )
    add_precision(p, default="auto", calibration_default="default: the inputs themselves")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    add_distributed(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Segment the inputs and write the outputs; failed inputs are listed, not fatal until the end.

    With distributed options, every process segments and writes its share and rank 0 reports.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0, or 1 when an input failed.

    Raises:
        ValueError: A bad option value, a backend that cannot run these weights, or inputs of
            which none would be segmented (found before the model is loaded).
        FileNotFoundError: The weights are missing.
        ImportError: A needed extra is missing.
    """
    from ..inference import Segmenter
    from ..inference.outputs import OutputOptions
    from ..inference.predict import plan_inputs, predict_paths

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if any(s <= 0 for s in args.scales):
        raise ValueError(f"--scales must be positive, got {args.scales}")
    if args.tile_above < 1:
        raise ValueError(f"--tile-above must be a positive pixel count, got {args.tile_above}")
    if args.tile_size < 32:
        raise ValueError(f"--tile-size must be at least 32, got {args.tile_size}")
    backend = args.backend
    if backend == "auto" and args.compile:
        backend = "pytorch"  # torch.compile is PyTorch's
    if backend != "pytorch" and args.compile:
        raise ValueError("--compile applies to the pytorch backend only")
    if backend == "onnxruntime" and args.precision == "bf16":
        raise ValueError("--precision bf16 runs with the pytorch or openvino backend, not onnxruntime")
    if args.precision == "int8" and args.compile:
        raise ValueError("--compile applies to PyTorch models; --precision int8 runs with ONNX Runtime")
    planned = OutputOptions(
        overlay=args.overlay, alpha=args.alpha, probabilities=args.probabilities, video_labels=args.video_labels
    )
    runnable, problems = plan_inputs(args.inputs, args.output, planned)
    if not runnable:  # before the model is loaded (seconds): nothing would be segmented
        raise ValueError("; ".join(problems) or "no inputs")
    calibration = calibration_images(
        args,
        wanted=args.precision == "int8",
        flag="--precision int8",
        fallback=lambda: images_in(args.inputs, option="--precision int8: the inputs", exclude=args.output),
    )
    settings = {
        "scales": args.scales,
        "flip": args.flip,
        "whole_image_pixels": args.tile_above,
        "tile_size": args.tile_size,
        "backend": backend,
        "optimize": args.optimize,
        "compile": args.compile,
        "precision": args.precision,
        "calibration": calibration,
    }
    options = {
        "batch_size": args.batch_size,
        "overlay": args.overlay,
        "alpha": args.alpha,
        "probabilities": args.probabilities,
        "video_labels": args.video_labels,
        "progress": args.progress,
    }
    distributed = distributed_options(args)
    if distributed is None:
        segmenter = Segmenter.from_pretrained(args.weights, device=args.device, **settings)

        from .._progress import write_above

        def report_error(message: str) -> None:  # not through the progress bar
            write_above(f"refineseg predict: error: {message}")

        report = predict_paths(segmenter, args.inputs, args.output, on_error=report_error, **options)
        precision = segmenter.precision
    else:
        from ..distributed import PredictionJob, predict_distributed

        job = PredictionJob(str(args.weights), [str(i) for i in args.inputs], str(args.output), settings, options)
        gathered = predict_distributed(job, distributed)
        if gathered is None:  # this process's share is written; rank 0 reports
            return 0
        report, precision = gathered
        for message in report.errors:
            print(f"refineseg predict: error: {message}", file=sys.stderr)
    videos = f" and {report.videos} video(s), {report.frames} frames," if report.videos else ""
    print(f"segmented {report.images} image(s){videos} into {args.output} ({precision})")
    if report.errors:
        print(f"{len(report.errors)} input(s) failed (see the errors above)", file=sys.stderr)
        return 1
    return 0
