"""The inference benchmark scripts run end to end on tiny inputs (their figures are not checked here).

A script with ``--json`` is checked through that file: its structure and that its numbers are sane
(present, finite, positive, ratios consistent with each other), not the phrasing of its printed
report, which is for people and may change. Scripts without ``--json`` are checked through the rows
of the table they print.
"""

from __future__ import annotations

import json
import math
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .fixtures import write_image

pytestmark = pytest.mark.slow  # each test runs a benchmark script in a subprocess

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _positive(*values: object) -> bool:
    """Every value a finite number above zero."""
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


def _fraction(value: object) -> bool:
    return isinstance(value, (int, float)) and 0 <= value <= 1


def test_inference_speed_against_the_own_eager_baseline(tmp_path):
    image = tmp_path / "photo.png"
    write_image(image, np.random.default_rng(0).integers(0, 256, size=(40, 56, 3), dtype=np.uint8))
    _run(
        "inference_speed.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--image", str(image), "--json", str(tmp_path / "r.json"), "--bf16"),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert isinstance(report["machine"], str) and report["machine"] and report["size"] == [64, 64]
    assert list(report["results"]) == ["lw_refinenet_mobilenet_v2"]
    rows = {row["variant"]: row for row in report["results"]["lw_refinenet_mobilenet_v2"]}
    assert list(rows) == ["eager (baseline)", "optimized", "optimized bf16"]  # the baseline first
    for row in rows.values():
        assert len(row["times"]) == 1 and _positive(*row["times"])  # --repeats 1
        assert math.isfinite(row["rel"]) and row["rel"] >= 0 and _fraction(row["agree"])
    assert rows["eager (baseline)"]["rel"] == 0 and rows["eager (baseline)"]["agree"] == 1  # against itself
    assert _positive(*rows["eager (baseline)"]["floor"].values())  # GFLOP and GFLOP/s
    assert rows["optimized"]["rel"] < 1e-3 and _positive(rows["optimized"]["prepare_s"])
    shipped = {row["variant"]: row for row in report["shipped_model"]}  # --image: the trained model
    assert list(shipped) == ["optimized", "optimized bf16"]
    assert all(math.isfinite(row["rel"]) and _fraction(row["agree"]) for row in shipped.values())
    assert shipped["optimized"]["agree"] > 0.999


@pytest.mark.skipif(platform.system() != "Linux", reason="peak memory is read from /proc")
def test_large_image_memory_compares_whole_image_with_windows(tmp_path):
    _run(
        "large_image_memory.py",
        *("--model", "lw_refinenet_mobilenet_v2", "--size", "96", "160", "--tiles", "64"),
        *("--json", str(tmp_path / "m.json")),
    )
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["model"] == "lw_refinenet_mobilenet_v2" and report["size"] == [96, 160]
    results = report["results"]
    assert [r["tile"] for r in results] == [0, 64]  # the whole image, then 64x64 windows
    assert all(_positive(r["before_mib"], r["peak_mib"], r["seconds"]) for r in results)
    assert all(r["peak_mib"] >= r["before_mib"] for r in results)


def test_conv_algorithms_probe_reports_an_accurate_winograd():
    out = _run("conv_algorithms.py", "--sizes", "9", "16", "--channels", "8", "--repeats", "1")
    rows = [line.split() for line in out.splitlines() if "x" in line.split()[0] and line.split()[0][0].isdigit()]
    assert len(rows) == 2
    assert all(float(row[-1]) < 1e-4 for row in rows)  # Winograd's error relative to the largest output


def test_shipped_latency_prints_ratios_to_the_replaced_model():
    out = _run("shipped_latency.py", "--size", "64", "64", "--warmup", "0", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) == 2 and rows[0].endswith("| 1.00x |") and "camvid (shipped" in rows[1]
    assert "machine:" in out and "precision='fp32'" in out


def test_shipped_latency_times_trained_candidates_in_the_precision_asked(tmp_path):
    import refineseg

    from .fixtures import tiny_model

    weights = refineseg.save_model(tiny_model(), tmp_path / "candidate.safetensors")
    out = _run(
        "shipped_latency.py",
        *("--size", "64", "64", "--warmup", "0", "--repeats", "1", "--precision", "auto", "--weights", str(weights)),
    )
    rows = [line for line in out.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) == 3 and str(weights) in rows[2] and "precision='auto'" in out


def test_train_throughput_compares_bf16_with_fp32(tmp_path):
    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", splits=("train",), n=2, size=(40, 48))
    out = _run(
        "train_throughput.py",
        *("--root", str(root), "--arch", "lw_refinenet_resnet18", "--batch-size", "2", "--crop-size", "32"),
        *("--steps", "1", "--warmup", "0", "--only", "refineseg", "bf16"),
    )
    rows = [line.split() for line in out.splitlines() if line.startswith(("refineseg ", "bf16 "))]
    assert [r[0] for r in rows] == ["refineseg", "bf16"] and rows[0][-1] == "1.00x"


def test_precision_benchmark_times_each_precision_and_scores_the_shipped_model(tmp_path):
    pytest.importorskip("onnxruntime")
    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", n=2, size=(48, 64))
    _run(
        "precision.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--root", str(root), "--calibration-images", "2", "--json", str(tmp_path / "r.json")),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["machine"] and report["cpu"] and report["size"] == [64, 64]
    rows = {row["variant"]: row for row in report["results"]["lw_refinenet_mobilenet_v2"]}
    assert list(rows) == ["fp32", "bf16", "int8"]
    for row in rows.values():  # a path that failed would have an "error" and no times
        assert "error" not in row, row
        assert len(row["times"]) == 1 and _positive(*row["times"], row["prepare_s"])
        assert math.isfinite(row["rel"]) and row["rel"] >= 0 and _fraction(row["agree"])
    assert _positive(*rows["fp32"]["floor"].values())  # GFLOP and GFLOP/s
    assert rows["fp32"]["rel"] < 1e-3 and rows["fp32"]["agree"] > 0.999  # fp32 is exact
    assert rows["int8"]["rel"] > 0 and rows["int8"]["agree"] > 0  # int8 is not
    mious = report["camvid_val_miou"]  # the shipped model, per precision
    assert set(mious) == {"fp32", "bf16", "int8"} and all(_fraction(v) for v in mious.values())


def test_predict_folder_benchmark_compares_predict_with_the_model_alone(tmp_path):
    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", n=3, size=(48, 64))
    _run(
        "predict_folder.py", "--root", str(root), "--images", "3", "--repeats", "1", "--json", str(tmp_path / "r.json")
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 3 and report["precision"] in ("fp32", "bf16") and report["backend"] == "pytorch"
    rates = report["model_alone_images_per_s"] + report["predict_images_per_s"]
    assert all(math.isfinite(r) and r > 0 for r in rates)
    assert report["ratio"] == max(report["predict_images_per_s"]) / max(report["model_alone_images_per_s"])


def test_batch_size_benchmark_times_each_batch_size_against_the_first():
    out = _run(
        "batch_size.py", *("--backends", "pytorch", "--batch-sizes", "1", "2", "--images", "2", "--repeats", "1")
    )
    rows = [line for line in out.splitlines() if line.startswith("| pytorch")]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "2"] and rows[0].endswith("| 1.00x |")


def test_runtimes_benchmark_times_every_runtime_and_precision(tmp_path):
    for name in ("onnxruntime", "openvino"):
        pytest.importorskip(name)
    _run(
        "runtimes.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--no-miou", "--json", str(tmp_path / "r.json")),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["machine"] and report["size"] == [64, 64] and list(report["models"]) == ["lw_refinenet_mobilenet_v2"]
    rows = report["models"]["lw_refinenet_mobilenet_v2"]["runtimes"]
    assert {
        "pytorch optimized",
        "onnxruntime",
        "openvino",
        "openvino bf16",
        "onnxruntime int8",
        "openvino int8",
    } <= set(rows)
    for precision in ("fp32", "bf16", "int8"):  # the fastest at each precision is 1.00x, the others slower
        ratios = [row["vs_fastest_same_precision"] for row in rows.values() if row["precision"] == precision]
        assert min(ratios) == 1.0 and all(r >= 1.0 for r in ratios)
    for row in rows.values():
        assert row["precision"] in ("fp32", "bf16", "int8") and _positive(row["ms"])
        assert _fraction(row["argmax_same_as_fp32"])
    for precision in ("fp32", "bf16", "int8"):  # each ratio is its time over the fastest time at its precision
        same = [row for row in rows.values() if row["precision"] == precision]
        fastest = min(row["ms"] for row in same)
        assert all(math.isclose(row["vs_fastest_same_precision"], row["ms"] / fastest, rel_tol=1e-6) for row in same)
    assert rows["onnxruntime"]["argmax_same_as_fp32"] > 0.999  # fp32 runtimes agree with PyTorch


def _old_server_commit() -> str:
    """The commit serve_load.py takes the old server from (its ``OLD_COMMIT``), read from the script."""
    found = re.search(r'^OLD_COMMIT = "([0-9a-f]+)"$', (BENCHMARKS / "serve_load.py").read_text(), re.MULTILINE)
    assert found, "serve_load.py no longer names OLD_COMMIT"
    return found.group(1)


def _has_commit(commit: str) -> bool:
    command = ["git", "cat-file", "-e", f"{commit}^{{commit}}"]
    try:
        return subprocess.run(command, cwd=BENCHMARKS.parent, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


OLD_SERVER_COMMIT = _old_server_commit()


@pytest.mark.skipif(platform.system() != "Linux", reason="peak memory is read from /proc")
@pytest.mark.skipif(
    not _has_commit(OLD_SERVER_COMMIT),
    reason=(
        f"serve_load.py runs the old http.server server from git history (git show {OLD_SERVER_COMMIT}:"
        "src/refineseg/serve/app.py), and this checkout lacks that commit (a shallow clone or no .git): "
        "fetch the full history (git fetch --unshallow) to run this test"
    ),
)
@pytest.mark.parametrize("fmt", ["png", "json"])
def test_serve_load_compares_the_new_server_with_the_old(tmp_path, fmt):
    pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
    image = tmp_path / "photo.png"
    write_image(image, np.random.default_rng(0).integers(0, 256, size=(40, 56, 3), dtype=np.uint8))
    _run(  # exits 1 when the two servers answer differently (labels, overlays beyond 1, JSON fields)
        "serve_load.py",
        *("--requests", "4", "--concurrency", "2", "--warmup", "0", "--format", fmt),
        *("--image", str(image), "--json", str(tmp_path / "r.json")),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["machine"] and report["cpu"] and report["same_answer"] is True
    assert report["settings"]["requests"] == "4" and report["settings"]["old_commit"] == OLD_SERVER_COMMIT
    old, new = report["results"].values()  # the old server first
    for row in (old, new):
        assert _positive(row["throughput"], row["p50_ms"], row["p99_ms"], row["peak_rss_mib"])
        assert row["p99_ms"] >= row["p50_ms"]
    ratios = report["ratios_new_over_old"]
    assert set(ratios) == {"throughput", "p50_ms", "p99_ms", "peak_rss_mib"}
    assert all(math.isclose(ratios[key], new[key] / old[key], rel_tol=1e-9) for key in ratios)
    alone = report["model_alone_images_per_s"]  # just before and after the new server
    assert len(alone) == 2 and _positive(*alone) and report["model_alone_ran"]
    assert math.isclose(report["new_over_model_alone"], new["throughput"] / max(alone))


def test_labelstudio_backend_through_a_real_label_studio(tmp_path):
    pytest.importorskip("label_studio_sdk")
    from .fixtures import tiny_model
    from .labelstudio_server import label_studio_missing

    if label_studio_missing():
        pytest.skip(label_studio_missing() or "")
    import refineseg

    weights = refineseg.save_model(tiny_model(), tmp_path / "tiny.safetensors")
    images = tmp_path / "images"
    for i in range(2):
        write_image(images / f"{i}.png", np.random.default_rng(i).integers(0, 256, size=(30, 40, 3), dtype=np.uint8))
    _run(
        "labelstudio_backend.py",
        *("--image-dir", str(images), "--weights", str(weights), "--precision", "fp32"),
        *("--json", str(tmp_path / "r.json")),
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 2 and report["size"] == [30, 40] and report["precision"] == "fp32"
    assert _positive(*report["ms_per_image"].values(), report["backend_over_model_alone"])
    assert report["pixels"] == 2 * 30 * 40 and report["pixels_equal_to_predict"] == report["pixels"]
