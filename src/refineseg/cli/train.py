"""``refineseg train``: fit a model from a YAML recipe, with flags that override it."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from typing import Any

HELP = "train a model (Lightning: CPU, GPU, several GPUs or nodes; checkpoints, resume, logs)"

DESCRIPTION = """\
Train RefineNet on a dataset. Settings come from the defaults, then the --config recipe
(YAML, see configs/), then the flags given here. Under --output the run writes
checkpoints/ (last.ckpt and the best epoch, written atomically), best.safetensors (the best
model by validation mIoU, with class names and palette), logs/ (TensorBoard and CSV) and
config.json. One run at a time per --output (a second is refused).

--resume continues the run in --output from its last checkpoint (the end of its last whole
epoch) with the settings in its config.json; flags given with it may change only how long and
where it runs (--epochs, --val-every, hardware, workers), and config.json records each change.
Anything else that differs (model, data, loss, optimiser, batch size, seed) is refused: start a
new --output. SIGTERM or Ctrl-C stop after the current step with status 143 or 130 and print
the command that resumes.

examples:
  refineseg train --config configs/camvid_refinenet_efficientnet_lite0.yaml --root ../shared/datasets/camvid --output runs/camvid
  refineseg train --dataset camvid --root DATA --arch lw_refinenet_resnet18 --epochs 2 --batch-size 4 --crop-size 256 --output runs/try
  refineseg train --config configs/voc_lw_refinenet_resnet50.yaml --root VOC --accelerator gpu --devices 4 --output runs/voc
  refineseg train --output runs/camvid --resume
  refineseg train --output runs/camvid --resume --epochs 80   # train longer than first planned
"""


def _crop_size(value: str) -> int | tuple[int, int]:
    parts = value.replace("x", ",").split(",")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size or HEIGHT,WIDTH, got {value!r}") from None
    if len(sizes) == 1:
        return sizes[0]
    if len(sizes) == 2:
        return sizes[0], sizes[1]
    raise argparse.ArgumentTypeError(f"expected a size or HEIGHT,WIDTH, got {value!r}")


def _int_or_float(value: str) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() and "." not in value else number


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    from ..constants import DATASET_NAMES, LOSS_DESCRIPTIONS

    p = sub.add_parser(
        "train", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config", metavar="RECIPE", help="YAML recipe (flags below override it)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASET_NAMES, help="dataset layout")
    g.add_argument("--root", help="the dataset's directory")
    g.add_argument(
        "--train-split",
        metavar="SPLIT",
        help="split to train on (default train); several as train+val, or a subset by file-name prefix: "
        "train:0006R0 keeps those images, train+val:-0006R0 all others (CamVid names start with the sequence)",
    )
    g.add_argument("--val-split", metavar="SPLIT", help="split to validate on (default val; the same forms)")
    g.add_argument(
        "--crop-size",
        type=_crop_size,
        metavar="SIZE|H,W",
        help="training crop in pixels: a square side or HEIGHT,WIDTH",
    )
    g.add_argument(
        "--color-jitter",
        type=float,
        metavar="S",
        help="random brightness, contrast and saturation factors in [1-S, 1+S] (default 0: none)",
    )
    g.add_argument("--num-workers", type=int, help="data loading processes (default 0: in the training process)")
    g.add_argument(
        "--no-cache",
        dest="cache_images",
        action="store_false",
        default=None,
        help="decode images on every access instead of once",
    )
    m = p.add_argument_group("model")
    m.add_argument("--arch", metavar="NAME", help="architecture (`refineseg models` lists them)")
    m.add_argument("--weights-backbone", help="encoder weights: imagenet, a torchvision weights name, or a file")
    m.add_argument("--init-weights", help="start from a refineseg weights file")
    m.add_argument(
        "--freeze-encoder-bn", action="store_true", default=None, help="keep the encoder's batch-norm statistics fixed"
    )
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int)
    o.add_argument("--batch-size", type=int, help="images per device and step")
    o.add_argument("--optimizer", choices=["sgd", "adamw"], help="SGD with momentum (default) or AdamW")
    o.add_argument("--lr", type=float, help="decoder learning rate (the encoder's is --encoder-lr-ratio times it)")
    o.add_argument("--encoder-lr-ratio", type=float)
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--schedule", choices=["poly", "step", "constant"])
    o.add_argument(
        "--class-weights",
        choices=["none", "median_frequency", "sqrt_median_frequency"],
        help="loss weights per class: none, median-frequency balancing, or its square root (milder)",
    )
    o.add_argument(
        "--loss",
        metavar="SPEC",
        help="training loss: a name or a weighted sum, e.g. ce, dice, ce+dice, ce+0.5*lovasz (default ce). "
        + "; ".join(f"{name}: {text}" for name, text in LOSS_DESCRIPTIONS.items()),
    )
    o.add_argument("--accumulate-grad-batches", type=int)
    o.add_argument("--gradient-clip-val", type=float, help="clip the gradient norm to this value")
    o.add_argument(
        "--ema-decay",
        type=float,
        metavar="D",
        help="validate and save an exponential moving average of the weights (decay D per step, e.g. 0.995)",
    )
    o.add_argument("--seed", type=int)
    h = p.add_argument_group("hardware and run")
    h.add_argument("--accelerator", choices=["cpu", "gpu", "auto"])
    h.add_argument("--devices", help="number of devices per node (or 'auto')")
    h.add_argument("--num-nodes", type=int)
    h.add_argument("--strategy", help="Lightning strategy, e.g. ddp (default auto)")
    h.add_argument(
        "--precision",
        help="32-true, 16-mixed, bf16-mixed or auto (default auto: mixed on a GPU; on a CPU bf16-mixed where it "
        "has native bf16, AVX512-BF16 or AMX, else 32-true)",
    )
    h.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None)
    h.add_argument("--val-every", type=int, help="validate every N epochs")
    h.add_argument("--limit-train-batches", type=_int_or_float, help="batches (or fraction) per epoch, for quick tries")
    h.add_argument("--limit-val-batches", type=_int_or_float)
    h.add_argument("--output", help="run directory (default outputs/run)")
    h.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue the run in --output from its last checkpoint, with its settings",
    )
    h.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    p.set_defaults(run=run)


def build_config(args: argparse.Namespace) -> Any:
    """The training configuration: the defaults, then the ``--config`` recipe, then the flags given.

    Args:
        args: The parsed command line; options left at ``None`` keep the recipe's value.

    Returns:
        A :class:`~refineseg.training.TrainConfig`.

    Raises:
        ValueError: If ``--arch`` names no architecture, the recipe is not a valid one, or a
            setting is out of range.
        FileNotFoundError: If the ``--config`` recipe does not exist.
        ImportError: If the ``[train]`` extra is not installed.
    """
    from ..training import TrainConfig, load_recipe

    settings: dict[str, Any] = load_recipe(args.config) if args.config else {}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    flags = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    if flags.get("resume"):
        # a resumed run starts from the settings it was started with: `--output DIR --resume` is enough
        from ..training.safety import stored_config

        output = flags.get("output") or settings.get("output") or TrainConfig.output
        stored = stored_config(output)
        if stored is None:
            raise FileNotFoundError(
                f"--resume: {output} holds no run to resume (no config.json); start it without --resume"
            )
        settings = {**stored, **settings}
        for key in ("scale_range", "step_epochs", "crop_size"):  # JSON lists back to the tuples of a recipe
            if isinstance(settings.get(key), list):
                settings[key] = tuple(settings[key])
    settings.update(flags)
    from ..models import list_models

    # checked here rather than by argparse choices, which would import every model for --help
    if "arch" in settings and settings["arch"] not in list_models():
        raise ValueError(f"--arch {settings['arch']}: no such architecture; `refineseg models` lists them")
    if isinstance(settings.get("devices"), str) and settings["devices"].isdigit():
        settings["devices"] = int(settings["devices"])
    return TrainConfig(**settings)


def _stop_before_training(signum: int, frame: object) -> None:
    print(f"refineseg train: interrupted by {signal.Signals(signum).name} before training began", file=sys.stderr)
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say and print where the best weights are.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0, or 128 + the signal's number (143, 130) when SIGTERM or Ctrl-C
        stopped the run.

    Raises:
        ImportError: If the ``[train]`` extra is not installed.
    """
    # until training installs its own handlers (stop after the current step), a signal ends the
    # start-up with one line and the status a shell gives a killed job, never silently
    main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = (
        {s: signal.signal(s, _stop_before_training) for s in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    )
    try:
        return _train(args)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _train(args: argparse.Namespace) -> int:
    from ..training import train, training_time  # first: without [train], its ImportError says what to install

    # isort: split
    from lightning.pytorch.utilities import rank_zero_only

    from ..training.safety import RunInterrupted

    config = build_config(args)
    try:
        best = train(config)
    except RunInterrupted as exc:  # SIGTERM or Ctrl-C: one line, and the status a shell gives a killed job
        print(f"refineseg train: {exc}", file=sys.stderr)
        return exc.exit_status
    if getattr(rank_zero_only, "rank", 0) == 0:  # DDP runs this in every process
        print(f"best weights: {best}" if best.is_file() else "training finished; no validation ran, so no best weights")
        timed = training_time(config.output)
        if timed is not None and timed.timed_epochs:  # the whole run's time, its earlier launches included
            part = "" if timed.timed_epochs == timed.epochs else f" (the {timed.timed_epochs} timed of {timed.epochs})"
            print(f"trained {timed.epochs} epoch(s) in {timed.seconds / 3600:.2f} h{part}")
    return 0
