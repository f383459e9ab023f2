"""Options that several commands share, defined once."""

from __future__ import annotations

import argparse

__all__ = ["add_precision"]


def add_precision(parser: argparse.ArgumentParser) -> None:
    from ..inference.precision import PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="number format of the PyTorch model: fp32 (default, exact), bf16 (weights converted once; "
        "about 2x faster on CPUs with AVX512-BF16 or AMX, slower elsewhere), or auto (bf16 where the CPU "
        "has native bf16, else fp32; `refineseg models --hardware` says which)",
    )
