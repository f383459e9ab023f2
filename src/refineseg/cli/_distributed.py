"""``--accelerator --devices --num-nodes --strategy`` for ``evaluate`` and ``predict``, as ``train`` takes them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..distributed import DistributedOptions

__all__ = ["add_distributed", "distributed_options"]


def add_distributed(parser: argparse.ArgumentParser) -> None:
    """Add the options that spread a command over several devices or machines (Lightning's names).

    Args:
        parser: The command's parser.
    """
    group = parser.add_argument_group(
        "several devices or machines (Lightning Fabric; needs refineseg[train])",
        "The inputs are sharded across the processes; results are the same as on one process.",
    )
    group.add_argument("--accelerator", choices=["cpu", "gpu", "auto"], help="what the processes run on")
    group.add_argument("--devices", help="processes per node: a number or 'auto' (default 1: no launch)")
    group.add_argument("--num-nodes", type=int, default=1, help="machines taking part (default 1)")
    group.add_argument(
        "--strategy",
        help="Lightning strategy (default auto: ddp, one process per device, started by running the same "
        "command again)",
    )


def distributed_options(args: argparse.Namespace) -> DistributedOptions | None:
    """The distributed options asked for, or ``None`` for the plain single-process run.

    Args:
        args: The parsed command line.

    Returns:
        The options when ``--accelerator``, ``--devices`` (other than 1), ``--num-nodes`` (other
        than 1) or ``--strategy`` is given; ``None`` otherwise.

    Raises:
        ValueError: ``--devices`` is neither a positive number nor ``auto``, or ``--device`` is
            given as well.
    """
    from ..distributed import DistributedOptions

    devices: int | str = 1
    if args.devices is not None:
        if args.devices == "auto":
            devices = "auto"
        elif args.devices.isdigit() and int(args.devices) >= 1:
            devices = int(args.devices)
        else:
            raise ValueError(f"--devices must be a positive number or 'auto', got {args.devices!r}")
    asked = args.accelerator is not None or devices != 1 or args.num_nodes != 1 or args.strategy is not None
    if not asked:
        return None
    if getattr(args, "device", "cpu") != "cpu":
        raise ValueError("--device picks one device; with --accelerator/--devices, leave it out")
    return DistributedOptions(
        accelerator=args.accelerator or "auto",
        devices=devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy or "auto",
    )
