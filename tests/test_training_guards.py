"""A run that went wrong says so: divergence stops with one line, empty classes are named,
a 0/255 export is refused until declared, the terminal shows the run's own lines only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from refineseg.cli import main

from .fixtures import write_image

TINY = ["--arch", "lw_refinenet_resnet18", "--batch-size", "2", "--crop-size", "32", "--accelerator", "cpu"]


def _binary_dataset(root: Path, classes: str, n: int = 4) -> Path:
    """Bright rectangles stored as 255 on dark background stored as 0 (a typical binary export)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(n):
            image = rng.integers(0, 60, (40, 48, 3), dtype=np.uint8)
            mask = np.zeros((40, 48), dtype=np.uint8)
            y, x = rng.integers(2, 16, 2)
            mask[y : y + 18, x : x + 24] = 255
            image[mask == 255] = 220
            write_image(root / split / "images" / f"{i}.png", image)
            write_image(root / split / "masks" / f"{i}.png", mask)
    (root / "classes.txt").write_text(classes)
    return root


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "refineseg", *args], capture_output=True, text=True, env=env, timeout=300
    )


def _non_finite_tensors(path: Path) -> list[str]:
    return [k for k, v in load_file(path).items() if v.is_floating_point() and not torch.isfinite(v).all()]


@pytest.mark.slow
def test_a_diverging_run_stops_with_one_line_and_writes_no_nan(tmp_path):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n")
    out = tmp_path / "run"
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--epochs", "4", "--output", str(out)]
    result = _cli(*args, "--lr", "1e6", "--no-progress")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("refineseg train: error: training diverged at step ")
    assert "the learning rate (--lr 1e+06) is the likely cause: try --lr 100000" in lines[0]
    assert "best weights" not in result.stdout
    for weights in out.rglob("*.safetensors"):
        assert _non_finite_tensors(weights) == []
    last = out / "checkpoints" / "last.ckpt"
    if last.is_file():  # diverged after the first epoch: that epoch's checkpoint is kept and finite
        assert f"last good checkpoint is {last}" in lines[0]
        state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.slow
def test_a_sound_run_prints_one_line_per_epoch_and_no_third_party_noise(tmp_path):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n")
    out = tmp_path / "run"
    result = _cli("train", "--dataset", "generic", "--root", str(root), *TINY, "--epochs", "2", "--output", str(out))
    assert result.returncode == 0, result.stderr
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    assert all(" loss " in line and "val mIoU " in line and line.endswith(" s") for line in epochs)
    best, timed = result.stdout.strip().splitlines()[-2:]
    assert best == f"best weights: {out / 'best.safetensors'}"
    assert timed.startswith("trained 2 epoch(s) in ") and timed.endswith(" h")
    for noise in ("Tip:", "litlogger", "GPU available", "TPU available", "Warning", "deprecated", "| Name"):
        assert noise not in result.stdout + result.stderr, noise


@pytest.mark.slow
def test_a_0_255_export_is_refused_then_trains_when_declared(tmp_path, capsys):
    root = _binary_dataset(tmp_path / "d", "background\ncar\n")
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--epochs", "3", "--no-progress"]
    assert main([*args, "--output", str(tmp_path / "refused")]) == 1
    err = capsys.readouterr().err
    assert "class 'car' has no pixels" in err and "'car value=255'" in err and len(err.strip().splitlines()) == 1

    (root / "classes.txt").write_text("background\ncar value=255\n")
    out = tmp_path / "run"
    assert main([*args, "--lr", "0.02", "--output", str(out)]) == 0
    report = tmp_path / "val.json"
    evaluate = ["evaluate", "--weights", str(out / "best.safetensors"), "--dataset", "generic", "--root", str(root)]
    assert main([*evaluate, "--split", "val", "--output", str(report), "--no-progress"]) == 0
    captured = capsys.readouterr()
    car = json.loads(report.read_text())["per_class_iou"]["car"]
    assert car is not None and 0.0 <= car <= 1.0, captured.out  # a real IoU (car has pixels), not n/a
    assert "car" in captured.out and "n/a" not in captured.out and "no ground-truth pixels" not in captured.err


@pytest.mark.slow
def test_a_class_missing_from_the_training_masks_is_warned_about(tmp_path, capsys):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\nbus value=7\n")
    out = tmp_path / "run"
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--epochs", "1", "--no-progress"]
    assert main([*args, "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 class(es) never appear in the training masks" in err and "bus" in err
    evaluate = ["evaluate", "--weights", str(out / "best.safetensors"), "--dataset", "generic", "--root", str(root)]
    assert main([*evaluate, "--output", str(tmp_path / "m.json"), "--no-progress"]) == 0
    assert "1 class(es) have no ground-truth pixels" in capsys.readouterr().err


@pytest.mark.parametrize("loss", ["dice", "0.5*focal+lovasz"])
@pytest.mark.slow
def test_losses_train_from_the_command_line(tmp_path, loss):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n", n=2)
    out = tmp_path / "run"
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--epochs", "1", "--no-progress"]
    assert main([*args, "--loss", loss, "--output", str(out)]) == 0
    assert (out / "best.safetensors").is_file()


def test_a_bad_loss_is_one_line(tmp_path, capsys):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n", n=1)
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--output", str(tmp_path / "r")]
    assert main([*args, "--loss", "ce+dcie"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("refineseg train: error: --loss: unknown loss 'dcie'") and "\n" not in err


def test_a_batch_larger_than_the_training_set_is_refused(tmp_path, capsys):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n", n=1)
    args = ["train", "--dataset", "generic", "--root", str(root), *TINY, "--output", str(tmp_path / "r")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "--batch-size 2 is more than the 1 images" in err and "lower --batch-size" in err
