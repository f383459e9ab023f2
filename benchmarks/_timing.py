"""The timing loop every benchmark script shares: warm-up runs, then timed runs, no autograd."""

from __future__ import annotations

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
