"""``refineseg predict`` on a folder against the model alone: does reading and writing keep it busy?

    python benchmarks/predict_folder.py --root CAMVID --images 40

Takes the first ``--images`` CamVid val images and, in one run with one segmenter (the shipped
model, ``--precision`` as ``predict`` takes it, built before any timing):
  model alone   the prepared model's forward on the images already decoded and normalised,
                in batches of ``--batch-size`` as ``predict`` makes them, then the labels as
                ``predict`` takes them from the logits (``labels_from_probabilities``: what
                ``predict`` cannot do faster)
  predict       ``predict_paths`` on the folder: decode, segment, write the label PNG and the
                overlay JPEG (``predict``'s defaults), as the command does after start-up
Each is run ``--repeats`` times, alternating, and the best images/s of each is kept (the host is
shared); the ratio predict / model alone is the figure (issue 24 asks for at least 0.85).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from _timing import machine

from refineseg.data import get_dataset
from refineseg.inference import Segmenter
from refineseg.inference.images import read_image_file
from refineseg.inference.predict import predict_paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="CamVid directory (val/ images are segmented)")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--weights", default="camvid")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--backend", default="auto", choices=["auto", "pytorch", "onnxruntime", "openvino"])
    parser.add_argument("--batch-size", type=int, default=4, help="predict's --batch-size (default 4, as the command)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()

    print(f"machine: {machine()}", flush=True)
    val = get_dataset("camvid", args.root, "val")
    paths = [image for image, _ in val.pairs[: args.images]]
    segmenter = Segmenter.from_pretrained(args.weights, precision=args.precision, backend=args.backend)
    arrays = [read_image_file(p) for p in paths]
    # decoded, normalised and batched beforehand (CamVid's images are all one size)
    inputs = [segmenter._normalised(arrays[i : i + args.batch_size]) for i in range(0, len(arrays), args.batch_size)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for p in paths:
            shutil.copy(p, folder / p.name)

        def model_alone() -> float:
            start = time.perf_counter()
            with torch.inference_mode():
                for x in inputs:
                    segmenter.labels_from_probabilities(segmenter.model(x))
            return len(arrays) / (time.perf_counter() - start)

        def predict(round_: int) -> float:
            out = Path(tmp) / f"out{round_}"
            start = time.perf_counter()
            report = predict_paths(segmenter, [folder], out, batch_size=args.batch_size, progress=False)
            seconds = time.perf_counter() - start
            assert report.images == len(paths) and not report.errors, report.errors
            return len(paths) / seconds

        model_alone()  # warm-up: first-call allocations and oneDNN's kernel choice
        alone, folder_rate = [], []
        for round_ in range(args.repeats):
            alone.append(model_alone())
            folder_rate.append(predict(round_))
    best_alone, best_folder = max(alone), max(folder_rate)
    print(
        f"{len(paths)} CamVid val images, {segmenter.backend} {segmenter.precision} (--backend {args.backend}), "
        f"batch size {args.batch_size}, best of {args.repeats}:"
    )
    print(f"  model alone  {best_alone:6.2f} images/s  ({1000 / best_alone:.1f} ms per image)")
    print(f"  predict      {best_folder:6.2f} images/s  ({1000 / best_folder:.1f} ms per image, with its outputs)")
    print(f"  ratio        {best_folder / best_alone:.2f}x the model alone")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "images": len(paths),
                    "precision": segmenter.precision,
                    "backend": segmenter.backend,
                    "model_alone_images_per_s": alone,
                    "predict_images_per_s": folder_rate,
                    "ratio": best_folder / best_alone,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
