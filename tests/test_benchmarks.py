"""The inference benchmark scripts run end to end on tiny inputs (their figures are not checked here)."""

from __future__ import annotations

import json
import platform
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


def test_inference_speed_against_the_own_eager_baseline(tmp_path):
    image = tmp_path / "photo.png"
    write_image(image, np.random.default_rng(0).integers(0, 256, size=(40, 56, 3), dtype=np.uint8))
    out = _run(
        "inference_speed.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--image", str(image), "--json", str(tmp_path / "r.json"), "--bf16"),
    )
    assert "eager (baseline)" in out and "optimized" in out and "shipped camvid model" in out
    assert "optimized bf16" in out and "in bf16 runs at" in out and "cpu: " in out
    rows = json.loads((tmp_path / "r.json").read_text())["results"]["lw_refinenet_mobilenet_v2"]
    optimized = next(r for r in rows if r["variant"] == "optimized")
    assert optimized["rel"] < 1e-3 and len(optimized["times"]) == 1


@pytest.mark.skipif(platform.system() != "Linux", reason="peak memory is read from /proc")
def test_large_image_memory_compares_whole_image_with_windows(tmp_path):
    out = _run(
        "large_image_memory.py",
        *("--model", "lw_refinenet_mobilenet_v2", "--size", "96", "160", "--tiles", "64"),
        *("--json", str(tmp_path / "m.json")),
    )
    assert "whole image" in out and "64x64 windows" in out
    results = json.loads((tmp_path / "m.json").read_text())["results"]
    assert [r["tile"] for r in results] == [0, 64]
    assert all(r["peak_mib"] >= r["before_mib"] > 0 and r["seconds"] > 0 for r in results)


def test_conv_algorithms_probe_reports_an_accurate_winograd():
    out = _run("conv_algorithms.py", "--sizes", "9", "16", "--channels", "8", "--repeats", "1")
    rows = [line.split() for line in out.splitlines() if "x" in line.split()[0] and line.split()[0][0].isdigit()]
    assert len(rows) == 2
    assert all(float(row[-1]) < 1e-4 for row in rows)  # Winograd's error relative to the largest output


def test_shipped_latency_prints_ratios_to_the_replaced_model():
    out = _run("shipped_latency.py", "--size", "64", "64", "--warmup", "0", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) == 2 and rows[0].endswith("| 1.00x |") and "camvid (shipped" in rows[1]
    assert "machine:" in out


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
    out = _run(
        "precision.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--root", str(root), "--calibration-images", "2", "--json", str(tmp_path / "r.json")),
    )
    assert "cpu: " in out and "ISA: " in out and "in bf16 runs at" in out
    assert "fp32 runs at" in out and "its floor" in out
    report = json.loads((tmp_path / "r.json").read_text())
    rows = {row["variant"]: row for row in report["results"]["lw_refinenet_mobilenet_v2"]}
    assert list(rows) == ["fp32", "bf16", "int8"]
    assert rows["fp32"]["rel"] < 1e-3 and rows["fp32"]["agree"] > 0.999  # fp32 is exact
    assert rows["int8"]["rel"] > 0 and 0 < rows["int8"]["agree"] <= 1  # int8 is not
    assert set(report["camvid_val_miou"]) == {"fp32", "bf16", "int8"}  # the shipped model, per precision
    assert "points against fp32" in out


def test_runtimes_benchmark_times_every_runtime_and_precision(tmp_path):
    for name in ("onnxruntime", "openvino"):
        pytest.importorskip(name)
    out = _run(
        "runtimes.py",
        *("--models", "lw_refinenet_mobilenet_v2", "--size", "64", "64", "--warmup", "0", "--repeats", "1"),
        *("--no-miou", "--json", str(tmp_path / "r.json")),
    )
    assert out.startswith("machine: ") and "| runtime | precision | ms |" in out
    rows = json.loads((tmp_path / "r.json").read_text())["models"]["lw_refinenet_mobilenet_v2"]["runtimes"]
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
    assert rows["onnxruntime"]["argmax_same_as_fp32"] > 0.999  # fp32 runtimes agree with PyTorch


def _has_commit(commit: str) -> bool:
    command = ["git", "cat-file", "-e", f"{commit}^{{commit}}"]
    try:
        return subprocess.run(command, cwd=BENCHMARKS.parent, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(platform.system() != "Linux", reason="peak memory is read from /proc")
@pytest.mark.skipif(not _has_commit("87301a6"), reason="the old server comes from git history this checkout lacks")
def test_serve_load_compares_the_new_server_with_the_old(tmp_path):
    pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
    image = tmp_path / "photo.png"
    write_image(image, np.random.default_rng(0).integers(0, 256, size=(40, 56, 3), dtype=np.uint8))
    out = _run(
        "serve_load.py",
        *("--requests", "4", "--concurrency", "2", "--warmup", "0", "--format", "png"),
        *("--image", str(image), "--json", str(tmp_path / "r.json")),
    )
    assert "cpu: " in out and "new / old" in out and "same answer from both servers: yes" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["results"]) == 2
    assert all(
        r["throughput"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 and r["peak_rss_mib"] > 0
        for r in report["results"].values()
    )
    assert set(report["ratios_new_over_old"]) == {"throughput", "p50_ms", "p99_ms", "peak_rss_mib"}
