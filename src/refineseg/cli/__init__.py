"""The ``refineseg`` command line: one sub-command per module, imported only when used."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._extras import MissingExtraError
from . import (
    check_data,
    convert,
    evaluate,
    export,
    import_annotations,
    label_studio,
    models,
    predict,
    push_to_hub,
    rank,
    serve,
    summary,
    train,
    visualize,
)
from ._parser import Parser

__all__ = ["main"]

COMMANDS = (
    predict,
    rank,
    serve,
    label_studio,
    models,
    convert,
    import_annotations,
    check_data,
    export,
    train,
    evaluate,
    push_to_hub,
    summary,
    visualize,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``refineseg`` parser with every command's sub-parser (building it imports no torch).

    Returns:
        The parser.
    """
    parser = Parser(
        prog="refineseg",
        description="RefineNet and Light-Weight RefineNet semantic segmentation.",
    )
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"refineseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``refineseg`` command line.

    Bad input (a missing file, a wrong option value, a missing extra) is reported as one line
    on stderr, ``refineseg COMMAND: error: ...``, with exit status 1, never as a traceback.

    Args:
        argv: The arguments after ``refineseg``; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    # the library's one-time notes (int8 quantizing, ...) on stderr, named after the command
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"refineseg {args.command}: %(message)s"))
    log = logging.getLogger("refineseg")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    propagate, log.propagate = log.propagate, False  # not again through a root handler a dependency set up
    try:
        return int(args.run(args) or 0)
    # expected failures: one line, no traceback (MissingExtraError: an optional dependency is not
    # installed, the message says what to install; FloatingPointError: a training run that diverged)
    except (MissingExtraError, OSError, ValueError, ImportError, FloatingPointError) as exc:
        print(f"refineseg {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
