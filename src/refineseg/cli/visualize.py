"""``refineseg visualize``: pictures of what each level, block and pooling stage computes for one image."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "draw what each encoder level, RefineNet block and pooling stage computes for an image"

DESCRIPTION = """\
Run the model once on IMAGE and write, under --output, pictures of its activations:
  levels.png     the input, the encoder's feature maps per level from fine (1/4) to coarse (1/32),
                 and the prediction overlaid on the input, with the classes predicted
  blocks.png     one row per RefineNet block, coarse to fine: the block's inputs (encoder features after
                 their lateral convolution, and the previous block's output), their multi-resolution
                 fusion, and the block's output; down the output column the coarse map gains detail
  pooling.png    one row per block: the chained residual pooling's input after its activation, what each
                 pooling stage adds to the sum, and the sum
  summary.json   every panel: file, name, level (output stride), channels, map size, the range of its values
Each map shows the L2 norm over channels at each pixel (the strength of the response), coloured with
viridis from its minimum to its 99th percentile, enlarged so that every feature cell lines up with the
image pixels it covers. Images larger than --max-side are shrunk first. The model runs unoptimised
(as built) on the CPU, so that every block can be observed. Drawing needs matplotlib
(pip install 'refineseg[plot]').

examples:
  refineseg visualize street.jpg --output vis/
  refineseg visualize photo.png --weights runs/mine/best.safetensors --output vis/ --max-side 1024
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``visualize`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    p = sub.add_parser(
        "visualize", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("image", type=Path, metavar="IMAGE", help="the image file to run the model on")
    p.add_argument(
        "--output", "-o", type=Path, required=True, metavar="DIR", help="folder for the pictures (created if needed)"
    )
    p.add_argument(
        "--weights",
        default="camvid",
        help="a .safetensors weights file, shipped weights name (default camvid) or hf://ORG/NAME[@REVISION]",
    )
    p.add_argument(
        "--max-side",
        type=int,
        default=512,
        metavar="PIXELS",
        help="shrink a larger image to this longer side before running the model; 0 keeps its size (default 512)",
    )
    p.add_argument(
        "--panel-size",
        type=int,
        default=None,
        metavar="PIXELS",
        help="longer side of each picture panel (default: the image's, scaled by a whole factor to about 256)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Draw the activations of the model ``args`` names on the image and print the files written.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: If ``--max-side`` or ``--panel-size`` is out of range, or a file written
            would be the input image.
        NotADirectoryError: If ``--output`` is a file.
        ImportError: If matplotlib is not installed.
    """
    from .._plot import require_matplotlib
    from ..analysis.visualize import check_not_overwriting, visualize
    from ..inference.images import load_image
    from ..weights import load_model

    if args.max_side < 0:
        raise ValueError(f"--max-side must be a positive number of pixels or 0, got {args.max_side}")
    if args.panel_size is not None and args.panel_size < 16:
        raise ValueError(f"--panel-size must be at least 16 pixels, got {args.panel_size}")
    if args.output.exists() and not args.output.is_dir():
        raise NotADirectoryError(f"--output {args.output}: not a folder")
    check_not_overwriting(args.image, args.output)
    require_matplotlib("drawing activations")  # before loading the model and running it
    rgb = load_image(args.image)  # before loading the model: an unreadable image fails at once
    model = load_model(args.weights)
    files = visualize(
        model, rgb, args.output, size=args.panel_size, max_side=args.max_side or None, source=str(args.image)
    )
    for file in files:
        print(file)
    return 0
