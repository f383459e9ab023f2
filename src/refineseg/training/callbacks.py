"""Export the best model (by validation mIoU) as a refineseg weights file."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from ..models import SegmentationModel
from ..weights import save_model

__all__ = ["ExportBestWeights"]


class ExportBestWeights(L.Callback):
    """After each validation, if ``val/miou`` improved, write ``best.safetensors`` (rank 0 only).

    The file carries the dataset's class names and palette and, as provenance, the epoch,
    step and validation metrics, so ``refineseg.load_model`` gets a self-describing model.

    Args:
        path: The weights file to write.
        class_names: The dataset's class names, stored in the model's meta.
        palette: The dataset's class colours, stored in the model's meta.
        recipe: The run's configuration, stored in the provenance.
    """

    def __init__(
        self, path: str | Path, *, class_names: list[str], palette: list[tuple[int, int, int]], recipe: dict
    ) -> None:
        self.path = Path(path)
        self.class_names = class_names
        self.palette = palette
        self.recipe = recipe
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
        model: SegmentationModel = pl_module.model  # type: ignore[assignment]
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
        save_model(model, self.path, provenance=provenance)

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
