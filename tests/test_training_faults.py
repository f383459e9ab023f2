"""Training runs that say how they ended: signals, a second run on one folder, changed resumes, full disks.

The subprocess tests send real signals to a real ``refineseg train`` on a tiny CamVid tree
(slow tier); the others check the pieces in process.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from refineseg.cli import main
from refineseg.training.safety import (
    OutputInUse,
    OutputLock,
    compare_resumed,
    remove_partial_writes,
    stored_config,
    write_error,
)

from .fixtures import make_camvid

TINY = ["--dataset", "camvid", "--batch-size", "2", "--crop-size", "32", "--accelerator", "cpu", "--no-progress"]
ARCH = ["--arch", "lw_refinenet_mobilenet_v2"]


@pytest.fixture(scope="module")
def camvid(tmp_path_factory) -> Path:
    return make_camvid(tmp_path_factory.mktemp("data") / "camvid", n=4, size=(40, 56))


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "refineseg", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_with_its_status_and_one_line_then_resume_ends_identical(camvid, tmp_path, signum, status):
    run = ["train", *TINY, *ARCH, "--root", str(camvid), "--epochs", "3"]
    reference = tmp_path / "reference"
    assert main([*run, "--output", str(reference)]) == 0

    out = tmp_path / "run"
    process = _start(*run, "--output", str(out))
    _wait_for(out / "checkpoints" / "last.ckpt", process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=240)
    assert process.returncode == status, err
    lines = [line for line in err.splitlines() if line.startswith("refineseg train:")]
    assert len(lines) == 1, err
    assert f"interrupted by {signal.Signals(signum).name}" in lines[0]
    assert f"resume with: refineseg train --output {out} --resume" in lines[0]
    assert "Traceback" not in err

    # the message's command is enough: the settings come from the run's config.json
    assert main(["train", "--output", str(out), "--resume", "--no-progress"]) == 0
    final, expected = _weights(out / "checkpoints" / "last.ckpt"), _weights(reference / "checkpoints" / "last.ckpt")
    assert all(torch.equal(final[k], expected[k]) for k in expected)


@pytest.mark.slow
def test_a_second_run_on_the_same_output_is_refused_naming_the_first(camvid, tmp_path):
    out = tmp_path / "run"
    # the first run would train for hours: it is killed at the end, so it holds the folder throughout
    # (a tiny learning rate: at the default one this 2-image run diverges within seconds and ends)
    run = ["train", *TINY, *ARCH, "--root", str(camvid), "--epochs", "100000", "--lr", "1e-6", "--output", str(out)]
    first = _start(*run)
    try:
        _wait_for(out / ".train.lock", first)
        second = _start(*[a if a != "100000" else "2" for a in run], "--seed", "7")
        _, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second was refused"
        assert second.returncode == 1
        assert err.strip().splitlines() == [
            f"refineseg train: error: --output {out} is in use by another refineseg train (PID {first.pid}); "
            "wait for it to finish or choose another --output"
        ]
        assert json.loads((out / "config.json").read_text())["epochs"] == 100000  # the first run's, untouched
    finally:
        first.kill()
        first.communicate()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / ".train.lock").write_text("999999\n")  # a PID file without a held lock: its run died
    with OutputLock(tmp_path):
        assert (tmp_path / ".train.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(OutputInUse, match=f"in use by another refineseg train \\(PID {os.getpid()}\\)"):
            OutputLock(tmp_path).__enter__()
    assert not (tmp_path / ".train.lock").exists()


@pytest.mark.slow
def test_resume_refuses_changed_model_data_or_optimiser_before_writing(camvid, tmp_path, capsys):
    out = tmp_path / "run"
    run = ["train", *TINY, *ARCH, "--root", str(camvid), "--output", str(out)]
    assert main([*run, "--epochs", "1"]) == 0
    config = (out / "config.json").read_text()
    checkpoint = (out / "checkpoints" / "last.ckpt").read_bytes()
    capsys.readouterr()
    for change in (["--lr", "0.1"], ["--arch", "lw_refinenet_resnet18"], ["--batch-size", "4"], ["--seed", "3"]):
        assert main([*run, "--epochs", "2", "--resume", *change]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{change[0]} " in err[0] and "differ from the run being resumed" in err[0]
        assert (out / "config.json").read_text() == config
        assert (out / "checkpoints" / "last.ckpt").read_bytes() == checkpoint
    assert main([*run, "--epochs", "1", "--resume"]) == 1
    assert "already done 1; give more than 1" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_records_the_settings_it_may_change(camvid, tmp_path):
    out = tmp_path / "run"
    assert main(["train", *TINY, *ARCH, "--root", str(camvid), "--output", str(out), "--epochs", "1"]) == 0
    assert main(["train", "--output", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 2
    assert config["resumed"] == [{"from_epoch": 2, "changes": {"epochs": [1, 2]}}]
    assert stored_config(out)["epochs"] == 2 and "resumed" not in stored_config(out)


@pytest.mark.slow
def test_leftovers_of_interrupted_writes_are_removed_at_start(camvid, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    leftover = out / "checkpoints" / ".last.ckpt.abc123.tmp"
    leftover.write_bytes(b"x" * 100)
    assert remove_partial_writes(out) == [leftover] and not leftover.exists()
    leftover.write_bytes(b"x")
    assert main(["train", *TINY, *ARCH, "--root", str(camvid), "--output", str(out), "--epochs", "1"]) == 0
    assert not leftover.exists()


def test_a_full_disk_is_one_line_saying_so(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 2**20))
    error = write_error(tmp_path / "last.ckpt", RuntimeError("[enforce fail at inline_container.cc] iostream error"))
    assert error.errno == errno.ENOSPC
    assert (
        str(error)
        == f"{tmp_path / 'last.ckpt'}: no space left on the device (1 MB free); free some space, then resume with --resume"
    )
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 0, 10**12))
    other = write_error(tmp_path / "x", PermissionError(errno.EACCES, "Permission denied"))
    assert str(other) == f"{tmp_path / 'x'}: could not be written (Permission denied)" and other.errno == errno.EACCES


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    from refineseg.training.checkpoint_io import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)

    def full(obj, f):
        Path(f).write_bytes(b"partial")
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match=r"last\.ckpt: "):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_compare_resumed_lists_every_refused_change():
    stored = {"lr": 0.01, "arch": "a", "epochs": 4, "devices": 1, "output": "o", "resume": False}
    new = {"lr": 0.1, "arch": "b", "epochs": 6, "devices": 2, "output": "o", "resume": True}
    with pytest.raises(ValueError, match=r"--lr 0.01 -> 0.1, --arch 'a' -> 'b' differ"):
        compare_resumed(stored, new, epochs_done=2)
    allowed = {**new, "lr": 0.01, "arch": "a"}
    assert compare_resumed(stored, allowed, epochs_done=2) == {"epochs": [4, 6], "devices": [1, 2]}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--crop-size", "7"], "--crop-size 7: below 32 pixels"),
        (["--limit-train-batches", "0"], "--limit-train-batches 0 would train nothing"),
    ],
)
def test_settings_that_train_nothing_useful_are_refused(camvid, tmp_path, capsys, option, message):
    args = ["train", *TINY, *ARCH, "--root", str(camvid), "--epochs", "1", "--output", str(tmp_path / "r"), *option]
    assert main(args) == 1
    assert message in capsys.readouterr().err


def test_a_signal_during_start_up_is_one_line_and_its_status(monkeypatch, capsys):
    import refineseg.cli.train as cli_train

    monkeypatch.setattr(cli_train, "_train", lambda args: os.kill(os.getpid(), signal.SIGTERM) or 0)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        cli_train.run(None)  # type: ignore[arg-type]
    assert stopped.value.code == 143
    assert capsys.readouterr().err == "refineseg train: interrupted by SIGTERM before training began\n"
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back


def test_resume_without_a_run_says_so(tmp_path, capsys):
    assert main(["train", "--output", str(tmp_path / "none"), "--resume"]) == 1
    assert "holds no run to resume (no config.json)" in capsys.readouterr().err
