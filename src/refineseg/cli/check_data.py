"""``refineseg check-data``: read every image and mask of a dataset and report what would go wrong."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "read every image and mask of a dataset: class statistics and the problems that break training"

DESCRIPTION = """\
Read every image and mask of the split(s) (default: every split of the dataset found under
--root) in parallel and report, per split, the raw mask values (or colours) with their pixel
counts and what each becomes, and per class its pixels, pixel share, the images that show it
and their share; then each problem with its fix in one line (a flag, or the exact classes.txt
edits: "line N 'OLD' to 'NEW'", "add the line 'NEW'"). No fix removes a class line, which would
give every later class another class's mask value: a class is dropped by turning its line into
an '@ignore value=V' line and writing value= on the later lines. Nothing is written to the dataset.

errors (the data cannot train as declared):
  a split that cannot be built (missing files, a broken classes.txt); images without masks;
  unreadable images or masks; a mask whose size differs from its image's; RGB colour masks
  while classes.txt declares classes by value (fix: color=R,G,B on each class's line, colours
  found listed); the silent ignore: pixels that are ignored (255 in a 0/255 binary export)
  while a class has no pixels at all (fix: value=255 on that class's line, or an
  '@ignore value=255' line); JPEG masks; generic masks not named SPLIT/masks/STEM.png; a class
  with no pixels in a training split (train, trainval, train_*), which the model cannot learn
  (fix: images that show it, or the edits that drop it without relabelling the others).
warnings (it trains, but likely not as meant):
  masks without images (unused); mask values or colours no class declares (ignored; fix:
  the value added to its class's line, or an '@ignore value=V' line); many rare undeclared
  values (masks that look JPEG-compressed or resized with interpolation); a class absent from
  an evaluation split.

The report ends with 'OK: N images in SPLITS can train as declared' or 'N errors, M warnings:
CHECKS'. Exit status: 0 when there is no error (warnings allowed), 1 when there is any error
or the command itself fails (unknown dataset or split, no such root).

examples:
  refineseg check-data --dataset generic --root data/cars
  refineseg check-data --dataset camvid --root ../shared/datasets/camvid --split train val
  refineseg check-data --dataset generic --root data/cars --plot classes.png --json report.json
  refineseg check-data --dataset voc --root VOCdevkit --split train_aug --workers 8 --no-progress
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``check-data`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    from ..constants import DATASET_NAMES

    p = sub.add_parser(
        "check-data", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = list(DATASET_NAMES)
    p.add_argument("--dataset", required=True, choices=names, metavar="NAME", help=f"layout: {', '.join(names)}")
    p.add_argument("--root", required=True, help="the dataset's directory")
    p.add_argument(
        "--split",
        dest="splits",
        nargs="+",
        action="extend",
        metavar="S",
        help="split(s) to check (default: every split found under --root)",
    )
    p.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="bar chart of class pixel and image shares (matplotlib)"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON here")
    p.add_argument("--workers", type=int, metavar="N", help="threads reading files (default: cores, at most 8)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the dataset ``args`` names, print the report, and write ``--json`` and ``--plot``.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0 when nothing would break training (warnings allowed), 1 on an error.

    Raises:
        ValueError: If ``--workers`` is below 1, or the dataset or a split cannot be found.
        ImportError: If ``--plot`` is given and matplotlib is not installed.
    """
    from .._io import atomic_write
    from ..data.check import check_dataset, format_report

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.plot is not None:
        from .._plot import require_matplotlib

        require_matplotlib("--plot")  # before reading the whole dataset
    report = check_dataset(args.dataset, args.root, splits=args.splits, workers=args.workers, progress=args.progress)
    if args.json is not None:
        text = json.dumps(report.as_dict(), indent=2)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text + "\n"))
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot is not None:
        from ..data.check_plot import save_plot

        save_plot(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    print(format_report(report))
    return 0 if report.ok else 1
