"""``train(config)``: build the model, data and Lightning Trainer for a recipe and fit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch

from .._io import atomic_write
from .config import TrainConfig
from .safety import OutputLock, RunInterrupted, compare_resumed, remove_partial_writes, stop_on_signals, stored_config

__all__ = ["TrainingTime", "last_checkpoint", "train", "training_time"]

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


class TrainingTime(NamedTuple):
    """How long a run has trained, summed over its launches (``--resume`` included).

    Attributes:
        seconds: Wall-clock seconds of the timed epochs, validation included.
        timed_epochs: Epochs the time covers.
        epochs: Epochs the run has done; more than ``timed_epochs`` where a checkpoint predates
            the timing.
    """

    seconds: float
    timed_epochs: int
    epochs: int


def training_time(output: str | os.PathLike[str]) -> TrainingTime | None:
    """How long the run in ``output`` has trained so far, from its last checkpoint.

    Args:
        output: A run's folder.

    Returns:
        The time, or ``None`` if the run has no checkpoint yet.
    """
    last = last_checkpoint(output)
    if last is None:
        return None
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    report = checkpoint.get("callbacks", {}).get("EpochReport", {})
    return TrainingTime(
        float(report.get("train_seconds", 0.0)), int(report.get("timed_epochs", 0)), int(checkpoint["epoch"]) + 1
    )


def _precision(config: TrainConfig, accelerator: str) -> Any:
    """``auto`` (or unset): 16/bf16-mixed on a GPU; on a CPU bf16-mixed where it has native bf16
    (the shipped recipe trains 1.26x faster with it and lost no val mIoU at an equal budget,
    docs/BENCHMARKS.md), else 32-true, since emulated bf16 is slower than fp32."""
    if config.precision not in (None, "auto"):
        return config.precision
    if _on_gpu(accelerator):
        return "bf16-mixed" if _native_cuda_bf16() else "16-mixed"
    from ..inference.precision import cpu_features

    return "bf16-mixed" if cpu_features().native_bf16 else "32-true"


def _on_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def _native_cuda_bf16() -> bool:
    """bf16 in the GPU's hardware (compute capability 8.0, Ampere, or later; ROCm). Not
    ``torch.cuda.is_bf16_supported()``, which also says yes where bf16 is only emulated (Volta,
    Turing), several times slower than the fp16 their tensor cores run."""
    if not torch.cuda.is_available():
        return False
    return torch.version.hip is not None or torch.cuda.get_device_capability()[0] >= 8


def _deterministic(accelerator: str) -> bool | Literal["warn"]:
    """Lightning's ``deterministic``: ``True`` on a CPU, where a resumed run continues exactly as the
    uninterrupted one would have; ``"warn"`` on a GPU, where deterministic kernels are still chosen
    where they exist, because CUDA has none for cross entropy (``nll_loss2d``) or for the backward
    of bilinear upsampling, and ``True`` makes the first training step raise there."""
    return "warn" if _on_gpu(accelerator) else True


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
        ValueError: With ``resume``, for settings that the resumed run may not change (see
            :data:`~refineseg.training.safety.RESUMABLE`) or ``epochs`` already done.
        FileExistsError: Without ``resume`` when ``output`` already holds a run.
        TrainingDiverged: If the loss or a gradient becomes non-finite.
        RunInterrupted: On SIGTERM or Ctrl-C, after the current step; the last checkpoint
            (written at the end of the last whole epoch) is kept for ``--resume``.
        OutputInUse: If another run holds ``output`` (an ``OSError``).
        OSError: If a checkpoint or weights file cannot be written (a full disk says so).
    """
    config.validate()
    output = Path(config.output)
    # DDP relaunches this command for every other rank: the first process owns the folder
    owner = os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"
    with OutputLock(output) if owner else contextlib.nullcontext():
        if owner:
            remove_partial_writes(output)
        resume_from, changes = _check_resume(config, output)
        with stop_on_signals() as received:
            return _fit(config, output, resume_from, changes, received)


def _check_resume(config: TrainConfig, output: Path) -> tuple[Path | None, dict[str, list[Any]]]:
    """The checkpoint to resume and the settings it changes, checked before anything is written."""
    if not config.resume:
        if last_checkpoint(output) is not None:
            raise FileExistsError(
                f"--output {output} already holds a run; pass --resume to continue it or choose another directory"
            )
        return None, {}
    resume_from = last_checkpoint(output)
    if resume_from is None:
        raise FileNotFoundError(f"--resume: no checkpoint to resume in {output / CHECKPOINT_DIR}")
    stored = stored_config(output)
    if stored is None:
        return resume_from, {}
    epochs_done = int(torch.load(resume_from, map_location="cpu", weights_only=True)["epoch"]) + 1
    return resume_from, compare_resumed(stored, config.to_dict(), epochs_done=epochs_done)


def _fit(
    config: TrainConfig,
    output: Path,
    resume_from: Path | None,
    changes: dict[str, list[Any]],
    received: dict[str, int],
) -> Path:
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from lightning.pytorch.utilities import rank_zero_only
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from ..data.scan import class_pixels
    from ..models import get_model
    from .callbacks import EMAWeights, ExportBestWeights
    from .checkpoint_io import AtomicCheckpointIO
    from .data import SegmentationDataModule, loss_class_weights
    from .guards import FiniteGuard, TrainingDiverged, missing_classes
    from .module import SegmentationModule
    from .report import EpochReport, quiet_lightning

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
    if received:  # a signal came while the data and model were being prepared
        raise _interrupted(received["signal"], output, None)
    _write_config(config, output, resume_from, changes)
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
            # deterministic="warn" (a GPU) warns of each kernel without a deterministic version: known, see above
            warnings.filterwarnings("ignore", message=r".*does not have a deterministic implementation")
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
                deterministic=_deterministic(config.accelerator),
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
    except SIGTERMException:  # Lightning's stop after the step in which SIGTERM (or our Ctrl-C) came
        raise _interrupted(received.get("signal", signal.SIGTERM), output, trainer) from None
    except TrainingDiverged as exc:
        last = last_checkpoint(output)
        kept = f"; the last good checkpoint is {last}" if last is not None else "; no checkpoint was written"
        raise TrainingDiverged(f"{exc}{kept}") from None
    return output / BEST_WEIGHTS


def _write_config(config: TrainConfig, output: Path, resume_from: Path | None, changes: dict[str, list[Any]]) -> None:
    """``config.json``: the settings, and for a resumed run the record of what each resume changed."""
    settings = config.to_dict()
    if resume_from is not None:
        earlier = json.loads((output / "config.json").read_text()) if (output / "config.json").is_file() else {}
        epoch = int(torch.load(resume_from, map_location="cpu", weights_only=True)["epoch"]) + 1
        settings["resumed"] = [*earlier.get("resumed", []), {"from_epoch": epoch + 1, "changes": changes}]
    atomic_write(output / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=2)))


def _interrupted(signum: int, output: Path, trainer: Any) -> RunInterrupted:
    name = signal.Signals(signum).name
    where = f" at epoch {trainer.current_epoch + 1} step {trainer.global_step}" if trainer is not None else ""
    last = last_checkpoint(output)
    if last is not None:
        epochs = int(torch.load(last, map_location="cpu", weights_only=True)["epoch"]) + 1
        kept = f"{last} holds {epochs} whole epoch(s); resume with: refineseg train --output {output} --resume"
    else:
        kept = "no epoch was completed, so no checkpoint was written"
    return RunInterrupted(f"interrupted by {name}{where}; {kept}", 128 + signum)
