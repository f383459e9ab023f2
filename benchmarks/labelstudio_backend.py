"""Pre-labelling through a real Label Studio: time per image, and agreement with ``refineseg predict``.

    python benchmarks/labelstudio_backend.py --root CAMVID --images 20

Needs ``pip install -e '.[labelstudio,labelstudio-server]'``. Starts Label Studio headless on a
free loopback port (as tests/test_labelstudio_e2e.py does: SQLite in a temporary folder, nothing
reaching the internet), makes a project from ``refineseg label-studio config``, uploads the
first ``--images`` CamVid val images, starts ``refineseg label-studio-backend`` (``--weights``,
``--precision``) and connects it, and asks Label Studio to retrieve predictions for every task
(its Data Manager action: Label Studio posts the tasks to the backend in one ``/predict``, the
backend fetches each image back from Label Studio). Timed:

  through Label Studio   the action's wall time, per image (Label Studio's side included)
  backend /predict       the backend's own time for the request, per image (from its log)
  model alone            the same segmenter (weights and precision) on the same images,
                         decoded beforehand, per image, measured in this run after the others

and the predictions' brush masks are decoded and compared, pixel for pixel, with
``refineseg predict``'s label PNGs of the same images.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import machine
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the Label Studio harness the slow tests use

from tests.labelstudio_server import (  # noqa: E402
    REFINESEG,
    refineseg_label_config,
    refineseg_ml_backend,
    start_label_studio,
)

from refineseg.data import get_dataset  # noqa: E402
from refineseg.inference import Segmenter  # noqa: E402
from refineseg.inference.images import read_image_file  # noqa: E402
from refineseg.labelstudio import decode_mask  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="CamVid directory (its val/ images are uploaded)")
    parser.add_argument("--image-dir", type=Path, help="or a folder of images to upload instead")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--weights", default="camvid")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    if (args.root is None) == (args.image_dir is None):
        parser.error("give --root CAMVID or --image-dir DIR")

    print(f"machine: {machine()}", flush=True)
    if args.root is not None:
        paths = [image for image, _ in get_dataset("camvid", args.root, "val").pairs[: args.images]]
    else:
        paths = sorted(p for p in args.image_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        paths = paths[: args.images]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        weights = Path(args.weights)
        with start_label_studio(tmp / "label-studio") as server, server.api() as api:
            project = api.create_project("benchmark", refineseg_label_config(weights))["id"]
            api.import_files(project, {p.name: p.read_bytes() for p in paths})
            tasks = api.tasks(project)
            options = ("--precision", args.precision, "--quiet")
            with refineseg_ml_backend(weights, server, tmp / "backend.log", *options) as backend:
                assert api.connect_ml_backend(project, backend.url)["state"] == "CO", backend.log()
                start = time.perf_counter()
                api.retrieve_predictions(project, [t["id"] for t in tasks])
                through_label_studio = time.perf_counter() - start
                found = re.findall(r"predicted (\d+) of (\d+) tasks in ([0-9.]+) s", backend.log())
            predictions = {t["id"]: api.predictions(t["id"]) for t in tasks}
            version = server.version
        assert found and int(found[-1][0]) == len(paths), found
        backend_s = float(found[-1][2])

        # refineseg predict on the same files: the labels the masks must equal
        images = tmp / "images"
        images.mkdir()
        for p in paths:
            (images / p.name).write_bytes(p.read_bytes())
        predicted = tmp / "predicted"
        command = [str(REFINESEG), "predict", str(images), "--weights", str(weights), "--output", str(predicted)]
        subprocess.run([*command, "--precision", args.precision, "--no-progress"], check=True, capture_output=True)
        segmenter = Segmenter.from_pretrained(args.weights, precision=args.precision)
        agree = total = 0
        for task in tasks:
            name = task["file_upload"].split("-", 1)[1]
            labels = np.asarray(Image.open(predicted / (Path(name).stem + ".png")))
            painted = np.full(labels.shape, -1)
            for region in predictions[task["id"]][0]["result"]:
                mask = decode_mask(region["value"]["rle"], region["original_width"], region["original_height"])
                painted[mask] = segmenter.class_names.index(region["value"]["brushlabels"][0])
            agree += int((painted == labels).sum())
            total += labels.size

        arrays = [read_image_file(p) for p in paths]
        segmenter.batch_labels(arrays[:1])  # warm-up
        start = time.perf_counter()
        for array in arrays:
            segmenter.batch_labels_and_probabilities([array])
        model_alone = time.perf_counter() - start

    n = len(paths)
    report = {
        "machine": machine(),
        "label_studio": version,
        "images": n,
        "size": list(arrays[0].shape[:2]),
        "precision": segmenter.precision,
        "ms_per_image": {
            "through_label_studio": 1000 * through_label_studio / n,
            "backend_predict": 1000 * backend_s / n,
            "model_alone": 1000 * model_alone / n,
        },
        "backend_over_model_alone": backend_s / model_alone,
        "pixels": total,
        "pixels_equal_to_predict": agree,
    }
    ms = report["ms_per_image"]
    print(f"Label Studio {version}, {n} images of {report['size'][1]}x{report['size'][0]}, {segmenter.precision}")
    print(f"  through Label Studio  {ms['through_label_studio']:8.1f} ms per image")
    print(f"  backend /predict      {ms['backend_predict']:8.1f} ms per image")
    print(f"  model alone           {ms['model_alone']:8.1f} ms per image (labels and probabilities)")
    print(f"  backend / model alone {report['backend_over_model_alone']:8.2f}x")
    print(f"  pixels equal to refineseg predict: {agree:,} of {total:,} ({100 * agree / total:.4f}%)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
