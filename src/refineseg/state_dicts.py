"""Reading a state dict from a file without running code, for every place that reads one.

Encoder weights (``weights_backbone=FILE``) and reference checkpoints (``refineseg convert``)
arrive as ``.safetensors`` files or PyTorch pickles, sometimes wrapped (``{"state_dict": ...}``,
``{"model": ...}``). A pickle is read with ``torch.load(weights_only=True)``: one that would
import or call anything beyond tensors is refused, since loading it could run code.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["WRAPPER_KEYS", "StateDictError", "read_state_dict"]

# the keys under which checkpoints of the reference implementations and of training loops keep
# the state dict, tried in this order at every level
WRAPPER_KEYS = ("model", "segmenter", "state_dict")


class StateDictError(ValueError):
    """A file that is not a readable state dict of tensors, or one refused because it could run code."""


def read_state_dict(path: str | os.PathLike[str], *, what: str = "weights") -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file or a PyTorch pickle, unwrapped, on the CPU.

    Args:
        path: The file.
        what: What the file is, for the messages (``"weights"``, ``"checkpoint"``).

    Returns:
        The tensors by key, with any ``model``/``segmenter``/``state_dict`` wrappers removed.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        StateDictError: The file holds pickled objects beyond tensors (refused), is unreadable, or
            holds something other than a state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as exc:
            raise StateDictError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's safe unpickler words everything it will not run alike: a global (code) is named,
        # other opcodes (an arbitrary pickle, or no pickle at all) are not
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        detail = f"it calls {found.group(1)}, " if found else ""
        raise StateDictError(
            f"{path}: refused to load: not a plain state dict of tensors ({detail}pickled Python objects could "
            "run code, or it is not a PyTorch file at all); only plain state dicts are read"
        ) from None
    except Exception as exc:  # truncated zip, not a torch file at all, ...
        raise StateDictError(f"{path}: not a readable PyTorch {what} file ({type(exc).__name__}: {exc})") from None
    while isinstance(obj, Mapping):
        wrapper = next((k for k in WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if wrapper is None:
            break
        obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise StateDictError(
            f"{path}: expected a state dict of tensors (optionally under {'/'.join(map(repr, WRAPPER_KEYS))})"
        )
    return dict(obj)
