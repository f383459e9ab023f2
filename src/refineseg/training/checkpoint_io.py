"""Lightning checkpoints written atomically beside their final path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .._io import atomic_write
from .safety import write_error

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file in the checkpoint's directory, then rename.

    Lightning's default stages through the system temp directory and moves the file, which
    is a copy (not atomic) when that directory is on another file system; a run killed then
    could leave a truncated ``last.ckpt`` that ``--resume`` cannot read.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Save ``checkpoint`` to ``path`` atomically; a failed write is one ``OSError`` naming the file.

        Args:
            checkpoint: The checkpoint Lightning assembled.
            path: The checkpoint file.
            storage_options: Unused (as in ``TorchCheckpointIO``).

        Raises:
            OSError: If the file cannot be written (``ENOSPC``, saying so, for a full disk); the
                previous checkpoint is left as it was.
        """
        try:
            atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))
        except (OSError, RuntimeError) as exc:  # torch.save says "iostream error" for a full disk
            raise write_error(Path(path), exc) from None
