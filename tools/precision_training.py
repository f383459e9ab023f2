"""Does bf16-mixed training cost CamVid mIoU? The shipped recipe in fp32 and in bf16-mixed.

    python tools/precision_training.py --root ../shared/datasets/camvid --output runs/precision_training --epochs 4

Both variants train the shipped architecture from the same ImageNet weights with the shipped
recipe (``configs/camvid_refinenet_efficientnet_lite0.yaml``, which trains in ``bf16-mixed``),
the same seed (same crops and batch order) and the same number of epochs; only ``precision``
changes. Each is then evaluated in fp32 on CamVid val at full resolution (360x480), single
scale. The table gives mIoU, the rare- and frequent-class IoU, the training's wall clock on
this machine and its throughput (training images per second of that wall clock, which
includes one validation pass), and bf16's ratio to fp32. Finished variants are read back
rather than trained again (``--only`` runs some); run both in one session for a fair ratio.
The table is printed and written to OUTPUT/precision_training.md and .json.
"""

from __future__ import annotations

from typing import Any

from _study import study_main

VARIANTS: dict[str, dict[str, Any]] = {
    "fp32 (32-true)": {"precision": "32-true"},
    "bf16-mixed (shipped)": {"precision": "bf16-mixed"},
}


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    lines = [
        f"| training precision ({epochs} epochs each) | val mIoU % | rare classes IoU % | frequent classes IoU % "
        "| train min | train img/s | speed vs fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    fp32 = next((r for r in rows if r["changes"].get("precision") == "32-true"), None)
    for r in rows:
        rate = r["train_images"] / r["train_seconds"]
        ratio = f"{fp32['train_seconds'] / r['train_seconds']:.2f}x" if fp32 else "n/a"
        lines.append(
            f"| {r['variant']} | {100 * r['miou']:.2f} | {100 * r['rare_miou']:.2f} | {100 * r['frequent_miou']:.2f} "
            f"| {r['train_seconds'] / 60:.1f} | {rate:.2f} | {ratio} |"
        )
    if rows:
        lines += ["", f"CPU: {rows[0]['cpu']}"]
    return "\n".join(lines)


def main() -> int:
    return study_main(__doc__, VARIANTS, table, "precision_training", epochs=4)


if __name__ == "__main__":
    raise SystemExit(main())
