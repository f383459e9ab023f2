"""Lightning checkpoints written atomically beside their final path."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .._io import atomic_write

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file in the checkpoint's directory, then rename.

    Lightning's default stages through the system temp directory and moves the file, which
    is a copy (not atomic) when that directory is on another file system; a run killed then
    could leave a truncated ``last.ckpt`` that ``--resume`` cannot read.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Save ``checkpoint`` to ``path`` atomically.

        Args:
            checkpoint: The checkpoint Lightning assembled.
            path: The checkpoint file.
            storage_options: Unused (as in ``TorchCheckpointIO``).
        """
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))
