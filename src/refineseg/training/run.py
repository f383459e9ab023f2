"""``train(config)``: build the model, data and Lightning Trainer for a recipe and fit."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig

__all__ = ["last_checkpoint", "train"]

CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = "best.safetensors"


def last_checkpoint(output: str | os.PathLike[str]) -> Path | None:
    """The checkpoint ``--resume`` continues from.

    Args:
        output: A run's folder.

    Returns:
        ``OUTPUT/checkpoints/last.ckpt`` if it exists, else ``None``.
    """
    path = Path(output) / CHECKPOINT_DIR / "last.ckpt"
    return path if path.is_file() else None


def _precision(config: TrainConfig, accelerator: str) -> Any:
    """``auto`` (or unset): 16/bf16-mixed on a GPU; on a CPU bf16-mixed where it has native bf16
    (the shipped recipe trains 1.26x faster with it and lost no val mIoU at an equal budget,
    docs/BENCHMARKS.md), else 32-true, since emulated bf16 is slower than fp32."""
    if config.precision not in (None, "auto"):
        return config.precision
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "16-mixed"
    from ..inference.precision import cpu_features

    return "bf16-mixed" if cpu_features().native_bf16 else "32-true"


def train(config: TrainConfig) -> Path:
    """Train a model as ``config`` says.

    Args:
        config: The run's settings.

    Returns:
        The best weights file, ``OUTPUT/best.safetensors``.

    Raises:
        ValueError: For invalid settings, a batch larger than the training set, or
            ``init_weights`` with another number of classes.
        FileNotFoundError: With ``resume`` but no checkpoint in ``output``.
        FileExistsError: Without ``resume`` when ``output`` already holds a run.
        TrainingDiverged: If the loss or a gradient becomes non-finite.
    """
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from lightning.pytorch.utilities import rank_zero_only

    from ..data.scan import class_pixels
    from ..models import get_model
    from .callbacks import EMAWeights, ExportBestWeights
    from .checkpoint_io import AtomicCheckpointIO
    from .data import SegmentationDataModule, loss_class_weights
    from .guards import FiniteGuard, TrainingDiverged, missing_classes
    from .module import SegmentationModule
    from .report import EpochReport, quiet_lightning

    config.validate()
    output = Path(config.output)
    resume_from = None
    if config.resume:
        resume_from = last_checkpoint(output)
        if resume_from is None:
            raise FileNotFoundError(f"--resume: no checkpoint to resume in {output / CHECKPOINT_DIR}")
    elif last_checkpoint(output) is not None:
        raise FileExistsError(
            f"--output {output} already holds a run; pass --resume to continue it or choose another directory"
        )

    L.seed_everything(config.seed, workers=True, verbose=False)
    data = SegmentationDataModule(config)
    if len(data.train_set) < config.batch_size:  # full batches only: an epoch would have no step
        raise ValueError(
            f"--batch-size {config.batch_size} is more than the {len(data.train_set)} images of "
            f"{data.train_set.name}; no training step could run: lower --batch-size"
        )
    options = dict(config.model_options)
    if config.init_weights:
        model = get_model(config.arch, weights=config.init_weights, **options)
        if model.num_classes != data.num_classes:
            raise ValueError(f"--init-weights has {model.num_classes} classes, the dataset {data.num_classes}")
    else:
        model = get_model(
            config.arch, num_classes=data.num_classes, weights_backbone=config.weights_backbone, **options
        )
    data.mean, data.std = model.meta.mean, model.meta.std  # the encoder's pretrained normalisation
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if not config.resume:  # named once, before the first step of a run
        absent = missing_classes(class_pixels(data.train_set), data.train_set.class_names)
        if absent and getattr(rank_zero_only, "rank", 0) == 0:  # DDP runs this in every process
            print(
                f"warning: {len(absent)} class(es) never appear in the training masks of {data.train_set.name}: "
                f"{', '.join(absent)}; the model cannot learn them (refineseg check-data shows what the masks hold)",
                file=sys.stderr,
            )
    class_weights = None
    if config.class_weights != "none":
        data.setup("fit")
        assert data.train_images is not None
        class_weights = loss_class_weights(config.class_weights, data.train_images, data.num_classes)
    module = SegmentationModule(model, config, class_weights=class_weights)

    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    averaging = EMAWeights(config.ema_decay) if config.ema_decay is not None else None
    export = ExportBestWeights(
        output / BEST_WEIGHTS,
        class_names=list(data.train_set.class_names),
        palette=list(data.train_set.palette),
        recipe=config.to_dict(),
        averaging=averaging,
    )
    # last.ckpt is rewritten at every epoch end, so --resume continues from the newest state
    # (Lightning's save_last only follows top-k saves); the best model is best.safetensors.
    checkpoints = ModelCheckpoint(
        dirpath=output / CHECKPOINT_DIR,
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_epochs=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    try:
        with quiet_lightning():  # the Trainer's constructor prints banners too
            trainer = L.Trainer(
                accelerator=config.accelerator,
                devices=config.devices,
                num_nodes=config.num_nodes,
                strategy=config.strategy,
                precision=_precision(config, config.accelerator),
                max_epochs=config.epochs,
                accumulate_grad_batches=config.accumulate_grad_batches,
                gradient_clip_val=config.gradient_clip_val,
                check_val_every_n_epoch=config.val_every,
                limit_train_batches=config.limit_train_batches,
                limit_val_batches=config.limit_val_batches,
                num_sanity_val_steps=0,
                use_distributed_sampler=False,  # SeededSampler shards and seeds the data itself
                deterministic=True,
                log_every_n_steps=10,
                callbacks=[
                    checkpoints,
                    export,
                    *([averaging] if averaging is not None else []),
                    LearningRateMonitor("epoch"),
                    FiniteGuard(lr=config.lr),
                    EpochReport(progress=config.progress),
                ],
                plugins=[AtomicCheckpointIO()],
                # TensorBoard appends to one directory; CSV starts a new version per (resumed) launch
                # rather than overwriting the earlier metrics
                logger=[
                    TensorBoardLogger(output / "logs", name="tensorboard", version=""),
                    CSVLogger(output / "logs", name="csv"),
                ],
                enable_progress_bar=False,  # EpochReport: a step bar that clears, then one line per epoch
                enable_model_summary=False,
                default_root_dir=output,
            )
            trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    except TrainingDiverged as exc:
        last = last_checkpoint(output)
        kept = f"; the last good checkpoint is {last}" if last is not None else "; no checkpoint was written"
        raise TrainingDiverged(f"{exc}{kept}") from None
    return output / BEST_WEIGHTS
