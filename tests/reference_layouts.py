"""Reference key layouts, recorded from the reference code by building each model on the meta
device and writing ``{key: shape}`` (no reference code lives in this repository)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

DATA = Path(__file__).parent / "data"
LAYOUTS = DATA / "reference_layouts"
REFERENCE_ARCHS = ("rf101", "rf_lw50", "rf_lw101", "rf_lw152", "mbv2")


def reference_layout(name: str) -> dict[str, list[int]]:
    """Key -> shape of a reference model's state dict at 21 classes, as its code builds it."""
    return json.loads((LAYOUTS / f"{name}.json").read_text())["keys"]


def reference_state_dict(name: str, *, seed: int = 0, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A state dict in the reference layout with random values (integers for counters)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in reference_layout(name).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif device == "meta":
            state[key] = torch.empty(shape, device="meta")
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.05
    return state
