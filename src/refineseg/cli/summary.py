"""``refineseg summary``: a model's parts with their level, shape, parameters, FLOPs and time."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "per-block table of a model: resolution level, channels, output shape, parameters, FLOPs"

DESCRIPTION = """\
Build a model (random weights) or load a weights file, run it once on a zero image of --size and
print one row per part, in execution order: the encoder's stages, the lateral convolution of each
encoder feature, and for every RefineNet block its adaptive RCUs per input path, its
multi-resolution fusion, its chained residual pooling and its output RCUs, then the classifier.
Columns: the part's resolution level (1/4 = a quarter of the input's side), its output shape,
parameters and FLOPs (torch.utils.flop_counter; a multiply-add is two FLOPs). The rows add up to
the totals, and the last table gives each group's share. --time adds the CPU time of each part
(the model as refineseg predict runs it, through optimize_for_inference). --mermaid prints the
model's wiring as a Mermaid flowchart instead.

examples:
  refineseg summary refinenet_resnet101 --num-classes 21
  refineseg summary lw_refinenet_mobilenet_v2 --size 360 480 --time 5
  refineseg summary camvid --json camvid_summary.json
  refineseg summary refinenet_resnet50 --mermaid
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``summary`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    p = sub.add_parser(
        "summary", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("name", metavar="NAME", help="a model name (refineseg models), shipped weights or a weights file")
    p.add_argument("--num-classes", type=int, default=21, help="classes of a model built by name (default 21)")
    p.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"), help="input size (512 512)")
    p.add_argument("--time", type=int, default=0, metavar="N", help="also time each part: median of N runs")
    p.add_argument("--json", type=Path, help="also write the table as JSON here")
    p.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart of the wiring instead")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the per-part table (or the Mermaid flowchart) of the model ``args`` names.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: If ``--num-classes``, ``--size`` or ``--time`` is out of range, or the name
            is neither a model name nor a weights file.
    """
    from .._io import atomic_write
    from ..analysis.summary import format_summary, mermaid_diagram, summarize
    from ..models import get_model, list_models
    from ..weights import load_model

    if args.num_classes < 1:
        raise ValueError(f"--num-classes must be at least 1, got {args.num_classes}")
    if any(d < 1 for d in args.size):
        raise ValueError(f"--size must be two positive integers, got {args.size[0]} {args.size[1]}")
    if args.time < 0:
        raise ValueError(f"--time must be 0 or more runs, got {args.time}")
    if args.name in list_models():
        model = get_model(args.name, num_classes=args.num_classes)
    else:
        try:
            model = load_model(args.name)
        except FileNotFoundError:
            raise ValueError(
                f"{args.name!r} is neither a model name ({', '.join(list_models())}) nor a weights file"
            ) from None
    if args.mermaid:
        print(mermaid_diagram(model))
        return 0
    summary = summarize(model, (args.size[0], args.size[1]), time_repeats=args.time)
    print(format_summary(summary))
    if args.json:
        text = json.dumps(summary.as_dict(), indent=1)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text))
        print(f"wrote {args.json}")
    return 0
