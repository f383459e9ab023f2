"""``refineseg models``: the architectures and the published checkpoints."""

from __future__ import annotations

import argparse

HELP = "list the model architectures, the shipped weights and the published checkpoints"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    p = sub.add_parser("models", help=HELP, description=HELP)
    p.add_argument("--params", action="store_true", help="also count parameters (at 21 classes)")
    p.add_argument(
        "--hardware",
        action="store_true",
        help="only print this CPU, its matrix instruction sets, and what --precision auto picks here",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the architectures and the weights (or, with ``--hardware``, this CPU's features).

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0.
    """
    import torch

    from ..models import get_model, list_models
    from ..weights.catalogue import PublishedWeights, list_weights
    from ..weights.encoders import list_encoder_weights

    if args.hardware:
        from ..inference.auto_backend import auto_candidates, choices_file, measured_choices
        from ..inference.precision import cpu_features, resolve_precision

        print(f"cpu: {cpu_features().describe()}")
        print(f"--precision auto runs {resolve_precision('auto')} here")
        print(f"--backend auto compares {', '.join(auto_candidates('fp32'))} (fp32) here; measured so far:")
        here = [c for key, c in measured_choices().items() if key.startswith(cpu_features().name + "|")]
        for c in here:
            times = ", ".join(f"{b} {t:.0f} ms" for b, t in c.get("ms", {}).items())
            print(f"  {c.get('model')} in {c.get('precision')}: {c.get('backend')} ({times})")
        if not here:
            print(f"  nothing yet (kept in {choices_file()})")
        return 0
    print("architectures:")
    for name in list_models():
        if args.params and "timm" not in name:
            with torch.device("meta"):
                count = sum(p.numel() for p in get_model(name).parameters())
            print(f"  {name:40} {count:>13,d}")
        else:
            print(f"  {name}")
    print("ImageNet encoder weights (weights_backbone='imagenet'):")
    for e in list_encoder_weights():
        print(f"  {e.encoder:26} {e.status:52} {e.source}")
    print("shipped weights (weights=NAME, inside the package, no network needed):")
    for s in list_weights("shipped"):
        state = "installed" if s.installed else "missing"
        print(f"  {s.name:34} {s.dataset:32} {s.num_classes:3d} classes  {s.arch}  {state}")
    print("published checkpoints (weights=NAME):")
    for w in list_weights("published"):
        assert isinstance(w, PublishedWeights)
        state = "downloaded" if w.installed else "available" if w.available else "unavailable"
        print(f"  {w.name:34} {w.dataset:20} {w.num_classes:3d} classes  {state}")
    return 0
