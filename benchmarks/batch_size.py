"""Images per second of one model at several batch sizes, for each backend: does batching pay on this CPU?

    python benchmarks/batch_size.py
    python benchmarks/batch_size.py --backends pytorch openvino --batch-sizes 1 2 4 8

``Segmenter.predict_batch`` (normalise, model, labels) on copies of ``docs/images/street.jpg``
(480x360), each batch size of each backend timed once per round, rounds interleaved, median of
``--repeats``; each row's ratio is to the first batch size (1) of the same backend. This is the measurement behind
``refineseg serve`` running one request at a time rather than batching concurrent ones
(docs/BENCHMARKS.md section 8).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _timing import machine

from refineseg.inference import Segmenter
from refineseg.inference.images import load_image
from refineseg.inference.precision import cpu_features

STREET = Path(__file__).resolve().parents[1] / "docs" / "images" / "street.jpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="camvid")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--backends", nargs="+", default=["pytorch", "openvino"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--images", type=int, default=8, help="images per timed run (a multiple of each batch size)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if any(b < 1 or args.images % b for b in args.batch_sizes):
        parser.error(f"--images {args.images} must be a multiple of every --batch-sizes value, all at least 1")

    print(f"machine: {machine()}")
    print(f"cpu: {cpu_features().describe()}")
    image = load_image(STREET)
    images = [image] * args.images
    segmenters = {
        b: Segmenter.from_pretrained(args.weights, backend=b, precision=args.precision) for b in args.backends
    }
    runs = {
        (b, n): (lambda s=seg, n=n: s.predict_batch(images, batch_size=n))
        for b, seg in segmenters.items()
        for n in args.batch_sizes
    }
    for run in runs.values():  # warm-up: allocations, kernel choice, a compiled shape per batch size
        run()
    times: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    print(
        f"\n{args.images} images of {image.shape[1]}x{image.shape[0]} per run, median of {args.repeats} interleaved rounds"
    )
    print(f"| backend | batch size | images/s | vs batch {args.batch_sizes[0]} |\n|---|---|---|---|")
    for (backend, n), t in times.items():
        rate = args.images / statistics.median(t)
        base = args.images / statistics.median(times[(backend, args.batch_sizes[0])])
        seg = segmenters[backend]
        print(f"| {seg.backend} {seg.precision} | {n} | {rate:.2f} | {rate / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
