"""Distributed evaluate and predict: 2 CPU processes (gloo) give exactly what one process gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import refineseg
from refineseg.cli import main
from refineseg.distributed import DistributedOptions, Rank, shard

from .fixtures import make_camvid, randomize_batch_norms, write_image

pytest.importorskip("lightning")


def test_shards_cover_every_item_once_in_order():
    items = list(range(11))
    parts = [shard(items, Rank(i, 3, torch.device("cpu"))) for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert sorted(x for p in parts for x in p) == items


def test_options_that_ask_for_one_process_launch_nothing():
    assert DistributedOptions().single_process and DistributedOptions(accelerator="cpu").single_process
    assert not DistributedOptions(devices=2).single_process and not DistributedOptions(num_nodes=2).single_process
    with pytest.raises(ValueError, match="--devices must be at least 1"):
        DistributedOptions(devices=0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    # 5 images: an odd count, so the two shards differ in size
    root = make_camvid(tmp / "camvid", splits=("val",), n=5, size=(40, 56))
    torch.manual_seed(0)
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=11)
    randomize_batch_norms(model)
    weights = refineseg.save_model(model, tmp / "m.safetensors")
    photos = tmp / "photos"
    rng = np.random.default_rng(1)
    for i, size in enumerate([(40, 56), (40, 56), (33, 47), (40, 56), (52, 38)]):
        write_image(photos / f"p{i}.png", rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return tmp, root, weights, photos


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: the ddp launcher starts rank 1 by running the same command again."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "refineseg", *argv], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.mark.slow
def test_evaluate_on_two_processes_writes_the_single_process_metrics(setup, tmp_path):
    _, root, weights, _ = setup
    common = ["evaluate", "--weights", str(weights), "--dataset", "camvid", "--root", str(root), "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "one.json")]) == 0
    two = _cli(*common, "--output", str(tmp_path / "two.json"), "--accelerator", "cpu", "--devices", "2")
    assert two.returncode == 0, two.stderr[-2000:]
    one_json = json.loads((tmp_path / "one.json").read_text())
    two_json = json.loads((tmp_path / "two.json").read_text())
    assert two_json == one_json and two_json["num_images"] == 5
    assert two.stdout.count("wrote ") == 1  # rank 1 reports nothing and writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "two.json"]


@pytest.mark.slow
def test_predict_on_two_processes_writes_byte_identical_files_once(setup, tmp_path):
    _, _, weights, photos = setup
    common = ["predict", str(photos), "--weights", str(weights), "--precision", "fp32", "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "one")]) == 0
    two = _cli(*common, "--output", str(tmp_path / "two"), "--accelerator", "cpu", "--devices", "2")
    assert two.returncode == 0, two.stderr[-2000:]
    assert "segmented 5 image(s)" in two.stdout and two.stdout.count("segmented") == 1
    one_files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    two_files = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*") if p.is_file())
    assert one_files == two_files and len(one_files) == 10  # label PNG + overlay per image, nothing else
    for name in one_files:
        if name.suffix == ".png":
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


@pytest.mark.slow
def test_predict_errors_are_reported_once_and_fail_the_run(setup, tmp_path):
    _, _, weights, photos = setup
    argv = ["predict", str(photos), str(tmp_path / "missing.png"), "--weights", str(weights), "--no-progress"]
    run = _cli(*argv, "--output", str(tmp_path / "out"), "--accelerator", "cpu", "--devices", "2")
    assert run.returncode == 1
    assert run.stderr.count("missing.png: no such file or directory") == 1
    assert len(list(Path(tmp_path / "out").glob("*.png"))) == 5


def test_bad_distributed_options_are_one_line_errors(setup, tmp_path, capsys):
    _, root, weights, _ = setup
    argv = ["evaluate", "--weights", str(weights), "--dataset", "camvid", "--root", str(root)]
    assert main([*argv, "--output", str(tmp_path / "m.json"), "--devices", "two"]) == 1
    assert "--devices must be a positive number or 'auto'" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "m.json"), "--devices", "2", "--device", "cuda"]) == 1
    assert "--device picks one device" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
