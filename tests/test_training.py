"""Training through the CLI on tiny CamVid trees: export, DDP, exact resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import refineseg
from refineseg.cli import main
from refineseg.data import list_datasets
from refineseg.data.splits import parse_split
from refineseg.training import TrainConfig, load_recipe, training_time

from .fixtures import make_camvid

TINY = ["--dataset", "camvid", "--batch-size", "2", "--crop-size", "32", "--accelerator", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def camvid(tmp_path_factory) -> Path:
    return make_camvid(tmp_path_factory.mktemp("data") / "camvid", n=4, size=(40, 56))


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "refineseg", *args], capture_output=True, text=True, env=env, check=check, timeout=300
    )


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_train_exports_the_best_model_with_its_classes(camvid, tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        *TINY,
        "--root",
        str(camvid),
        "--arch",
        "lw_refinenet_mobilenet_v2",
        "--epochs",
        "2",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    model = refineseg.load_model(out / "best.safetensors")
    assert model.meta.class_names[3] == "Road" and len(model.meta.palette) == 11
    assert 0.0 <= model.meta.provenance["val_miou"] <= 1.0 and model.meta.provenance["recipe"]["crop_size"] == 32
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert list((out / "logs" / "csv").glob("version_*/metrics.csv"))
    timed = training_time(out)
    assert timed is not None and timed.seconds > 0 and timed.timed_epochs == timed.epochs == 2
    assert main(args) == 1  # the directory holds a run: refuse rather than overwrite it


@pytest.mark.slow
def test_resume_after_sigkill_ends_with_the_same_weights(camvid, tmp_path):
    """A run killed mid-training and resumed equals an uninterrupted one (dropout included)."""
    args = [*TINY, "--root", str(camvid), "--arch", "lw_refinenet_resnet18", "--epochs", "5", "--seed", "3"]
    _cli("train", *args, "--output", str(tmp_path / "straight"))

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "refineseg", "train", *args, "--output", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    epoch_at_kill = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    assert epoch_at_kill < 4

    _cli("train", *args, "--output", str(killed), "--resume")
    straight, resumed = _weights(tmp_path / "straight" / "checkpoints" / "last.ckpt"), _weights(last)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 4
    # the time trained before the kill came back with the checkpoint: every epoch is counted
    # (the killed epoch's partial time is lost, as it was retrained)
    timed = training_time(killed)
    assert timed is not None and timed.timed_epochs == timed.epochs == 5


@pytest.mark.slow
def test_two_process_cpu_ddp_run_exports_weights(camvid, tmp_path):
    out = tmp_path / "ddp"
    result = _cli(
        "train",
        *TINY,
        "--root",
        str(camvid),
        "--arch",
        "lw_refinenet_mobilenet_v2",
        "--epochs",
        "1",
        "--devices",
        "2",
        "--strategy",
        "ddp",
        "--output",
        str(out),
    )
    assert "distributed: 2 processes (DDPStrategy, 1 node(s))" in result.stdout, result.stdout + result.stderr
    assert refineseg.load_model(out / "best.safetensors").num_classes == 11


def test_resume_needs_a_checkpoint(camvid, tmp_path, capsys):
    assert main(["train", *TINY, "--root", str(camvid), "--output", str(tmp_path / "empty"), "--resume"]) == 1
    assert "holds no run to resume" in capsys.readouterr().err


def test_recipes_are_checked_and_flags_override_them(tmp_path):
    from refineseg.cli import build_parser
    from refineseg.cli.train import build_config

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "dataset: camvid\narch: lw_refinenet_resnet18\nepochs: 7\ncrop_size: 320\nscale_range: [0.75, 1.5]\n"
    )
    config = build_config(build_parser().parse_args(["train", "--config", str(recipe), "--root", "x", "--epochs", "3"]))
    assert (config.arch, config.epochs, config.crop_size, config.scale_range) == (
        "lw_refinenet_resnet18",
        3,
        320,
        (0.75, 1.5),
    )
    recipe.write_text("epochs: 2\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"unknown setting.*learning_rate"):
        load_recipe(recipe)
    with pytest.raises(ValueError, match="--root is required"):
        TrainConfig().validate()


def test_shipped_recipes_load():
    recipes = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert recipes
    datasets = {spec.name: spec for spec in list_datasets()}
    for recipe in recipes:
        config = TrainConfig(**load_recipe(recipe), root="x")
        config.validate()
        assert config.arch in refineseg.list_models(), recipe
        named = {name for split in (config.train_split, config.val_split) for name in parse_split(split).splits}
        assert named <= set(datasets[config.dataset].splits), recipe


def test_median_frequency_weights():
    from refineseg.data import CAMVID_LABELS, SegmentationDataset
    from refineseg.training.data import DecodedImages, loss_class_weights, median_frequency_weights

    class Fixed(SegmentationDataset):
        def __init__(self, masks):
            self.masks = masks
            self.labels = CAMVID_LABELS
            self.name = "fixed"

        def __len__(self):
            return len(self.masks)

        def read_pair(self, i):
            return np.zeros((*self.masks[i].shape, 3), np.uint8), self.masks[i]

    # class 0: 12 of 16 pixels in image A; class 1: 4 of 16 in A and 16 of 16 in B
    a = np.array([[0] * 4] * 3 + [[1] * 4], dtype=np.uint8)
    b = np.ones((4, 4), dtype=np.uint8)
    images = DecodedImages(Fixed([a, b]))
    weights = median_frequency_weights(images, 3)
    freq0, freq1 = 12 / 16, 20 / 32
    median = np.median([freq0, freq1])
    assert torch.allclose(weights, torch.tensor([median / freq0, median / freq1, 0.0], dtype=torch.float32))
    assert torch.equal(loss_class_weights("median_frequency", images, 3), weights)
    assert torch.allclose(loss_class_weights("sqrt_median_frequency", images, 3) ** 2, weights)
    assert loss_class_weights("none", images, 3) is None
    with pytest.raises(ValueError, match="sqrt_median_frequency"):
        loss_class_weights("inverse", images, 3)


def test_encoder_learning_rate_and_frozen_batch_norm():
    from refineseg.training.module import SegmentationModule

    config = TrainConfig(root="x", lr=0.01, encoder_lr_ratio=0.1, schedule="constant", freeze_encoder_bn=True)
    module = SegmentationModule(refineseg.models.lw_refinenet_resnet18(num_classes=3), config)
    optimizer = module.configure_optimizers()
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert groups["encoder"]["lr"] == pytest.approx(0.001) and groups["decoder"]["lr"] == 0.01
    encoder_ids = {id(p) for p in module.model.encoder.parameters()}
    assert all(id(p) in encoder_ids for p in groups["encoder"]["params"])
    assert not any(id(p) in encoder_ids for p in groups["decoder"]["params"])
    module.train()
    bn = module.model.encoder.bn1
    assert not bn.training and not bn.weight.requires_grad
    assert module.model.decoder.training


def test_checkpoints_are_written_atomically(tmp_path):
    from refineseg.training.checkpoint_io import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        io.save_checkpoint({"step": torch.tensor(2), "unpicklable": lambda: None}, path)
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


@pytest.mark.slow
def test_weight_average_is_what_is_validated_and_saved(camvid, tmp_path):
    # with --ema-decay the best weights file holds the moving average (the weights validated),
    # not the last step's weights; the checkpoint keeps both, so --resume continues the average
    out = tmp_path / "run"
    args = ["train", *TINY, "--root", str(camvid), "--arch", "lw_refinenet_mobilenet_v2", "--epochs", "1"]
    assert main([*args, "--ema-decay", "0.5", "--color-jitter", "0.3", "--output", str(out)]) == 0
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    average = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    current = {
        k.removeprefix("model."): v for k, v in checkpoint["current_model_state"].items() if k.startswith("model.")
    }
    saved = refineseg.load_model(out / "best.safetensors").state_dict()
    name = next(k for k, v in current.items() if v.is_floating_point() and not torch.equal(v, average[k]))
    assert torch.equal(saved[name], average[name]) and not torch.equal(saved[name], current[name])
    assert refineseg.load_model(out / "best.safetensors").meta.provenance["recipe"]["ema_decay"] == 0.5


@pytest.mark.slow
def test_split_expressions_train_on_some_sequences(tmp_path):
    root = make_camvid(tmp_path / "camvid", n=2)
    for split in ("train", "trainannot"):  # a second sequence beside the fixture's 0001TP
        for path in (root / split).iterdir():
            (root / split / path.name.replace("0001TP", "0006R0")).write_bytes(path.read_bytes())
    out = tmp_path / "run"
    split_args = ["--train-split", "train+val:-0006R0", "--val-split", "train:0006R0"]
    args = ["train", *TINY, "--root", str(root), "--arch", "lw_refinenet_mobilenet_v2", "--epochs", "1", *split_args]
    assert main([*args, "--output", str(out)]) == 0
    recipe = refineseg.load_model(out / "best.safetensors").meta.provenance["recipe"]
    assert (recipe["train_split"], recipe["val_split"]) == ("train+val:-0006R0", "train:0006R0")


@pytest.mark.parametrize("option", ["--color-jitter=1.5", "--ema-decay=1", "--train-split=train+"])
def test_bad_augmentation_average_or_split_is_one_line(camvid, tmp_path, capsys, option):
    args = ["train", *TINY, "--root", str(camvid), "--arch", "lw_refinenet_mobilenet_v2", "--epochs", "1"]
    assert main([*args, option, "--output", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option.split("=")[0].lstrip("-").split("-")[0] in err
