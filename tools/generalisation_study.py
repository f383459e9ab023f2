"""Which training changes help on CamVid images from a sequence never trained on.

    python tools/generalisation_study.py --root ../shared/datasets/camvid --output runs/generalisation --epochs 12

CamVid's val split cannot answer this: its 101 images are frames of 0016E5, a sequence whose
other frames are in train, and the Lite0 model (shipped until b5ce831) scored 67.6% mIoU there
but 60.1% on the held-out test sequences (0001TP's later frames and Seq05VD, not on these
machines). So every variant here trains on ``train+val`` without the 101 frames of sequence
0006R0 (367 images, as many as train) and is evaluated on those 101 frames (``train:0006R0``): a
whole sequence the model never saw, at full resolution (360x480), single scale, after the last
epoch (no epoch is picked on it). Each variant changes the previous shipped recipe
(configs/camvid_refinenet_efficientnet_lite0.yaml) cumulatively, in the order listed, up to the
batch-norm decoder row (the recipe of the shipped model's first stage); the rows after it each
add one change to that row alone. One seed and ``--epochs`` epochs; the training time is this
machine's wall clock. Finished variants are read back rather than trained again (``--only`` runs
some). The table is printed and written to OUTPUT/generalisation.md and .json."""

from __future__ import annotations

from typing import Any

from _study import RARE, study_main, train_minutes

HELD_OUT = "0006R0"
SPLITS = {"train_split": f"train+val:-{HELD_OUT}", "val_split": f"train:{HELD_OUT}"}
CEL = {"loss": "ce+lovasz"}  # +4 val points at 4 epochs in tools/loss_comparison.py
JITTER = {"color_jitter": 0.3}
EMA = {"ema_decay": 0.995}  # a horizon of ~200 steps, 4-5 epochs of 46 steps

# name: recipe changes against the shipped recipe; each row keeps the one before it and adds one thing
LITE2 = {**SPLITS, **CEL, **JITTER, **EMA, "arch": "refinenet_efficientnet_lite2"}
# batch norm in the decoder's blocks took it from 50.80% to 59.40% val mIoU at lr 0.02 in 8 epochs
# (tools/decoder_comparison.py, docs/DECODERS.md): the normalised decoders want the higher rate
BN_LR = {"model_options": {"batch_norm": True}, "lr": 0.02}
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped recipe": {**SPLITS},
    "+ ce+lovasz": {**SPLITS, **CEL},
    "+ colour jitter 0.3": {**SPLITS, **CEL, **JITTER},
    "+ EMA 0.995": {**SPLITS, **CEL, **JITTER, **EMA},
    "+ Lite2 encoder": LITE2,
    "+ batch-norm decoder, lr 0.02": {**LITE2, **BN_LR},
}
# the rows below each add one thing to the batch-norm row (the shipped first stage's recipe), not to each other
BRANCHES: dict[str, dict[str, Any]] = {
    "+ crops 360x480": {"crop_size": (360, 480)},
    # thin classes are a few pixels wide at 1/4 resolution: more channels where they are fused
    "+ decoder width 96": {"model_options": {"batch_norm": True, "width": 96, "top_width": 96}},
    # cross entropy on the hard pixels only, which are mostly the thin classes' and the boundaries'
    "+ OHEM instead of ce": {"loss": "ohem+lovasz"},
    # the same recipe with another seed (other crops, batch order and decoder init): how far
    # two rows must differ before the difference is more than the seed's
    "the batch-norm row, seed 43": {"seed": 43},
    # the crop row's +0.9 is twice the seed's spread: the same change under the other seed
    "+ crops 360x480, seed 43": {"crop_size": (360, 480), "seed": 43},
    # the thin classes are the rare ones: full median-frequency weights square the boost the
    # recipe's square-root weights give them
    "+ median-frequency class weights": {"class_weights": "median_frequency"},
    # a fifth RefineNet block on the encoder's 1/2 feature (32 channels), so the head predicts
    # at 1/2 instead of 1/4: a pole 4 pixels wide is 1 pixel wide at 1/4 (1.6x the FLOPs)
    "+ a 1/2-resolution level": {"model_options": {"batch_norm": True, "finest_reduction": 2}},
    # cross entropy weighted 5x within 2 px of another class: outlines and thin objects
    "+ boundary-weighted ce instead of ce": {"loss": "boundary+lovasz"},
}
VARIANTS.update({name: {**LITE2, **BN_LR, **change} for name, change in BRANCHES.items()})


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    lines = [
        f"| variant ({epochs} epochs, held-out sequence {HELD_OUT}) | mIoU % | pixel acc % | rare IoU % "
        "| frequent IoU % | " + " | ".join(RARE) + " | train min |",
        "|---|---|---|---|---|" + "---|" * len(RARE) + "---|",
    ]
    for r in rows:
        rare = " | ".join(f"{100 * r['per_class_iou'][c]:.1f}" for c in RARE)
        lines.append(
            f"| {r['variant']} | {100 * r['miou']:.2f} | {100 * r['pixel_accuracy']:.2f} | {100 * r['rare_miou']:.2f} "
            f"| {100 * r['frequent_miou']:.2f} | {rare} | {train_minutes(r, epochs)} |"
        )
    if rows:
        lines.append(f"\nCPU: {rows[0]['cpu']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(study_main(__doc__, VARIANTS, table, "generalisation", epochs=12))
