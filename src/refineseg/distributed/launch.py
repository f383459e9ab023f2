"""Running one function on every process of a Lightning Fabric launch, and sharding work between them.

Evaluation and prediction shard their inputs the same way on every rank (rank ``r`` of ``w``
takes items ``r, r + w, r + 2w, ...``), so no data is sent between processes: each rank reads
its own share from disk, and only the small results (a confusion matrix, a report) are
reduced. Lightning comes with the ``[train]`` extra and is imported only here, only when more
than one process is asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._extras import require

__all__ = ["DistributedOptions", "Rank", "launch", "shard"]

_T = TypeVar("_T")
_S = TypeVar("_S")


@dataclass(frozen=True)
class DistributedOptions:
    """Where to run, as ``refineseg train`` takes it (Lightning's names and meanings).

    Attributes:
        accelerator: ``"cpu"``, ``"gpu"`` or ``"auto"``.
        devices: Devices (processes) per node, or ``"auto"``.
        num_nodes: Machines taking part.
        strategy: Lightning's strategy: ``"auto"``, ``"ddp"`` (a process per device, launched by
            re-running the command) or ``"ddp_spawn"`` (for calls from Python, e.g. a notebook).
    """

    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.devices, int) and self.devices < 1:
            raise ValueError(f"--devices must be at least 1, got {self.devices}")
        if self.num_nodes < 1:
            raise ValueError(f"--num-nodes must be at least 1, got {self.num_nodes}")

    @property
    def single_process(self) -> bool:
        """Whether this asks for exactly one process, which needs no launch at all."""
        return self.devices == 1 and self.num_nodes == 1 and self.strategy in ("auto", "single_device")


@dataclass(frozen=True)
class Rank:
    """The process a function runs in.

    Attributes:
        index: Its global rank, ``0`` to ``world - 1``.
        world: The number of processes.
        device: The device it computes on.
        fabric: The Lightning Fabric that launched it (``None`` for a single process).
    """

    index: int
    world: int
    device: Any
    fabric: Any = None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which reports and writes what is written once."""
        return self.index == 0

    def gather(self, value: _S) -> list[_S]:
        """Every rank's ``value``, in rank order, on every rank (picklable objects, via ``torch.distributed``).

        Args:
            value: This rank's object.

        Returns:
            The objects of ranks ``0`` to ``world - 1``.
        """
        if self.fabric is None:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return gathered


def shard(items: Sequence[_T], rank: Rank) -> list[_T]:
    """This rank's share of ``items``: every ``world``-th one from its own index, order kept.

    Args:
        items: What every rank lists the same way.
        rank: The process.

    Returns:
        ``items[rank.index::rank.world]``.
    """
    return list(items[rank.index :: rank.world])


def launch(options: DistributedOptions, function: Callable[..., _T], *args: Any) -> _T:
    """Run ``function(rank, *args)`` on every process that ``options`` asks for.

    One process runs it directly. Otherwise Lightning Fabric starts the processes (with
    ``"ddp"``, by running the same command again with the rank in its environment, so
    ``function`` and ``args`` must be the same on every rank) and joins them into one group
    (NCCL on GPUs, gloo on CPUs).

    Args:
        options: Accelerator, devices, nodes and strategy.
        function: Called as ``function(rank, *args)``; module-level and picklable for ``"ddp_spawn"``.
        *args: Its arguments, the same on every rank.

    Returns:
        What ``function`` returned on this process.

    Raises:
        ImportError: More than one process is asked for and Lightning is not installed.
    """
    if options.single_process:
        import torch

        device = "cuda" if options.accelerator == "gpu" else "cpu"
        if options.accelerator == "auto" and torch.cuda.is_available():
            device = "cuda"
        return function(Rank(0, 1, torch.device(device)), *args)
    Fabric = require("lightning.fabric", "train", purpose="running on several devices", name="Lightning").Fabric
    fabric = Fabric(
        accelerator=options.accelerator,
        devices=options.devices,
        num_nodes=options.num_nodes,
        strategy=options.strategy,
    )
    try:
        # a partial of module-level functions: picklable for ddp_spawn
        result: _T = fabric.launch(functools.partial(_on_rank, function=function, args=args))
    finally:
        # a process group left for interpreter exit to tear down can abort the process
        # (SIGABRT, "terminate called without an active exception") instead of exiting with
        # the run's status; every collective is over once ``function`` has returned
        _destroy_process_group()
    return result


def _destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _on_rank(fabric: Any, *, function: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    return function(Rank(fabric.global_rank, fabric.world_size, fabric.device, fabric), *args)
