"""What every benchmark script shares: the timing loop (warm-up, timed runs, no autograd) and the machine line."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch


def timings(run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``run``, after ``warmup`` untimed ones."""
    with torch.inference_mode():
        for _ in range(warmup):
            run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return times


def median_seconds(run: Callable[[], object], warmup: int, repeats: int) -> float:
    return statistics.median(timings(run, warmup, repeats))


def machine() -> str:
    """The CPU, the vector ISA PyTorch dispatches to, threads and versions: timings differ between them."""
    from refineseg.inference.precision import cpu_features

    isa = torch.backends.cpu.get_cpu_capability()
    return (
        f"{cpu_features().name} ({isa}), {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}"
    )
