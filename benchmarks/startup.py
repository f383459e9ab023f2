"""Start-up cost of refineseg: imports, ``--help`` and one prediction, against ``import torch``.

    python benchmarks/startup.py                               # this checkout
    python benchmarks/startup.py --before /tmp/before/src      # and an older checkout, same run

Every case runs in a fresh Python process (``sys.executable``, with ``PYTHONPATH`` set to the
source tree measured), ``--repeats`` times, and the median wall time is reported with its ratio
to ``python -c "import torch"`` measured in the same run, together with the process's peak
resident memory and which heavy packages it imported (torch, torchvision, lightning,
torchmetrics, tensorboard, onnxruntime) and whether it imported refineseg's dataset or
evaluation modules. The cases:
  import torch          the floor any PyTorch program pays
  import refineseg      the package, nothing used
  refineseg --help      and every ``refineseg COMMAND --help`` (the slowest is reported apart)
  predict one image     ``refineseg predict docs/images/street.jpg --precision fp32`` (480x360)
The issue's targets: ``--help`` at most a quarter of ``import torch``; ``predict`` of one image at
most ``import torch`` + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "lightning", "torchmetrics", "tensorboard", "onnxruntime")
COMMANDS = (
    "predict",
    "serve",
    "models",
    "convert",
    "import-annotations",
    "check-data",
    "export",
    "train",
    "evaluate",
    "summary",
    "visualize",
)

# runs the refineseg command in-process, then writes what it imported to $STARTUP_REPORT
RUN_CLI = f"""
import json, os, sys
sys.argv = ["refineseg", *sys.argv[1:]]
try:
    from refineseg.cli import main
    code = main()
except SystemExit as exc:
    code = exc.code
finally:
    loaded = sorted(m for m in sys.modules if m in {set(HEAVY)!r} or m.startswith(("refineseg.data", "refineseg.evaluation")))
    json.dump(loaded, open(os.environ["STARTUP_REPORT"], "w"))
"""
IMPORT = """
import json, os, sys
import {module}
loaded = sorted(m for m in sys.modules if m in {heavy!r} or m.startswith(("refineseg.data", "refineseg.evaluation")))
json.dump(loaded, open(os.environ["STARTUP_REPORT"], "w"))
"""


def run_case(code: str, args: list[str], src: Path, report: Path) -> tuple[float, float, list[str]]:
    """(wall seconds, peak RSS in MiB, imported heavy modules) of one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src), "STARTUP_REPORT": str(report)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(args) or code.strip().splitlines()[1]} failed with exit status {process.returncode}"
        )
    return seconds, usage.ru_maxrss / 1024, json.loads(report.read_text())


def measure(label: str, code: str, args: list[str], src: Path, repeats: int, tmp: Path) -> dict[str, object]:
    runs = [run_case(code, args, src, tmp / "report.json") for _ in range(repeats)]
    return {
        "case": label,
        "seconds": statistics.median(r[0] for r in runs),
        "rss_mib": statistics.median(r[1] for r in runs),
        "imports": runs[-1][2],
    }


def measure_tree(src: Path, repeats: int, image: Path) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows.append(
            measure("import torch", IMPORT.format(module="torch", heavy=set(HEAVY)), [], src, repeats, tmp_path)
        )
        code = IMPORT.format(module="refineseg", heavy=set(HEAVY))
        rows.append(measure("import refineseg", code, [], src, repeats, tmp_path))
        rows.append(measure("refineseg --help", RUN_CLI, ["--help"], src, repeats, tmp_path))
        helps = [measure(f"refineseg {c} --help", RUN_CLI, [c, "--help"], src, repeats, tmp_path) for c in COMMANDS]
        slowest = max(helps, key=lambda r: r["seconds"])  # type: ignore[arg-type, return-value]
        rows.append({**slowest, "case": f"slowest COMMAND --help ({slowest['case'].split()[1]})"})  # type: ignore[union-attr]
        out = str(tmp_path / "out")
        args = ["predict", str(image), "--output", out, "--no-progress", "--precision", "fp32"]
        rows.append(measure("predict one image", RUN_CLI, args, src, repeats, tmp_path))
    return rows


def print_rows(title: str, rows: list[dict[str, object]]) -> None:
    torch_s = float(rows[0]["seconds"])  # type: ignore[arg-type]
    print(f"\n{title}")
    print(f"  {'case':38} {'median s':>9} {'vs import torch':>16} {'peak RSS MiB':>13}  imports")
    for row in rows:
        seconds = float(row["seconds"])  # type: ignore[arg-type]
        imports = ", ".join(row["imports"]) or "-"  # type: ignore[arg-type]
        if len(imports) > 70:
            imports = imports[:67] + "..."
        print(f"  {row['case']:38} {seconds:9.2f} {seconds / torch_s:15.2f}x {row['rss_mib']:13.0f}  {imports}")
    predict = float(rows[-1]["seconds"])  # type: ignore[arg-type]
    help_s = max(float(r["seconds"]) for r in rows if "help" in str(r["case"]))  # type: ignore[arg-type]
    print(
        f"  targets: --help at most 0.25x import torch (slowest: {help_s / torch_s:.2f}x); "
        f"predict at most import torch + 1 s (measured: import torch + {predict - torch_s:.2f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="source tree to measure (default this one)")
    parser.add_argument("--before", type=Path, help="an older checkout's src/ to measure in the same run")
    parser.add_argument("--repeats", type=int, default=3, help="processes per case; the median is reported")
    parser.add_argument("--image", type=Path, default=ROOT / "docs" / "images" / "street.jpg")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    # this process stays small: a child's peak memory counts its parent's at the fork
    describe = "from refineseg.inference.precision import cpu_features; print(cpu_features().describe())"
    env = {**os.environ, "PYTHONPATH": str(args.src)}
    cpu = subprocess.run([sys.executable, "-c", describe], env=env, capture_output=True, text=True, check=True)
    print(f"{cpu.stdout.strip()}; Python {sys.version.split()[0]}; median of {args.repeats} fresh processes per case")
    results = {}
    for label, src in (("before", args.before), ("this checkout", args.src)):
        if src is not None:
            results[label] = measure_tree(src.resolve(), args.repeats, args.image)
            print_rows(f"{label}: {src}", results[label])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
