"""``refineseg convert``: reference checkpoints to refineseg weights files."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert a DrSleep/refinenet-pytorch or light-weight-refinenet checkpoint to .safetensors"

DESCRIPTION = """\
Convert a checkpoint of the reference PyTorch implementations (DrSleep/refinenet-pytorch:
rf101; DrSleep/light-weight-refinenet: rf_lw50, rf_lw101, rf_lw152, mbv2) to a refineseg
weights file. Bare state dicts and the wrapped forms the reference training scripts save
({"model": ...}, {"segmenter": ...}, "module." prefixes) are accepted. The file is read with
torch.load(weights_only=True): a pickle that would run code is refused. Every key must map
exactly; nothing is loaded partially.

example:
  refineseg convert rf_lw50_voc.pth.tar --arch rf_lw50 --num-classes 21 --output lw50_voc.safetensors
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    from ..constants import REFERENCE_ARCHS

    p = sub.add_parser(
        "convert", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("input", type=Path, help="the reference checkpoint (.pth / .pth.tar)")
    names = sorted({*REFERENCE_ARCHS, *REFERENCE_ARCHS.values()})
    p.add_argument("--arch", required=True, choices=names, metavar="NAME", help=f"architecture: {', '.join(names)}")
    p.add_argument("--num-classes", type=int, help="expected number of classes (default: read from the checkpoint)")
    p.add_argument("--class-names", help="comma-separated class names to store in the weights file")
    p.add_argument("--output", "-o", type=Path, required=True, help="the .safetensors file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert the reference checkpoint ``args`` names and write the weights file.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: If ``--output`` is not a ``.safetensors`` name or is the input, or the
            checkpoint does not match ``--arch``.
        FileExistsError: If ``--output`` exists and ``--force`` is not given.
    """
    from ..weights.convert import convert_checkpoint

    if args.output.suffix != ".safetensors":
        raise ValueError(f"--output {args.output}: expected a .safetensors file name")
    if args.output.resolve() == args.input.resolve():
        raise ValueError("--output must differ from the input checkpoint")
    if args.output.exists() and not args.force:
        raise FileExistsError(f"--output {args.output} exists; pass --force to overwrite it")
    names = [n.strip() for n in args.class_names.split(",")] if args.class_names else None
    model = convert_checkpoint(
        args.input, arch=args.arch, num_classes=args.num_classes, output=args.output, class_names=names
    )
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output}: {model.arch}, {model.num_classes} classes, {params:,} parameters")
    return 0
