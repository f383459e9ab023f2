"""Training configuration: a YAML recipe, overridden by command-line flags."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["MIN_CROP", "TrainConfig", "load_recipe"]

MIN_CROP = 32  # RefineNet's deepest features are at 1/32 of the input


@dataclass
class TrainConfig:
    """Everything a run needs; field names are the YAML keys and, with dashes, the CLI flags.

    Attributes:
        dataset: A registered dataset name.
        root: The dataset's folder (required).
        arch: A registered model builder.
        model_options: Keyword options for the builder.
        weights_backbone: The encoder's initial weights (``"imagenet"``, a name or a file).
        init_weights: Start from a refineseg weights file (fine-tuning).
        train_split: The split trained on.
        val_split: The split validated on.
        epochs: Training epochs.
        batch_size: Images per step and process.
        crop_size: Training crop: a square side, or ``(height, width)``.
        scale_range: Bounds of the random scale augmentation.
        color_jitter: Strength of the random brightness, contrast and saturation change of
            training images (0.3: each factor drawn from [0.7, 1.3]); 0 leaves colours as they
            are. Other camera sequences differ in exposure and colour more than one sequence's
            frames do, which is what a model meets on images it never saw.
        optimizer: ``"sgd"`` or ``"adamw"``.
        lr: Learning rate of the decoder and head.
        encoder_lr_ratio: The encoder's rate as a fraction of ``lr`` (the published recipes
            train the encoder 10x slower).
        momentum: SGD momentum.
        weight_decay: Weight decay.
        schedule: ``"poly"`` (per step), ``"step"`` (at ``step_epochs``) or ``"constant"``.
        poly_power: The poly schedule's power.
        step_epochs: Epochs at which the step schedule multiplies the rate by ``step_gamma``.
        step_gamma: The step schedule's factor.
        class_weights: Cross-entropy class weights: ``median_frequency`` balances classes fully
            (rare classes weigh up to ~40x more on CamVid); ``sqrt_median_frequency`` is its
            square root, milder, keeping the large classes' accuracy.
        loss: A loss name or a weighted sum: ce, dice, focal, lovasz, ohem, e.g. ``"ce+0.5*dice"``
            (see :mod:`refineseg.training.losses`).
        freeze_encoder_bn: Keep the encoder's batch norm statistics and parameters fixed.
        accelerator: Lightning's accelerator (``"auto"``, ``"cpu"``, ``"gpu"``...).
        devices: Lightning's devices per node.
        num_nodes: Lightning's number of nodes.
        strategy: Lightning's strategy (``"auto"``, ``"ddp"``...).
        precision: ``None`` or ``"auto"``: 16/bf16-mixed on GPU; on CPU bf16-mixed where it has
            native bf16, else 32-true; or any Lightning precision.
        accumulate_grad_batches: Batches whose gradients are summed per optimiser step.
        gradient_clip_val: Clip the gradient norm (stabilises training from scratch).
        ema_decay: Keep an exponential moving average of the weights with this decay per step
            (Lightning's ``EMAWeightAveraging``); validation, checkpoints and the best weights
            use the average. ``None``: no average.
        channels_last: Run the model in channels-last memory format.
        cache_images: Decode the images once and keep them in memory.
        num_workers: Data loader worker processes.
        val_every: Validate every this many epochs.
        limit_train_batches: Lightning's limit on training batches per epoch (count or fraction).
        limit_val_batches: Lightning's limit on validation batches (count or fraction).
        seed: Seeds the data order, augmentation and initialisation.
        output: The run's folder (checkpoints, logs, ``best.safetensors``).
        resume: Continue the run in ``output`` from its last checkpoint.
        progress: Show progress bars.
    """

    dataset: str = "camvid"
    root: str = ""
    arch: str = "lw_refinenet_mobilenet_v2"
    model_options: dict[str, Any] = field(default_factory=dict)
    weights_backbone: str | None = None
    init_weights: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    epochs: int = 100
    batch_size: int = 6
    crop_size: int | tuple[int, int] = 500
    scale_range: tuple[float, float] = (0.5, 2.0)
    color_jitter: float = 0.0
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 5e-3
    encoder_lr_ratio: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-5
    schedule: Literal["poly", "step", "constant"] = "poly"
    poly_power: float = 0.9
    step_epochs: tuple[int, ...] = ()
    step_gamma: float = 0.1
    class_weights: Literal["none", "median_frequency", "sqrt_median_frequency"] = "none"
    loss: str = "ce"
    freeze_encoder_bn: bool = False
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    ema_decay: float | None = None
    channels_last: bool = True
    cache_images: bool = True
    num_workers: int = 0
    val_every: int = 1
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    seed: int = 42
    output: str = "outputs/run"
    resume: bool = False
    progress: bool = True

    def validate(self) -> None:
        """Check the settings before anything is built.

        Raises:
            ValueError: Naming the flag, for a missing root, a non-positive count, crop size
                or rate, an unknown optimiser, a malformed loss or a bad scale range.
        """
        if not self.root:
            raise ValueError("--root is required: the dataset's directory")
        for name in ("epochs", "batch_size", "accumulate_grad_batches", "val_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        crop = (self.crop_size,) if isinstance(self.crop_size, int) else tuple(self.crop_size)
        if len(crop) not in (1, 2) or any(not isinstance(c, int) or c < 1 for c in crop):
            raise ValueError(f"--crop-size must be a positive size or HEIGHT,WIDTH, got {self.crop_size}")
        if min(crop) < MIN_CROP:
            raise ValueError(
                f"--crop-size {self.crop_size}: below {MIN_CROP} pixels the encoder's 1/32 features are "
                "less than one pixel; give at least 32 (the published recipes crop 500 or 512)"
            )
        if self.limit_train_batches is not None and self.limit_train_batches <= 0:
            raise ValueError(f"--limit-train-batches {self.limit_train_batches} would train nothing; give > 0")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"--optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        from .losses import parse_loss_spec

        try:
            parse_loss_spec(self.loss)
        except ValueError as exc:
            raise ValueError(f"--loss: {exc}") from None
        if not 0 <= self.color_jitter < 1:
            raise ValueError(f"--color-jitter must be in [0, 1), got {self.color_jitter}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"--ema-decay must be between 0 and 1, got {self.ema_decay}")
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON/YAML-ready data (tuples as lists).

        Returns:
            One key per field.
        """
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def load_recipe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML recipe; unknown keys are an error naming the file and the key.

    Args:
        path: The YAML file.

    Returns:
        The settings, ready for ``TrainConfig(**settings)`` (lists of sizes as tuples).

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If the file is not YAML, not a mapping, or has unknown keys.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such recipe file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe is a mapping of settings, found {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    if isinstance(data.get("crop_size"), list):
        data["crop_size"] = tuple(data["crop_size"])
    for key in ("scale_range", "step_epochs"):
        if key in data:
            data[key] = tuple(data[key])
    return data
