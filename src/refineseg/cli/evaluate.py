"""``refineseg evaluate``: metrics of a weights file on a dataset split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._distributed import add_distributed, distributed_options
from ._options import add_backend, add_precision, calibration_images

HELP = "evaluate a model on a dataset split (mIoU, per-class IoU, accuracies, fwIoU)"

DESCRIPTION = """\
Evaluate a model at full resolution and write the metrics as JSON (keys miou,
per_class_iou, pixel_accuracy, mean_accuracy, fwiou, num_images; IoUs are fractions 0..1),
a table on the terminal and, optionally, a confusion-matrix PNG. --scales with several values
averages softmax over image scales (the RefineNet protocol: 0.4 0.6 0.8 1.0 1.2), --flip adds
mirrored images, --crop-size switches to sliding windows for images larger than the crop.
Without --weights the shipped CamVid model is evaluated.

examples:
  refineseg evaluate --dataset camvid --root DATA --split val --output m.json
  refineseg evaluate --weights runs/camvid/best.safetensors --dataset camvid --root DATA --split val --output m.json
  refineseg evaluate --weights camvid_int8.onnx --dataset camvid --root DATA --split val --output m_int8.json
  refineseg evaluate --dataset camvid --root DATA --split val --output m_bf16.json --precision bf16
  refineseg evaluate --dataset camvid --root DATA --split val --output m_int8.json --precision int8
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``refineseg evaluate`` to the command line.

    Args:
        sub: The ``refineseg`` parser's sub-parsers.
    """
    from ..constants import DATASET_NAMES

    p = sub.add_parser(
        "evaluate", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--weights",
        default="camvid",
        help="a refineseg .safetensors weights file, shipped weights name (default camvid), hf://ORG/NAME[@REVISION], "
        "or a file from `refineseg export`: .onnx (run by ONNX Runtime) or .pt2 (torch.export)",
    )
    p.add_argument("--dataset", required=True, choices=DATASET_NAMES)
    p.add_argument("--root", required=True, help="the dataset's directory")
    p.add_argument("--split", default="val", help="split to evaluate (default val)")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="image scales whose softmax is averaged")
    p.add_argument("--flip", action="store_true", help="also average horizontally flipped predictions")
    p.add_argument("--crop-size", type=int, help="sliding-window size for larger images")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--output", "-o", type=Path, required=True, help="JSON file for the metrics")
    p.add_argument("--confusion", type=Path, help="also write the confusion matrix as a PNG here")
    p.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="run the model as built instead of optimize_for_inference (same predictions, slower)",
    )
    add_precision(p, default="fp32", calibration_default="default: the dataset's training split")
    add_backend(p)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    add_distributed(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate the weights on the dataset split, print the table and write the metrics JSON.

    With distributed options, every process evaluates its share and rank 0 alone prints and writes.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0.

    Raises:
        ValueError: A bad option value (``--output`` not ``.json``, a non-positive scale, ...).
        FileNotFoundError: The weights or the dataset are missing.
        ImportError: A needed extra (``[plot]`` for ``--confusion``, ``[train]`` for several devices) is missing.
    """
    from ..data import get_dataset
    from ..evaluation import evaluate, format_table, save_confusion_png, write_json
    from ..inference.backends import open_model

    if args.output.suffix.lower() != ".json":
        raise ValueError(f"--output {args.output}: expected a .json file name")
    if any(s <= 0 for s in args.scales):
        raise ValueError(f"--scales must be positive, got {args.scales}")
    if args.confusion:
        from .._plot import require_matplotlib

        require_matplotlib("--confusion")  # before the evaluation, not after it
    distributed = distributed_options(args)
    calibration = calibration_images(
        args, wanted=args.precision == "int8", flag="--precision int8", fallback=lambda: _training_images(args)
    )
    options = {
        "scales": args.scales,
        "flip": args.flip,
        "crop_size": args.crop_size,
        "progress": args.progress,
        "optimize": args.optimize,
        "precision": args.precision,
        "calibration": calibration,
        "backend": args.backend,
    }
    if distributed is None:
        dataset = get_dataset(args.dataset, args.root, args.split)
        result = evaluate(open_model(args.weights, backend=args.backend), dataset, device=args.device, **options)
    else:
        from ..distributed import EvaluationJob, evaluate_distributed

        job = EvaluationJob(str(args.weights), args.dataset, str(args.root), args.split, options)
        result = evaluate_distributed(job, distributed)
        if result is None:  # this process's share is counted; rank 0 reports and writes
            return 0
    print(format_table(result))
    empty = result.empty_classes
    if empty:  # an mIoU over fewer classes than declared must not pass for a result
        print(
            f"warning: {len(empty)} class(es) have no ground-truth pixels in {args.dataset} {args.split}: "
            f"{', '.join(empty)}; "
            "their IoU is n/a and the mIoU averages the other classes (refineseg check-data shows what the masks hold)",
            file=sys.stderr,
        )
    write_json(result, args.output, weights=str(args.weights), dataset=args.dataset, split=args.split)
    print(f"wrote {args.output}")
    if args.confusion:
        save_confusion_png(result, args.confusion)
        print(f"wrote {args.confusion}")
    return 0


def _training_images(args: argparse.Namespace) -> list[Path]:
    """The model's own calibration set: the training split of the dataset it is evaluated on."""
    from ..data import get_dataset

    if args.split == "train":
        raise ValueError(
            f"--precision int8 would calibrate on --split {args.split}, the split being evaluated; "
            "give --calibration IMAGES from another split"
        )
    try:
        train = get_dataset(args.dataset, args.root, "train")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"--precision int8 calibrates on the training split, which is not usable ({exc}); give --calibration IMAGES"
        ) from None
    return [image for image, _ in train.pairs]
