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


def conditioned_reference_state_dict(name: str, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """:func:`reference_state_dict`'s values, rescaled so that a model running them stays well conditioned.

    With every value at ``0.05 * randn`` the activations die out within a few layers and the
    output does not depend on the input at all, so comparing outputs would miss a wrong mapping in
    the encoder. Here convolution weights become He-normal (``randn * sqrt(2 / fan_in)``) and
    BatchNorm becomes close to the identity (weight ``1 + 4w``, bias and running mean ``2w``,
    running variance as drawn), as ``tools/compare_reference.py``'s ``randomize_`` does. The
    rescaling reads only keys and shapes, so the reference model and the converted one get
    identical values.
    """
    state = reference_state_dict(name, seed=seed)
    batchnorms = {k.removesuffix(".running_mean") for k in state if k.endswith(".running_mean")}
    out = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        if module in batchnorms and param == "weight":
            value = 1.0 + 4.0 * value
        elif module in batchnorms and param in ("bias", "running_mean"):
            value = 2.0 * value
        elif param == "weight" and value.dim() == 4:
            value = value / 0.05 * (2.0 / value[0].numel()) ** 0.5
        out[key] = value
    return out
