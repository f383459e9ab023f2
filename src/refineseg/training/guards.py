"""Training that went wrong stops and says so: a non-finite loss or gradient, a class with no pixels.

Without these, a too-high learning rate trains on NaN to the last epoch, exits 0 and leaves
weights that predict garbage, and a class missing from the training masks (a mis-declared
mask format) silently gets an IoU of n/a.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import Tensor

__all__ = ["FiniteGuard", "TrainingDiverged", "missing_classes"]


class TrainingDiverged(FloatingPointError):
    """The loss or a gradient became NaN or infinite; the run was stopped before the weights were."""


class FiniteGuard(L.Callback):
    """Stops the run at the first non-finite loss, or gradient before it reaches the weights.

    The gradient check runs before the optimiser step, so the weights (and every checkpoint
    and weights file written later) stay finite. Runs with a gradient scaler (16-bit mixed
    precision) skip that check: the scaler sees infinite gradients by design and skips
    those steps itself.

    Args:
        lr: The configured learning rate, which the advice names (the scheduled one drifts).
    """

    def __init__(self, *, lr: float | None = None) -> None:
        self.lr = lr  # the configured rate, which the advice names (the scheduled one drifts)

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor) -> None:
        """Stop at a non-finite loss.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            loss: The step's loss.

        Raises:
            TrainingDiverged: If the loss is NaN or infinite.
        """
        if not bool(torch.isfinite(loss.detach())):
            value = float(loss.detach())
            raise TrainingDiverged(f"{_where(trainer)}: the loss is {value}; {_advice(self.lr)}")

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        """Stop at a non-finite gradient, before the optimiser applies it.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            optimizer: The optimiser about to step.

        Raises:
            TrainingDiverged: If a gradient holds NaN or infinity (not with a gradient scaler).
        """
        if getattr(trainer.precision_plugin, "scaler", None) is not None:
            return
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
            return
        name = next(
            n for n, p in pl_module.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()
        )
        raise TrainingDiverged(f"{_where(trainer)}: the gradient of {name} is not finite; {_advice(self.lr)}")


def _where(trainer: L.Trainer) -> str:
    return f"training diverged at step {trainer.global_step + 1} (epoch {trainer.current_epoch + 1})"


def _advice(lr: float | None) -> str:
    if lr is None:
        return "a too-high learning rate is the likely cause: lower --lr, or try --gradient-clip-val 1.0"
    return f"the learning rate (--lr {lr:g}) is the likely cause: try --lr {lr / 10:g}, or --gradient-clip-val 1.0"


def missing_classes(pixel_counts: np.ndarray, class_names: list[str] | tuple[str, ...]) -> list[str]:
    """Names of the classes with no pixel in ``pixel_counts``.

    Args:
        pixel_counts: Pixels per train id.
        class_names: Class names, in train-id order.

    Returns:
        The names of the classes with a count of 0.
    """
    return [name for name, count in zip(class_names, pixel_counts, strict=True) if count == 0]
