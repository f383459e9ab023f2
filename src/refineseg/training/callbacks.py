"""Export the best model (by validation mIoU) as a refineseg weights file; average the weights."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging

from ..models import SegmentationModel
from ..weights import save_model
from .safety import write_error

__all__ = ["EMAWeights", "ExportBestWeights"]


class EMAWeights(EMAWeightAveraging):
    """Lightning's exponential moving average of the weights, updated after every step.

    Lightning validates and checkpoints the average (swapping it in for validation) and
    copies it into the model when training ends; :attr:`averaged_model` lets
    :class:`ExportBestWeights` save the weights that were validated.

    Args:
        decay: The average's decay per step.
    """

    def __init__(self, decay: float) -> None:
        super().__init__(decay=decay)

    @property
    def averaged_model(self) -> SegmentationModel | None:
        """The averaged copy of the trained model, once fitting has begun."""
        if self._average_model is None:
            return None
        return self._average_model.module.model  # type: ignore[return-value]  # it wraps the LightningModule


class ExportBestWeights(L.Callback):
    """After each validation, if ``val/miou`` improved, write ``best.safetensors`` (rank 0 only).

    The file carries the dataset's class names and palette and, as provenance, the epoch,
    step and validation metrics, so ``refineseg.load_model`` gets a self-describing model.

    Args:
        path: The weights file to write.
        class_names: The dataset's class names, stored in the model's meta.
        palette: The dataset's class colours, stored in the model's meta.
        averaging: The run's weight average, if any: its weights are the ones validated, so
            they are the ones written.
        recipe: The run's configuration, stored in the provenance.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        class_names: list[str],
        palette: list[tuple[int, int, int]],
        recipe: dict,
        averaging: EMAWeights | None = None,
    ) -> None:
        self.path = Path(path)
        self.class_names = class_names
        self.palette = palette
        self.recipe = recipe
        self.averaging = averaging
        self.best = float("-inf")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write the weights file if the module's ``last_val_metrics`` has a better mIoU.

        Args:
            trainer: The trainer.
            pl_module: The :class:`~refineseg.training.module.SegmentationModule` being trained.
        """
        if trainer.sanity_checking:
            return
        metrics = getattr(pl_module, "last_val_metrics", None)
        if metrics is None or metrics.miou <= self.best:
            return
        self.best = metrics.miou
        if not trainer.is_global_zero:
            return
        averaged = self.averaging.averaged_model if self.averaging is not None else None
        model: SegmentationModel = averaged if averaged is not None else pl_module.model  # type: ignore[assignment]
        model.meta.class_names = list(self.class_names)
        model.meta.palette = list(self.palette)
        provenance = {
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "val_miou": metrics.miou,
            "val_pixel_accuracy": metrics.pixel_accuracy,
            "val_mean_accuracy": metrics.mean_accuracy,
            "recipe": self.recipe,
        }
        try:
            save_model(model, self.path, provenance=provenance)
        except (OSError, RuntimeError) as exc:  # safetensors, like torch.save, does not say "no space"
            raise write_error(self.path, exc) from None

    def state_dict(self) -> dict[str, float]:
        """The best mIoU so far, saved in checkpoints so a resumed run keeps it.

        Returns:
            ``{"best": miou}``.
        """
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        """Restore the best mIoU from a checkpoint.

        Args:
            state_dict: What :meth:`state_dict` returned.
        """
        self.best = state_dict["best"]
