"""``refineseg push-to-hub``: publish a weights file on the Hugging Face Hub with a model card."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "publish a weights file on the Hugging Face Hub with a generated model card (needs refineseg[hub])"

DESCRIPTION = """\
Create the model repository ORG/NAME on the Hugging Face Hub (if it does not exist) and commit,
in one commit:
  model.safetensors   the weights file, byte for byte
  README.md           a model card written from the file's metadata: architecture, parameter count,
                      classes and colours, input normalisation, provenance, how to use it, and the
                      metrics of --metrics (refineseg evaluate --output metrics.json) with their
                      model-index for the Hub
Then anyone can run it with --weights hf://ORG/NAME (or hf://ORG/NAME@REVISION), refineseg.load_model
or Segmenter.from_pretrained("hf://ORG/NAME"). The upload uses the Hub's login (hf auth login) or
HF_TOKEN unless --token is given. --dry-run prints the card and the files instead (or, with
--output, writes them into a folder) and needs no network.

examples:
  refineseg push-to-hub runs/camvid/best.safetensors my-org/refinenet-camvid --metrics metrics.json
  refineseg push-to-hub best.safetensors my-org/my-model --license mit --private
  refineseg push-to-hub best.safetensors my-org/my-model --dry-run
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``push-to-hub`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    p = sub.add_parser(
        "push-to-hub", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("weights", metavar="WEIGHTS", help="a refineseg .safetensors file (or shipped weights name)")
    p.add_argument("repo_id", metavar="ORG/NAME", help="the model repository on the Hub")
    p.add_argument(
        "--metrics", type=Path, metavar="JSON", help="the metrics file of refineseg evaluate --output, for the card"
    )
    p.add_argument(
        "--license", default="apache-2.0", help="the weights' licence, a Hub identifier (default apache-2.0)"
    )
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--token", help="a Hub token with write access (default: hf auth login or HF_TOKEN)")
    p.add_argument("--endpoint", metavar="URL", help="the Hub's URL (default: HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--message", "-m", help="the commit message (default: Upload refineseg ARCH weights)")
    p.add_argument("--dry-run", action="store_true", help="print the model card and the files; upload nothing")
    p.add_argument(
        "--output", "-o", type=Path, metavar="FOLDER", help="with --dry-run: write README.md and model.safetensors here"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Publish the weights, or with ``--dry-run`` show what would be published.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.
    """
    from ..weights.publish import prepare_upload, push_to_hub

    if args.output is not None and not args.dry_run:
        raise ValueError("--output applies with --dry-run only")
    if args.dry_run:
        upload = prepare_upload(args.weights, args.repo_id, evaluation=args.metrics, license=args.license)
        if args.output is not None:
            for path in upload.write(args.output):
                print(f"wrote {path}")
            return 0
        print(f"would commit to {upload.repo_id} ({'private' if args.private else 'public'} if created):")
        width = max(len(name) for name, _ in upload.files)
        for name, size in upload.files:
            print(f"  {name:<{width}}  {size:>14,} bytes")
        print(f"--- {upload.files[1][0]} ---")
        print(upload.card, end="")
        return 0
    url = push_to_hub(
        args.weights,
        args.repo_id,
        evaluation=args.metrics,
        license=args.license,
        private=args.private,
        token=args.token,
        endpoint=args.endpoint,
        commit_message=args.message,
    )
    name = args.repo_id.removeprefix("hf://")
    print(f"pushed {args.weights} to {url}")
    print(f"use it with --weights hf://{name} or refineseg.load_model('hf://{name}')")
    return 0
