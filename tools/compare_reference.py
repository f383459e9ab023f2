"""Check converted models against the reference implementations, run side by side.

    python tools/compare_reference.py --refinenet-pytorch DIR --light-weight-refinenet DIR --acrv-refinenet DIR

Each DIR is a checkout of DrSleep/refinenet-pytorch, DrSleep/light-weight-refinenet or
best-of-acrv/refinenet (the pip package ``refinenet``), none of them part of this
repository; only the model files are imported. For each published architecture the reference model gets random
weights and random batch-norm statistics, is saved in a wrapped form its training scripts
use, converted with ``refineseg.weights.convert``, and both models run on the same random
images. The reference output is upsampled bilinearly (align_corners=False) to the input
size, as refineseg's ``model(x)`` is. Prints the largest absolute difference relative to
the largest output magnitude; exits non-zero if any exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

# reference module, builder, repository flag
ARCHS = {
    "rf101": ("models.resnet", "rf101", "refinenet_pytorch"),
    "rf_lw50": ("models.resnet", "rf_lw50", "light_weight_refinenet"),
    "rf_lw101": ("models.resnet", "rf_lw101", "light_weight_refinenet"),
    "rf_lw152": ("models.resnet", "rf_lw152", "light_weight_refinenet"),
    "mbv2": ("models.mobilenet", "mbv2", "light_weight_refinenet"),
    "refinenet50": ("refinenet.models.refinenet", "refinenet50", "acrv_refinenet"),
    "refinenet152": ("refinenet.models.refinenet", "refinenet152", "acrv_refinenet"),
}
WRAPPERS = ("segmenter", "model", "bare")


def randomize_(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            elif isinstance(module, torch.nn.Conv2d):
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * (2.0 / module.weight[0].numel()) ** 0.5
                )
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)


def _import_acrv_models_only(repo: str) -> None:
    """The pip package's __init__ pulls in its datasets and trainer; register its packages as
    bare namespaces so only the model files run, with stubs for their download helpers."""
    import types

    for name, path in (("refinenet", "refinenet"), ("refinenet.models", "refinenet/models")):
        package = types.ModuleType(name)
        package.__path__ = [str(Path(repo) / path)]
        sys.modules[name] = package
    for name in ("six", "six.moves", "pkg_resources"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["six"].moves = sys.modules["six.moves"]  # type: ignore[attr-defined]
    sys.modules["six.moves"].urllib = None  # type: ignore[attr-defined]


def reference_worker(
    repo: str, arch: str, num_classes: int, sizes: list[tuple[int, int]], wrapper: str, out: str
) -> None:
    """Runs in a subprocess whose import path starts at the reference checkout."""
    import importlib

    sys.path.insert(0, repo)
    module, builder, flavour = ARCHS[arch]
    if flavour == "acrv_refinenet":
        _import_acrv_models_only(repo)
        model = getattr(importlib.import_module(module), builder)(num_classes, pretrained=None)
    else:
        model = getattr(importlib.import_module(module), builder)(num_classes, imagenet=False, pretrained=False)
    randomize_(model, seed=0)
    model.eval()
    state = model.state_dict()
    if wrapper != "bare":
        state = {wrapper: {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(state, Path(out) / "checkpoint.pth")
    gen = torch.Generator().manual_seed(1)
    results = {"params": sum(p.numel() for p in model.parameters())}
    with torch.no_grad():
        for h, w in sizes:
            x = torch.randn(1, 3, h, w, generator=gen)
            y = F.interpolate(model(x), size=(h, w), mode="bilinear", align_corners=False)
            results[f"{h}x{w}"] = (x, y)
    torch.save(results, Path(out) / "outputs.pth")


def compare(
    arch: str, repo: Path, num_classes: int, sizes: list[tuple[int, int]], wrapper: str
) -> list[tuple[str, float, int]]:
    from refineseg.weights.convert import convert_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        spec = ",".join(f"{h}x{w}" for h, w in sizes)
        cmd = [sys.executable, __file__, "--_worker", str(repo), arch, str(num_classes), spec, wrapper, tmp]
        subprocess.run(cmd, check=True)
        model = convert_checkpoint(
            Path(tmp) / "checkpoint.pth", arch=arch, num_classes=num_classes, output=Path(tmp) / "model.safetensors"
        )
        results = torch.load(Path(tmp) / "outputs.pth", weights_only=True)
    params = sum(p.numel() for p in model.parameters())
    if params != results["params"]:
        raise SystemExit(f"{arch}: refineseg has {params} parameters, the reference {results['params']}")
    rows = []
    with torch.no_grad():
        for h, w in sizes:
            x, expected = results[f"{h}x{w}"]
            got = model(x)
            rel = ((got - expected).abs().max() / expected.abs().max()).item()
            rows.append((f"{h}x{w}", rel, params))
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_worker":
        repo, arch, classes, spec, wrapper, out = sys.argv[2:]
        sizes = [tuple(int(v) for v in s.split("x")) for s in spec.split(",")]
        reference_worker(repo, arch, int(classes), sizes, wrapper, out)  # type: ignore[arg-type]
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refinenet-pytorch", type=Path, help="checkout of DrSleep/refinenet-pytorch")
    parser.add_argument("--light-weight-refinenet", type=Path, help="checkout of DrSleep/light-weight-refinenet")
    parser.add_argument(
        "--acrv-refinenet", type=Path, help="checkout of best-of-acrv/refinenet (pip package refinenet)"
    )
    parser.add_argument("--sizes", nargs="+", default=["375x500", "97x131"], help="HxW input sizes")
    parser.add_argument("--num-classes", type=int, default=21)
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max |diff| / max |reference output|")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    repos = {
        "refinenet_pytorch": args.refinenet_pytorch,
        "light_weight_refinenet": args.light_weight_refinenet,
        "acrv_refinenet": args.acrv_refinenet,
    }
    worst = 0.0
    print(f"{'arch':10} {'wrapper':10} {'size':9} {'params':>12} {'max|diff|/max|ref|':>20}")
    for i, arch in enumerate(args.archs):
        repo = repos[ARCHS[arch][2]]
        if repo is None:
            print(f"{arch:10} skipped: no checkout given")
            continue
        wrapper = WRAPPERS[i % len(WRAPPERS)]
        for size, rel, params in compare(arch, repo, args.num_classes, sizes, wrapper):  # type: ignore[arg-type]
            worst = max(worst, rel)
            print(f"{arch:10} {wrapper:10} {size:9} {params:12,d} {rel:20.2e}")
    print(f"worst relative difference: {worst:.2e} (tolerance {args.tolerance:.0e})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
