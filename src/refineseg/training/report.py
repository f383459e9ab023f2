"""What a training run prints: a step bar that clears itself, then one line per epoch.

Lightning's own progress bar nests validation bars and metric dictionaries; this prints
what a person watches for (loss, val mIoU, the best so far, time) and nothing else.
Lightning's start-up banners, advertisements and internal deprecation warnings are kept
out of the terminal by :func:`quiet_lightning`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

import lightning as L

__all__ = ["EpochReport", "quiet_lightning"]


class EpochReport(L.Callback):
    """One line per epoch on ``stream``: ``epoch 3/40  loss 0.4120  val mIoU 45.21% (best 46.00%, epoch 2)  61 s``.

    Args:
        progress: Whether to show a step bar (on stderr) during each epoch.
        stream: Where the epoch lines go (default: stdout).
    """

    def __init__(self, *, progress: bool = True, stream: TextIO | None = None) -> None:
        self.progress = progress
        self.stream = stream
        self._bar: Any = None
        self._start = 0.0
        self._loss_sum: Any = 0.0
        self._steps = 0
        self._validated = False
        self.best: tuple[float, int] | None = None
        # the run's wall-clock time over every launch (kept in checkpoints, so --resume adds to it)
        # and how many epochs it covers: fewer than the run's epochs where a checkpoint predates it
        self.train_seconds = 0.0
        self.timed_epochs = 0

    def _say(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Say how many processes a distributed run uses (Lightning's own banner is silenced).

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        if trainer.is_global_zero and trainer.world_size > 1:  # Lightning's own banner is silenced
            strategy = type(trainer.strategy).__name__
            self._say(f"distributed: {trainer.world_size} processes ({strategy}, {trainer.num_nodes} node(s))")

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start the epoch's clock, loss sum and step bar.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        self._start = time.monotonic()
        self._loss_sum, self._steps, self._validated = 0.0, 0, False
        if self.progress and trainer.is_global_zero:
            from .._progress import progress_bar

            total = trainer.num_training_batches
            self._bar = progress_bar(
                total=total if total != float("inf") else None,
                desc=f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}",
                leave=False,
                unit="step",
                file=sys.stderr,
            )

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Add the step's loss to the epoch's sum and advance the bar.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            outputs: What ``training_step`` returned.
            batch: The batch.
            batch_idx: The batch's index.
        """
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            # Lightning hands back the loss divided by the accumulation factor; summed on the
            # device so that a GPU run does not wait for the host at every step
            loss = loss.detach() * trainer.accumulate_grad_batches
            self._loss_sum = loss if self._steps == 0 else self._loss_sum + loss
            self._steps += 1
        if self._bar is not None and not self._bar.disable:  # not drawn (no terminal): no loss to show
            if self._steps and self._bar.n % 10 == 0:
                self._bar.set_postfix_str(f"loss {self.mean_loss():.4g}", refresh=False)
            self._bar.update()

    def mean_loss(self) -> float:
        """The mean training loss of the epoch so far (call after at least one step).

        Returns:
            The mean loss.
        """
        return float(self._loss_sum) / self._steps

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Track the best validation mIoU and its epoch.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        metrics = getattr(pl_module, "last_val_metrics", None)
        if trainer.sanity_checking or metrics is None:
            return
        self._validated = True
        if self.best is None or metrics.miou > self.best[0]:
            self.best = (metrics.miou, trainer.current_epoch + 1)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Close the bar and print the epoch's line.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not trainer.is_global_zero:
            return
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        parts.append(f"loss {self.mean_loss():.4g}" if self._steps else "loss n/a")
        metrics = getattr(pl_module, "last_val_metrics", None)
        if self._validated and metrics is not None and self.best is not None:
            parts.append(f"val mIoU {100 * metrics.miou:.2f}% (best {100 * self.best[0]:.2f}%, epoch {self.best[1]})")
        seconds = time.monotonic() - self._start
        self.train_seconds += seconds
        self.timed_epochs += 1
        parts.append(f"{seconds:.0f} s")
        self._say("  ".join(parts))

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """Close the step bar, so the error shows on a clean line.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            exception: The exception that stopped the run.
        """
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def state_dict(self) -> dict[str, Any]:
        """The best mIoU and its epoch and the time trained so far, saved in checkpoints.

        Returns:
            ``{"best": (miou, epoch) or None, "train_seconds": float, "timed_epochs": int}``.
        """
        return {"best": self.best, "train_seconds": self.train_seconds, "timed_epochs": self.timed_epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the best mIoU and its epoch from a checkpoint.

        Args:
            state_dict: What :meth:`state_dict` returned.
        """
        self.best = state_dict.get("best")
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))
        self.timed_epochs = int(state_dict.get("timed_epochs", 0))


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep Lightning's info banners ("GPU available", tips advertising its cloud services) and
    the deprecation warnings it triggers inside torch out of the user's terminal; errors and
    our own warnings still show.

    Yields:
        Nothing; log levels and warning filters are restored on exit.
    """
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", module=r"lightning(\.|$)")
        warnings.filterwarnings("ignore", message=r".*(does not have many workers|smaller than the logging interval)")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
