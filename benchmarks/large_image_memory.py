"""Peak memory and time for one large image: whole-image inference against sliding windows.

    python benchmarks/large_image_memory.py
    python benchmarks/large_image_memory.py --model lw_refinenet_mobilenet_v2 --size 2048 4096 --tiles 1024 512

Segments one random ``--size`` image (H W; 1024x2048, a Cityscapes frame, by default) with
``Segmenter`` as ``refineseg predict`` does (optimised model, softmax, arg-max), once over
the whole image and once per ``--tiles`` window size (overlapping windows, stride 2/3 of the
window). Every case runs in a fresh subprocess. Peak memory is the process's peak resident
set size (VmHWM) during the prediction alone: the peak is reset (``/proc/self/clear_refs``)
after the model is built, so it counts the activations and outputs, not the weights. Linux
only. The baseline is the whole-image run; ratios are its peak and time over each case's.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(model_name: str, height: int, width: int, tile: int, optimize: bool) -> dict[str, float]:
    """Subprocess: build the model, reset the peak RSS, segment one image, report."""
    import numpy as np
    import torch

    import refineseg

    torch.manual_seed(0)
    model = refineseg.get_model(model_name, num_classes=19)
    whole = tile == 0
    segmenter = refineseg.Segmenter(
        model,
        optimize=optimize,
        whole_image_pixels=height * width if whole else 0,
        tile_size=max(tile, 32),
        max_pixels=None,
    )
    image = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    segmenter(image[:64, :64])  # first-call set-up (thread pools, kernels) outside the measurement
    rss_before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    labels = segmenter(image)
    seconds = time.perf_counter() - start
    assert labels.shape == (height, width)
    return {
        "seconds": seconds,
        "peak_mib": _status_kib("VmHWM") / 1024,
        "before_mib": rss_before / 1024,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_worker":
        model_name, h, w, tile, optimize = sys.argv[2:]
        print(json.dumps(worker(model_name, int(h), int(w), int(tile), optimize == "1")))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="refinenet_resnet101", help="model name (default refinenet_resnet101)")
    parser.add_argument("--size", type=int, nargs=2, default=[1024, 2048], metavar=("H", "W"))
    parser.add_argument("--tiles", type=int, nargs="+", default=[1024, 512], help="window sizes (default 1024 512)")
    parser.add_argument("--no-optimize", dest="optimize", action="store_false", help="run the model as built")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    if platform.system() != "Linux":
        parser.error("peak memory is read from /proc: Linux only")
    height, width = args.size
    cases = [("whole image", 0)] + [(f"{t}x{t} windows", t) for t in args.tiles]
    results = []
    for label, tile in cases:
        cmd = [sys.executable, __file__, "--_worker", args.model, str(height), str(width), str(tile)]
        out = subprocess.run([*cmd, "1" if args.optimize else "0"], check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append({"case": label, "tile": tile, **result})
        print(f"  {label} done", file=sys.stderr)
    base = results[0]
    print(f"{args.model}, {height}x{width} image, {'optimized' if args.optimize else 'as built'}, fp32 CPU")
    print(
        f"{'case':18} {'time s':>8} {'peak RSS MiB':>13} {'above model MiB':>16} {'peak vs whole':>14} {'time vs whole':>14}"
    )
    for r in results:
        above = r["peak_mib"] - r["before_mib"]
        base_above = base["peak_mib"] - base["before_mib"]
        print(
            f"{r['case']:18} {r['seconds']:8.2f} {r['peak_mib']:13.0f} {above:16.0f} "
            f"{above / base_above:13.2f}x {r['seconds'] / base['seconds']:13.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "size": args.size, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
