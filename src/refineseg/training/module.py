"""The Lightning module: loss, optimiser groups, schedule, validation mIoU, frozen BN."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from ..data.labels import IGNORE_INDEX
from ..evaluation.metrics import confusion_matrix_metric, metrics_from_confusion
from ..models import SegmentationModel
from .config import TrainConfig
from .data import sample_seed
from .losses import build_loss

__all__ = ["SegmentationModule"]


class SegmentationModule(L.LightningModule):
    """A segmentation model trained as a recipe says: loss, optimiser groups, schedule, validation mIoU.

    The encoder trains at ``lr * encoder_lr_ratio``, the rest at ``lr``; validation fills a
    confusion matrix and logs ``val/miou``, ``val/pixel_accuracy`` and ``val/mean_accuracy``,
    keeping the last metrics as ``last_val_metrics``.

    Args:
        model: The model to train.
        config: The run's settings.
        class_weights: Per-class loss weights, or ``None``.
    """

    def __init__(self, model: SegmentationModel, config: TrainConfig, *, class_weights: Tensor | None = None) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.ignore_index = IGNORE_INDEX
        self.loss = build_loss(config.loss, ignore_index=self.ignore_index, class_weights=class_weights)
        self.val_confusion = confusion_matrix_metric(model.num_classes, self.ignore_index)
        if config.freeze_encoder_bn:
            for module in self._encoder_norms():
                for p in module.parameters():
                    p.requires_grad_(False)

    def _encoder_norms(self) -> list[nn.Module]:
        return [m for m in self.model.encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def train(self, mode: bool = True) -> SegmentationModule:
        """Frozen encoder batch norm stays in eval mode (fixed statistics) while training.

        Args:
            mode: Training (``True``) or evaluation mode.

        Returns:
            The module itself.
        """
        super().train(mode)
        if mode and self.config.freeze_encoder_bn:
            for module in self._encoder_norms():
                module.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        """The model's logits.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            Logits, ``(N, num_classes, H, W)``.
        """
        return self.model(x)

    def _prepare(self, images: Tensor) -> Tensor:
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Compute and log the loss of one batch.

        Args:
            batch: Images ``(N, 3, H, W)`` and masks ``(N, H, W)``.
            batch_idx: The batch's index in the epoch.

        Returns:
            The loss.
        """
        images, masks = batch
        logits = self.model(self._prepare(images))
        loss = self.loss(logits, masks)
        self.log(
            "train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, sync_dist=True, batch_size=images.shape[0]
        )
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """Log the loss and add the predictions to the confusion matrix.

        Args:
            batch: Images ``(N, 3, H, W)`` and masks ``(N, H, W)``.
            batch_idx: The batch's index.
        """
        images, masks = batch
        logits = self.model(self._prepare(images))
        loss = self.loss(logits, masks)
        self.val_confusion.update(logits.argmax(1), masks)
        self.log("val/loss", loss, on_epoch=True, sync_dist=True, batch_size=images.shape[0])

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's validation metrics and keep them as ``last_val_metrics``."""
        metrics = metrics_from_confusion(self.val_confusion.compute())
        self.val_confusion.reset()
        self.log("val/miou", metrics.miou, prog_bar=True, sync_dist=True)
        self.log("val/pixel_accuracy", metrics.pixel_accuracy, sync_dist=True)
        self.log("val/mean_accuracy", metrics.mean_accuracy, sync_dist=True)
        self.last_val_metrics = metrics

    def configure_optimizers(self) -> Any:
        """SGD or AdamW with an encoder and a decoder group, and the recipe's schedule.

        Returns:
            The optimiser, or Lightning's dict of optimiser and scheduler.
        """
        c = self.config
        encoder = [p for p in self.model.encoder.parameters() if p.requires_grad]
        encoder_ids = {id(p) for p in self.model.encoder.parameters()}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in encoder_ids]
        groups = [
            {"params": encoder, "lr": c.lr * c.encoder_lr_ratio, "name": "encoder"},
            {"params": rest, "lr": c.lr, "name": "decoder"},
        ]
        optimizer: torch.optim.Optimizer
        if c.optimizer == "adamw":
            optimizer = torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay)
        else:
            optimizer = torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        if c.schedule == "constant":
            return optimizer
        if c.schedule == "step":
            scheduler: Any = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(c.step_epochs), gamma=c.step_gamma)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        total = max(1, int(self.trainer.estimated_stepping_batches))
        power = c.poly_power
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (1 - min(step, total) / total) ** power)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """At each epoch's first step, reseed the global RNGs (dropout) from (seed, epoch, rank).

        Lightning restores weights, optimiser, scheduler and loop counters from a
        checkpoint; with the data order and augmentation already derived from the seed
        (:class:`SeededSampler`), this makes a run resumed at an epoch boundary continue
        exactly as the uninterrupted run would have. (Reseeding here rather than at epoch
        start keeps the data loader's own draws out of the sequence.)

        Args:
            batch: The batch (unused).
            batch_idx: The batch's index in the epoch.
        """
        if batch_idx != 0:
            return
        seed = sample_seed(self.config.seed, self.current_epoch, -1 - self.global_rank)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
