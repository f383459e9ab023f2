"""How much do a model's loss class weights cost it? Shift its logits back and measure.

    python tools/class_weight_shift.py --weights runs/camvid_lw_mbv2/best.safetensors \
        --root ../shared/datasets/camvid --split train --every 6

A model trained with cross-entropy weights ``w_c`` learns, at best, probabilities proportional
to ``w_c p(c | x)``: it over-predicts the classes weighted up. Subtracting ``lam * log(w_c)`` from
its logits undoes that (``lam = 1``) or part of it. The script computes the training recipe's
median-frequency weights from the training split, runs the model once per image of ``--split``
(every ``--every``-th image, full resolution), and prints mIoU, pixel accuracy and per-class IoU
for each ``lam``. Measure on train images, not on the split you report.
"""

from __future__ import annotations

import argparse
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    from refineseg.data import eval_transforms, get_dataset
    from refineseg.evaluation.metrics import metrics_from_confusion
    from refineseg.training.data import DecodedImages, median_frequency_weights
    from refineseg.weights import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--dataset", default="camvid")
    parser.add_argument("--root", required=True)
    parser.add_argument("--split", default="train", help="images to measure on (default train)")
    parser.add_argument("--weights-split", default="train", help="split the class weights come from")
    parser.add_argument("--every", type=int, default=6, help="use every N-th image (default 6)")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args(argv)

    model = load_model(args.weights)
    weights_data = get_dataset(args.dataset, args.root, args.weights_split)
    class_weights = median_frequency_weights(DecodedImages(weights_data), model.num_classes)
    shift = class_weights.clamp_min(1e-12).log().view(-1, 1, 1)
    dataset = get_dataset(args.dataset, args.root, args.split)
    transform = eval_transforms(mean=model.meta.mean, std=model.meta.std)
    n = model.num_classes
    confusion = {lam: torch.zeros(n, n, dtype=torch.long) for lam in args.lambdas}
    indices = range(0, len(dataset), args.every)
    with torch.inference_mode():
        for i in indices:
            image, mask = transform(*dataset[i])
            logits = model(image[None])[0]
            target = mask.flatten()
            valid = target != dataset.ignore_index
            for lam, matrix in confusion.items():
                predicted = (logits - lam * shift).argmax(0).flatten()
                matrix += torch.bincount(target[valid] * n + predicted[valid], minlength=n * n).view(n, n)
    print(f"{len(indices)} {args.split} images; class weights {[round(w, 3) for w in class_weights.tolist()]}")
    print("| lambda | mIoU (%) | pixel acc (%) | " + " | ".join(dataset.class_names) + " |")
    print("|---" * (3 + n) + "|")
    for lam, matrix in confusion.items():
        m = metrics_from_confusion(matrix)
        ious = " | ".join(f"{100 * v:.1f}" for v in m.per_class_iou)
        print(f"| {lam:g} | {100 * m.miou:.2f} | {100 * m.pixel_accuracy:.2f} | {ious} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
