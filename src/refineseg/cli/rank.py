"""``refineseg rank``: order unlabelled images by the model's uncertainty, the ones to label first on top."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import add_backend, add_precision, calibration_images, images_in

# refineseg.inference.uncertainty.MEASURES, spelt out: importing it here would import torch for --help
MEASURES = ("entropy", "margin")

HELP = "order unlabelled images by the model's uncertainty: which images to label next"

DESCRIPTION = """\
Segment each image with the model and write a CSV that lists them most uncertain first: the
images the model is least sure of are those whose labels teach it most (active learning).

The score is an image's mean per-pixel uncertainty, between 0 and 1; higher = label sooner:
  --by entropy   the softmax's entropy divided by log(classes): 0 when one class has all the
                 probability, 1 when every class is equally likely (the default)
  --by margin    1 - (top class - second class probability): how torn each pixel is between
                 its two most likely classes, whatever the others
Columns of --output: rank, image, score, mean_entropy, mean_margin (the mean gap between the two
most likely classes: higher = surer), and share_<class> for every class of the model (the share
of the image's pixels predicted as that class, to spot images of rare classes).

With Label Studio: rank is for images not yet in Label Studio. Import the top of the list, label
those, retrain, rank what is left, and repeat. For tasks already in Label Studio, its ML
backend gives each prediction a score, its confidence = 1 - the entropy score above, and a
project set to "Uncertainty sampling" shows the lowest-scored tasks first: the same ranking.

Inputs are image files, folders (searched recursively) and glob patterns; videos are skipped.
An image that cannot be read is reported on one line and the others are still ranked; the exit
status is then 1. --output is written atomically and never overwrites an input.

examples:
  refineseg rank unlabelled/ --weights runs/mine/best.safetensors --output ranking.csv
  refineseg rank unlabelled/ --weights runs/mine/best.safetensors --by margin -o ranking.csv
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg rank`` to the command line.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    p = sub.add_parser("rank", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="IMAGES", help="image files, folders or glob patterns")
    p.add_argument(
        "--weights",
        required=True,
        help="the model that will learn from the labels: a .safetensors weights file (as `refineseg train` "
        "writes), an exported .onnx file, a shipped weights name or hf://ORG/NAME[@REVISION]",
    )
    p.add_argument(
        "--by",
        choices=MEASURES,
        default="entropy",
        help="the uncertainty that orders the images: entropy (all classes, the default) or margin (the top two)",
    )
    p.add_argument("--output", "-o", type=Path, required=True, help="the CSV file to write (e.g. ranking.csv)")
    p.add_argument("--batch-size", type=int, default=4, help="same-size images per forward pass (default 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    add_backend(p)
    add_precision(p, default="auto", calibration_default="default: the inputs themselves")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rank the images, write the CSV and print the top of it; unreadable images are listed, not fatal.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0, or 1 when an input failed.

    Raises:
        ValueError: A bad option value, an --output that is a folder or an input, or inputs
            of which none is an image (found before the model is loaded).
        FileNotFoundError: The weights are missing.
        ImportError: A needed extra is missing.
    """
    import sys

    from .._progress import write_above
    from ..inference import Segmenter
    from ..inference.inputs import collect_inputs
    from ..inference.uncertainty import rank_images, write_ranking_csv

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    output: Path = args.output
    if output.is_dir():
        raise ValueError(f"--output {output}: is a folder; give the CSV file to write, e.g. {output / 'ranking.csv'}")
    backend = args.backend
    if backend == "onnxruntime" and args.precision == "bf16":
        raise ValueError("--precision bf16 runs with the pytorch or openvino backend, not onnxruntime")

    # found before the model is loaded (seconds): fail at once when nothing would be ranked
    items, problems = collect_inputs(args.inputs)
    images = [item.path for item in items if not item.is_video]
    videos = len(items) - len(images)
    target = output.resolve()
    if any(path.resolve() == target for path in images):
        raise ValueError(f"--output {output}: is one of the input images; it would be overwritten")
    if not images:
        raise ValueError("; ".join(problems) or f"{' '.join(args.inputs)}: no images (rank takes images, not videos)")
    calibration = calibration_images(
        args,
        wanted=args.precision == "int8",
        flag="--precision int8",
        fallback=lambda: images_in(args.inputs, option="--precision int8: the inputs"),
    )
    segmenter = Segmenter.from_pretrained(
        args.weights, device=args.device, backend=backend, precision=args.precision, calibration=calibration
    )

    errors = list(problems)
    for message in problems:
        print(f"refineseg rank: error: {message}", file=sys.stderr)

    def report_error(message: str) -> None:  # not through the progress bar
        errors.append(message)
        write_above(f"refineseg rank: error: {message}")

    ranking = rank_images(
        segmenter, images, by=args.by, batch_size=args.batch_size, progress=args.progress, on_error=report_error
    )
    write_ranking_csv(ranking, output, class_names=segmenter.class_names)

    skipped = f", {videos} video(s) skipped" if videos else ""
    print(f"ranked {len(ranking)} image(s) by {args.by}{skipped} ({segmenter.precision}); label these first:")
    width = len(str(min(len(ranking), 5)))
    for rank, image in enumerate(ranking[:5], start=1):
        print(f"  {rank:>{width}}. {image.score:.4f}  {image.path}")
    print(f"the full ranking is in {output}")
    if errors:
        print(f"{len(errors)} input(s) failed (see the errors above)", file=sys.stderr)
        return 1
    return 0
