"""tools/gpu_check.sh and benchmarks/gpu.py where no GPU is, and the CUDA-only code paths on the CPU.

The script and the benchmark run for real only on a GPU; here they must parse, stop at once with
one clear line, and (the benchmark) run every code path in its CPU smoke mode. The CUDA-only
branches of refineseg (training precision and determinism, the optimisation check's TF32 setting,
tensors made on the model's device) are driven with a faked CUDA or on PyTorch's ``meta`` device,
which, like CUDA, refuses to mix with CPU tensors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import refineseg

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"
BENCHMARK = ROOT / "benchmarks" / "gpu.py"
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour where no GPU is")


# -- tools/gpu_check.sh -----------------------------------------------------------------------


def test_the_script_parses():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)"
)
def test_the_script_passes_shellcheck():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    environ = {**os.environ, "REFINESEG_PYTHON": sys.executable, "TMPDIR": str(tmp_path), **env}
    start = time.monotonic()
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=environ, timeout=180)
    return result, time.monotonic() - start


@needs_no_gpu
def test_the_script_stops_at_the_cuda_check_without_a_gpu(tmp_path):
    result, seconds = _script(tmp_path, GPU_CHECK_OUT=str(tmp_path / "out"))
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(line.startswith("PASS install (") for line in lines), result.stdout
    [cuda] = [line for line in lines if line.startswith(("PASS cuda", "FAIL cuda"))]
    assert cuda.startswith("FAIL cuda (no CUDA device is visible to torch"), cuda
    assert lines[-1] == "1 passed, 1 failed"
    assert not any(line.startswith(("PASS train", "FAIL train", "PASS dataset")) for line in lines)
    assert seconds < 120  # fails fast, no step waits on a device
    assert not list(tmp_path.glob("gpu_check.*")), "the work directory was left behind"
    assert (tmp_path / "out" / "gpu_check_logs.txt").is_file()


def test_the_script_refuses_an_unknown_dry_run(tmp_path):
    result, _ = _script(tmp_path, GPU_CHECK_DRY_RUN="gpu")
    assert result.returncode == 2 and "GPU_CHECK_DRY_RUN must be 'cpu'" in result.stderr


# -- benchmarks/gpu.py --------------------------------------------------------------------------


def _benchmark(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARK), *args], capture_output=True, text=True, timeout=600)


@needs_no_gpu
def test_the_benchmark_says_in_one_line_that_there_is_no_gpu():
    result = _benchmark()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "no CUDA device is visible" in result.stderr
    assert "--device cpu" in result.stderr


@pytest.mark.slow  # half a minute of a CPU core: oneDNN prepares every convolution shape at its first call
@pytest.mark.slow
def test_the_benchmark_smoke_mode_runs_every_variant_on_the_cpu(tmp_path):
    result = _benchmark(
        *("--device", "cpu", "--models", "shipped", "--steps", "1", "--warmup", "0", "--repeats", "1"),
        *("--no-compile", "--crop", "32", "32", "--image-size", "32", "48", "--batch-size", "2"),
        *("--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "smoke mode" in result.stdout and "machine:" in result.stdout
    table = [line for line in result.stdout.splitlines() if line.startswith("| refinenet_efficientnet_lite0 |")]
    assert [row.split(" | ")[2] for row in table] == ["fp32", "bf16-mixed", "bf16-mixed+channels-last"]
    assert all(row.split(" | ")[1] == "2 x 32x32" for row in table)
    report = json.loads((tmp_path / "r.json").read_text())
    variants = [row["variant"] for row in report["inference"]]
    assert variants == ["eager fp32", "optimized fp32", "optimized bf16"]
    assert not any("error" in row for row in report["training"] + report["inference"])
    optimized = report["inference"][1]
    assert optimized["rel"] < 1e-3 and optimized["peak_mib"] is None and len(optimized["times"]) == 1
    assert (tmp_path / "r.md").read_text().startswith("device: cpu")


# -- training on a GPU: precision and determinism ---------------------------------------------


def _fake_cuda(monkeypatch, capability: tuple[int, int]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # emulation counts
    monkeypatch.setattr(torch.version, "hip", None)


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((7, 0), "16-mixed"), ((7, 5), "16-mixed"), ((8, 0), "bf16-mixed"), ((9, 0), "bf16-mixed")],
)
def test_auto_precision_on_a_gpu_is_bf16_only_where_the_gpu_has_it(monkeypatch, capability, expected):
    from refineseg.training import TrainConfig
    from refineseg.training.run import _precision

    _fake_cuda(monkeypatch, capability)
    for accelerator in ("gpu", "cuda", "auto"):
        assert _precision(TrainConfig(dataset="camvid", root="x"), accelerator) == expected
    assert _precision(TrainConfig(dataset="camvid", root="x", precision="32-true"), "gpu") == "32-true"


def test_training_is_deterministic_on_a_cpu_and_warns_on_a_gpu(monkeypatch):
    from refineseg.training.run import _deterministic

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _deterministic("cpu") is True and _deterministic("auto") is True
    assert _deterministic("gpu") == "warn"  # "gpu" without a GPU fails in Lightning, not here
    _fake_cuda(monkeypatch, (9, 0))
    assert _deterministic("auto") == "warn" and _deterministic("cuda") == "warn" and _deterministic("cpu") is True


class _TrainerBuilt(Exception):
    pass


def test_train_gives_lightning_the_gpu_settings(monkeypatch, tmp_path):
    """deterministic=True made CUDA's cross entropy (nll_loss2d) raise at the first training step."""
    import lightning

    from refineseg.training import TrainConfig, train

    from .fixtures import make_camvid

    seen: dict[str, object] = {}

    def trainer(**kwargs: object) -> None:
        seen.update(kwargs)
        raise _TrainerBuilt

    _fake_cuda(monkeypatch, (8, 0))
    monkeypatch.setattr(lightning, "Trainer", trainer)
    root = make_camvid(tmp_path / "camvid", n=2, size=(40, 56))
    config = TrainConfig(
        dataset="camvid",
        root=str(root),
        arch="lw_refinenet_resnet18",
        batch_size=2,
        crop_size=32,
        accelerator="gpu",
        class_weights="median_frequency",
        output=str(tmp_path / "run"),
        progress=False,
    )
    with pytest.raises(_TrainerBuilt):
        train(config)
    assert seen["deterministic"] == "warn" and seen["precision"] == "bf16-mixed" and seen["accelerator"] == "gpu"


# -- the optimisation check compares in true float32 on a GPU ---------------------------------


def _conv_fp32_setting() -> object:
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return conv.fp32_precision
    return torch.backends.cudnn.allow_tf32


def test_the_check_turns_tf32_off_on_cuda_and_restores_it():
    from refineseg.inference.optimize import _ieee_fp32_convolutions

    before = _conv_fp32_setting()
    with _ieee_fp32_convolutions("cuda"):
        inside = _conv_fp32_setting()
    assert inside in ("ieee", False)
    assert _conv_fp32_setting() == before
    with pytest.raises(RuntimeError), _ieee_fp32_convolutions(torch.device("cuda", 0)):
        raise RuntimeError("a failing model")
    assert _conv_fp32_setting() == before
    with _ieee_fp32_convolutions("cpu"):
        assert _conv_fp32_setting() == before  # CPUs have no TF32: nothing to change


def test_a_user_s_tf32_setting_survives_the_check():
    from refineseg.inference.optimize import _ieee_fp32_convolutions

    legacy = torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = False  # the flag older code sets
        before = _conv_fp32_setting()
        with _ieee_fp32_convolutions("cuda"):
            pass
        assert _conv_fp32_setting() == before and torch.backends.cudnn.allow_tf32 is False
    finally:
        torch.backends.cudnn.allow_tf32 = legacy


def test_optimize_for_inference_checks_under_the_setting_on_the_model_s_device(monkeypatch):
    import contextlib

    from refineseg.inference import optimize

    devices: list[torch.device] = []

    @contextlib.contextmanager
    def recorder(device):
        devices.append(torch.device(device))
        yield

    monkeypatch.setattr(optimize, "_ieee_fp32_convolutions", recorder)
    optimize.optimize_for_inference(refineseg.models.lw_refinenet_resnet18(num_classes=3).eval(), check_size=(32, 32))
    assert devices == [torch.device("cpu")]


# -- tensors are made on the model's device ---------------------------------------------------
# The meta device stands in for CUDA: a CPU tensor mixed into its computation raises, as on a GPU.


def test_summary_runs_a_model_on_its_own_device():
    from refineseg.analysis.summary import summarize

    model = refineseg.models.lw_refinenet_resnet18(num_classes=3)
    on_cpu = summarize(model, (32, 32))
    elsewhere = summarize(refineseg.models.lw_refinenet_resnet18(num_classes=3).to("meta"), (32, 32))
    assert elsewhere.total_flops == on_cpu.total_flops and len(elsewhere.rows) == len(on_cpu.rows)


@pytest.mark.parametrize("spec", ["ce", "focal", "dice", "lovasz", "ce+0.5*lovasz", "0.5*focal+dice"])
def test_losses_with_class_weights_follow_the_logits_device(spec):
    from refineseg.training.losses import build_loss

    loss = build_loss(spec, class_weights=torch.rand(5) + 0.5)  # the weights stay on the CPU, as built
    logits = torch.randn(2, 5, 8, 8, device="meta")
    target = torch.randint(0, 5, (2, 8, 8)).to("meta")
    value = loss(logits, target)
    assert value.device.type == "meta" and value.shape == ()


def test_test_time_augmentation_and_windows_stay_on_the_image_s_device():
    from refineseg.inference.tta import predict_probabilities

    model = refineseg.models.lw_refinenet_resnet18(num_classes=3).eval().to("meta")
    image = torch.randn(1, 3, 40, 56, device="meta")
    probs = predict_probabilities(model, image, scales=(0.5, 1.0), flip=True, crop_size=32)
    assert probs.device.type == "meta" and probs.shape == (1, 3, 40, 56)


def test_the_segmenter_normalises_on_its_device():
    from refineseg.inference import Segmenter

    segmenter = Segmenter(refineseg.models.lw_refinenet_resnet18(num_classes=3), device="meta", optimize=False)
    probs = segmenter.batch_probabilities([np.zeros((40, 56, 3), np.uint8)])
    assert segmenter.device.type == "meta" and probs.device.type == "meta" and probs.shape == (1, 3, 40, 56)
