"""``refineseg export``: a weights file to ONNX, torch.export or TorchScript, checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import add_calibration, calibration_images

HELP = "export a model to ONNX, torch.export (.pt2) or TorchScript (dynamic batch/height/width), checked"

DESCRIPTION = """\
Export a model for deployment without refineseg's model code:
  .onnx                      ONNX (torch.onnx dynamo exporter), run with ONNX Runtime or any ONNX runtime;
                             needs the onnx extra: pip install 'refineseg[onnx]'
  .pt2                       torch.export program (--format torch_export), run with torch.export.load, or by
                             refineseg predict/evaluate --weights FILE.pt2; PyTorch's successor to TorchScript
  .pt, .ts, .torchscript     TorchScript (traced and frozen), run with torch.jit.load; deprecated, as
                             PyTorch deprecates torch.jit in favour of torch.export: prefer .pt2
The input is 'image', float32 N x 3 x H x W, normalised with the model's mean and std; the output
is 'logits', N x C x H x W at the input's size. Batch, height and width are all dynamic (a .pt2
program refuses sides below 17 pixels, 33 for MobileNet-v2). The class names, palette, mean and std
travel inside the file (ONNX metadata 'refineseg', .pt2 and TorchScript extra file 'refineseg.json');
refineseg.inference.runtime.load_exported reads them back. Like TorchScript and unlike ONNX, loading
a .pt2 file can run code it holds (torch.export.load unpickles): load only files you trust.

Before the file is put in place it is run on random inputs at --size (batch 1) and at a second,
odd size (batch 2) and compared with PyTorch: the largest difference must be within --tolerance
of the largest logit and the predicted class must agree on 99.99% of pixels. A file that fails
is not written.

Without --weights the CamVid model that ships with refineseg is exported.

examples:
  refineseg export --output out/camvid.onnx
  refineseg export --output out/camvid.pt2 --size 360 480
  refineseg export --weights runs/mine/best.safetensors --output mine.pt2 --size 768 1024
  refineseg export --weights lw50_voc.safetensors --output lw50.onnx --size 360 480 --tolerance 1e-4
  refineseg export --output camvid_int8.onnx --int8 --calibration DATA/camvid/train --size 360 480
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    from ..constants import CALIBRATION_METHODS

    p = sub.add_parser(
        "export", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--weights",
        default="camvid",
        help="a .safetensors weights file, shipped weights name (default camvid) or hf://ORG/NAME[@REVISION]",
    )
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        metavar="FILE",
        help="the file to write (.onnx, .pt2, or TorchScript's .pt, .ts, .torchscript)",
    )
    p.add_argument(
        "--format",
        choices=("onnx", "torch_export", "torchscript"),
        help="onnx, torch_export (.pt2) or torchscript (deprecated) (default: from the --output suffix)",
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(512, 512),
        metavar=("H", "W"),
        help="example input size to trace and check with (default 512 512)",
    )
    p.add_argument("--opset", type=int, metavar="N", help="ONNX opset version (default: the exporter's)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        metavar="T",
        help="largest allowed difference from PyTorch, relative to the largest logit (default 1e-3)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="quantize to int8 with ONNX Runtime (ONNX only; needs --calibration): about 3x smaller, faster on "
        "CPUs with VNNI, slightly different outputs (see docs/BENCHMARKS.md)",
    )
    add_calibration(p, default="training images", flag="--int8")
    p.add_argument(
        "--calibration-method",
        choices=CALIBRATION_METHODS,
        default="percentile",
        help="how activation ranges follow from calibration (default percentile)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the model ``args`` names, check it against PyTorch, and print the check's summary.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: If the options contradict each other (``--format`` and the ``--output``
            suffix, ``--opset`` or ``--int8`` without ONNX, ...), a size or tolerance is out of
            range, ``--output`` is the weights file, or the exported model fails the check.
        ImportError: If the export format's extra (``refineseg[onnx]``) is not installed.
    """
    import sys
    import warnings

    from ..inference.export import export_onnx, export_torch_export, export_torchscript
    from ..inference.export_format import EXPORT_SUFFIXES, TORCHSCRIPT_DEPRECATION, export_format_for
    from ..models.registry import get_model
    from ..weights.sources import read_weights

    output: Path = args.output
    fmt = args.format or export_format_for(output)
    implied = EXPORT_SUFFIXES.get(output.suffix.lower())
    if implied is not None and implied != fmt:
        raise ValueError(f"--output {output}: a {implied} file name, but --format {fmt}")
    if args.opset is not None and fmt != "onnx":
        raise ValueError("--opset applies to ONNX export only")
    if any(d < 1 for d in args.size):
        raise ValueError(f"--size must be two positive integers, got {' '.join(map(str, args.size))}")
    if not args.tolerance > 0:
        raise ValueError(f"--tolerance must be positive, got {args.tolerance}")
    if args.int8 and fmt != "onnx":
        raise ValueError("--int8 applies to ONNX export only")
    calibration = calibration_images(args, wanted=args.int8, flag="--int8")
    weights = read_weights(args.weights)
    if output.resolve() == Path(weights.source).resolve():
        raise ValueError(f"--output {output} is the weights file itself; choose another name")
    model = get_model(weights.arch, weights=weights).eval()
    size = (args.size[0], args.size[1])
    if calibration is not None:
        from ..inference.quantize import quantize_model

        int8 = quantize_model(
            model,
            output,
            calibration,
            example_size=size,
            method=args.calibration_method,
            opset=args.opset,
            tolerance=args.tolerance,
        )
        print(int8.export.summary().replace(str(int8.export.path), "the fp32 model"))
        print(int8.summary())
        return 0
    if fmt == "onnx":
        report = export_onnx(model, output, example_size=size, opset=args.opset, tolerance=args.tolerance)
    elif fmt == "torch_export":
        report = export_torch_export(model, output, example_size=size, tolerance=args.tolerance)
    else:
        print(f"refineseg export: note: {TORCHSCRIPT_DEPRECATION}", file=sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the note above says it once
            report = export_torchscript(model, output, example_size=size, tolerance=args.tolerance)
    print(report.summary())
    return 0
