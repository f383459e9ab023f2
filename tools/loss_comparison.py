"""Which training loss helps on CamVid's imbalanced classes: the shipped recipe, one loss changed.

    python tools/loss_comparison.py --root ../shared/datasets/camvid --output runs/loss_comparison --epochs 4

Every variant trains the shipped architecture from the same ImageNet weights with the
shipped recipe (``configs/camvid_refinenet_efficientnet_lite0.yaml``), the same seed (same
crops and batch order) and the same number of epochs; only ``loss`` (and, for the
unweighted row, ``class_weights``) changes. Each is then evaluated on CamVid val at full
resolution (360x480), single scale. The table gives mIoU, pixel accuracy, the mean IoU of
the five rare classes (Pole, SignSymbol, Fence, Pedestrian, Bicyclist: under 2% of the
pixels each) and of the six frequent ones, and the training time on this machine.
Finished variants are read back rather than trained again (``--only`` runs some). The
table is printed and written to OUTPUT/loss_comparison.md and .json.
"""

from __future__ import annotations

from typing import Any

from _study import study_main, train_minutes

# name: recipe changes against the shipped recipe (which is CE with sqrt median-frequency weights)
VARIANTS: dict[str, dict[str, Any]] = {
    "ce, sqrt-mf weights (shipped)": {},
    "ce, unweighted": {"class_weights": "none"},
    "focal (gamma 2), sqrt-mf weights": {"loss": "focal"},
    "dice": {"loss": "dice", "class_weights": "none"},
    "lovasz": {"loss": "lovasz", "class_weights": "none"},
    "ce + dice": {"loss": "ce+dice"},
    "ce + lovasz": {"loss": "ce+lovasz"},
    "ohem + lovasz": {"loss": "ohem+lovasz"},
    "boundary + lovasz": {"loss": "boundary+lovasz"},
}


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    lines = [
        f"| loss ({epochs} epochs each) | val mIoU % | pixel acc % | rare classes IoU % | frequent classes IoU % "
        "| train min |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {100 * r['miou']:.2f} | {100 * r['pixel_accuracy']:.2f} | {100 * r['rare_miou']:.2f} "
            f"| {100 * r['frequent_miou']:.2f} | {train_minutes(r, epochs)} |"
        )
    classes = list(rows[0]["per_class_iou"]) if rows else []
    lines += ["", f"| per-class IoU % | {' | '.join(classes)} |", "|---|" + "---|" * len(classes)]
    for r in rows:
        cells = " | ".join(f"{100 * r['per_class_iou'][c]:.1f}" for c in classes)
        lines.append(f"| {r['variant']} | {cells} |")
    return "\n".join(lines)


def main() -> int:
    return study_main(__doc__, VARIANTS, table, "loss_comparison", epochs=4)


if __name__ == "__main__":
    raise SystemExit(main())
