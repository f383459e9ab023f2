"""Write ``reference_logits_mbv2.pt``: the REFERENCE implementation's logits for the converter test.

    git --git-dir=/path/to/light-weight-refinenet.git archive HEAD | tar -x -C /tmp/lwr   # or any checkout
    python tests/data/make_reference_logits.py /tmp/lwr

The argument is a checkout of DrSleep/light-weight-refinenet (recorded from commit
538fe8b39327d8343763b859daf7b9d03a05396e, "Added new weights for MobileNet-v2 on VOC",
2020-07-14). Only its model files are imported, from that path; no reference code is part of
this repository, and this script does not import refineseg at all, so the stored logits cannot
come from the code under test.

It builds the reference ``mbv2`` model for 21 classes as ``tools/compare_reference.py`` does
(``imagenet=False, pretrained=False``, eval mode), loads ``reference_state_dict("mbv2", seed=0)``
rescaled by ``conditioned_reference_state_dict`` (tests/reference_layouts.py: He-normal convs,
BatchNorm near identity, so the output depends on every layer and on the input) into it
strictly, runs it on ``torch.randn(1, 3, 64, 64)`` drawn from ``torch.Generator().manual_seed(0)``,
and upsamples its 1/4-resolution output bilinearly (``align_corners=False``) to the input size,
as refineseg's ``model(x)`` is. To stay small
(about 30 KB) the file keeps, as float32:

* ``pooled``: those logits average-pooled 4x4, ``1x21x16x16``;
* ``sampled``: a strided sub-sample of the full-resolution logits, ``[..., 1::8, 3::8]``;
* ``max_abs``: the largest absolute logit at full resolution;
* ``input_head``: the first 16 values of the input, so a change in PyTorch's random numbers
  shows up as such rather than as a converter failure;

plus ``reference_commit`` (a string). Regenerate only if the reference layout, the seeded state
dict or this recipe changes; ``tests/test_convert.py`` reads the file.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "reference_logits_mbv2.pt"
REFERENCE_COMMIT = "538fe8b39327d8343763b859daf7b9d03a05396e"
ARCH, NUM_CLASSES, SEED, SIZE = "mbv2", 21, 0, 64
POOL, SAMPLE = 4, (slice(1, None, 8), slice(3, None, 8))


def _load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeded_input() -> torch.Tensor:
    return torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(SEED))


def summarize(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the stored file keeps of full-resolution ``1xCxHxW`` logits (the test applies the same)."""
    return {
        "pooled": F.avg_pool2d(logits, POOL),
        "sampled": logits[(..., *SAMPLE)].contiguous(),
        "max_abs": logits.abs().max(),
    }


def reference_logits(checkout: Path) -> torch.Tensor:
    # the reference builder names, as tools/compare_reference.py calls them
    compare = _load_file("compare_reference", ROOT / "tools" / "compare_reference.py")
    module_name, builder, _ = compare.ARCHS[ARCH]
    layouts = _load_file("reference_layouts", ROOT / "tests" / "reference_layouts.py")

    sys.path.insert(0, str(checkout))  # the reference imports `models.*` and `utils.*` from its root
    model = getattr(importlib.import_module(module_name), builder)(NUM_CLASSES, imagenet=False, pretrained=False)
    model.load_state_dict(layouts.conditioned_reference_state_dict(ARCH, seed=SEED), strict=True)
    model.eval()
    x = seeded_input()
    with torch.no_grad():
        return F.interpolate(model(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=Path, help="checkout of DrSleep/light-weight-refinenet")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not (args.checkout / "models" / "mobilenet.py").is_file():
        parser.error(f"{args.checkout}: not a light-weight-refinenet checkout (no models/mobilenet.py)")
    logits = reference_logits(args.checkout.resolve())
    stored = {k: v.float() for k, v in summarize(logits).items()}
    stored["input_head"] = seeded_input().flatten()[:16].clone()
    torch.save({**stored, "reference_commit": REFERENCE_COMMIT}, args.output)
    print(
        f"wrote {args.output} ({args.output.stat().st_size:,} bytes): logits {tuple(logits.shape)}, "
        f"max |logit| {logits.abs().max().item():.4g}, std {logits.std().item():.4g}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
