"""refineseg's Label Studio loop against a real Label Studio server (slow tier, nothing installed at run time).

One Label Studio (``label-studio start``, headless, SQLite in a temporary folder, loopback only;
see ``labelstudio_server.py``) serves the module's tests; each test makes its own project:
create it with a brush labelling config, upload three images, connect an ML backend (Label Studio
calls its ``/health`` and ``/setup``), retrieve predictions (Label Studio posts the tasks to its
``/predict``; the backend fetches each image back from Label Studio with the API token), accept
each prediction as an annotation, and export the project as Label Studio JSON.

``test_loop_with_stub_backend`` runs it with a stub backend whose masks are known, and checks
that the RLE in the export decodes to them. ``test_loop_with_refineseg_backend`` runs it with
``refineseg label-studio-backend``, and ``test_bad_inputs_are_refused_with_a_real_label_studio``
feeds that loop what it must refuse.

Measured 2026-12-06 on 2 loaded cores (Label Studio 1.23.2, nice 19): Label Studio's start, which
runs all its Django migrations on the fresh SQLite database, 42-58 s; the stub test 4 s after it,
the refineseg backend's 30 s; the module about 85 s.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
from PIL import Image

from refineseg.labelstudio import decode_mask, label_config

from .labelstudio_server import (
    LabelStudioAPI,
    LabelStudioServer,
    label_studio_missing,
    offline_env,
    refineseg_label_config,
    refineseg_ml_backend,
    start_label_studio,
    stub_ml_backend,
)

pytestmark = pytest.mark.skipif(label_studio_missing() is not None, reason=label_studio_missing() or "")

LABEL = "road"
# sizes differ and are not square, so a transposed or mismatched mask cannot pass
SIZES = {"first.png": (40, 30), "second.png": (33, 21), "third.png": (16, 48)}


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory, request) -> LabelStudioServer:
    failed_before = request.session.testsfailed
    with start_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        print(
            f"\nLabel Studio {server.version} answered {server.start_s:.1f} s after start ({server.url})",
            file=sys.stderr,
        )
        yield server
        if request.session.testsfailed > failed_before:
            print(f"\n--- Label Studio's log ({server.log_path}), last part ---\n{server.log()}", file=sys.stderr)


@pytest.fixture
def api(label_studio):
    with label_studio.api() as client:
        yield client


def red_box_image(width: int, height: int, seed: int) -> np.ndarray:
    """An RGB image, dark grey but for a red box placed by ``seed``: the stub's "road" is red > 127."""
    rgb = np.full((height, width, 3), 40, np.uint8)
    rgb[1 + seed : height // 2 + seed, 2 : width - 3 - seed] = (230, 20, 20)
    return rgb


def red_mask(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] > 127


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def original_name(task: dict) -> str:
    """The uploaded file's name: Label Studio stores it as ``<8 hex>-<name>``."""
    return task["file_upload"].split("-", 1)[1]


def brush_mask(region: dict) -> np.ndarray:
    assert region["type"] == "brushlabels" and region["value"]["format"] == "rle", region
    return decode_mask(region["value"]["rle"], region["original_width"], region["original_height"])


def upload_images(api: LabelStudioAPI, project_id: int, images: dict[str, np.ndarray]) -> list[dict]:
    """Upload the images (one task each); returns the tasks, checking their URLs and the token's access."""
    files = {name: png(rgb) for name, rgb in images.items()}
    imported = api.import_files(project_id, files)
    assert imported["task_count"] == len(files), imported
    tasks = api.tasks(project_id)
    assert sorted(original_name(task) for task in tasks) == sorted(files)
    for task in tasks:
        url = task["data"]["image"]
        assert url.startswith("/data/upload/"), url  # relative: a backend joins it to Label Studio's URL
        assert api.fetch(url) == files[original_name(task)]  # what the backend does, with the legacy token
    # and without the token the file is refused (so the fetch above proved the token works)
    anonymous = httpx.get(api.url + tasks[0]["data"]["image"], follow_redirects=False, trust_env=False, timeout=30)
    assert anonymous.status_code in (302, 401, 403), anonymous.status_code
    return tasks


@pytest.mark.slow
def test_loop_with_stub_backend(label_studio, api, tmp_path):
    images = {name: red_box_image(w, h, seed) for seed, (name, (w, h)) in enumerate(SIZES.items())}
    expected = {name: red_mask(rgb) for name, rgb in images.items()}
    config = label_config(["background", LABEL], [(0, 0, 0), (128, 64, 128)])
    project_id = api.create_project("refineseg e2e (stub backend)", config)["id"]
    tasks = upload_images(api, project_id, images)
    task_ids = [task["id"] for task in tasks]

    with stub_ml_backend(api.url, api.token, red_mask, LABEL) as backend:
        connected = api.connect_ml_backend(project_id, backend.url, title="stub")
        assert connected["state"] == "CO", connected  # connected: /health and /setup answered
        setup = backend.calls("/setup")
        assert setup, backend.log()
        assert setup[0]["schema"].strip() == config.strip()  # Label Studio drops the final newline
        assert setup[0]["hostname"] == label_studio.url
        assert setup[0]["access_token"] == label_studio.token
        print(f"\n/setup body: {json.dumps(setup[0])}", file=sys.stderr)

        retrieved = api.retrieve_predictions(project_id, task_ids)
        assert retrieved["processed_items"] == len(tasks), retrieved
        predict = backend.calls("/predict")
        assert predict, backend.log()
        assert sorted(task["id"] for call in predict for task in call["tasks"]) == task_ids
        batches = [len(call["tasks"]) for call in predict]
        first = dict(predict[0], tasks=predict[0]["tasks"][:1])
        print(
            f"/predict calls: {len(predict)}, tasks per call {batches}; first body, one task: {json.dumps(first)}",
            file=sys.stderr,
        )
        print(f"backend calls: {[path for _, path, _ in backend.requests]}", file=sys.stderr)

        for task in tasks:
            predictions = api.predictions(task["id"])
            assert len(predictions) == 1, predictions
            assert predictions[0]["model_version"] == "stub"
            (region,) = predictions[0]["result"]
            np.testing.assert_array_equal(brush_mask(region), expected[original_name(task)])
            annotation = api.create_annotation(task["id"], predictions[0]["result"])
            assert annotation["result"] == predictions[0]["result"]

    export = tmp_path / "export.json"
    exported = api.export_json(project_id, export)
    assert json.loads(export.read_text()) == exported
    assert sorted(task["id"] for task in exported) == task_ids
    for task in exported:
        (annotation,) = task["annotations"]
        (region,) = annotation["result"]
        assert region["from_name"] == "tag" and region["to_name"] == "image"
        assert region["value"]["brushlabels"] == [LABEL]
        np.testing.assert_array_equal(brush_mask(region), expected[original_name(task)])


@pytest.mark.slow
def test_loop_with_refineseg_backend(label_studio, api, tmp_path):
    # the stub test's loop with the real backend, then two cross-checks: the predictions are
    # `refineseg predict`'s labels pixel for pixel, and the export imports back to the same labels
    import refineseg

    from .fixtures import CLASS_NAMES, sample_image, tiny_model

    weights = refineseg.save_model(tiny_model(), tmp_path / "tiny.safetensors")
    images = {name: np.asarray(sample_image(w, h)) for name, (w, h) in SIZES.items()}
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    for name, rgb in images.items():
        (image_dir / name).write_bytes(png(rgb))

    config = refineseg_label_config(weights)  # `refineseg label-studio config --weights W`
    project_id = api.create_project("refineseg e2e", config)["id"]
    tasks = upload_images(api, project_id, images)
    task_ids = [task["id"] for task in tasks]

    with refineseg_ml_backend(weights, label_studio, tmp_path / "backend.log") as backend:
        try:
            connected = api.connect_ml_backend(project_id, backend.url, title="refineseg")
            assert connected["state"] == "CO", connected
            retrieved = api.retrieve_predictions(project_id, task_ids)
            assert retrieved["processed_items"] == len(tasks), retrieved
            predictions = {task["id"]: api.predictions(task["id"]) for task in tasks}
            timing = [line for line in backend.log().splitlines() if "predicted 3 of 3 tasks" in line]
            assert timing, backend.log()
            print(f"\nrefineseg backend, Label Studio {label_studio.version}: {timing[-1].strip()}", file=sys.stderr)
        except Exception:
            print(f"\n--- the backend's log ---\n{backend.log()}", file=sys.stderr)
            raise
    for task in tasks:
        assert predictions[task["id"]], f"no prediction for {original_name(task)}"
        api.create_annotation(task["id"], predictions[task["id"]][0]["result"])
    export = tmp_path / "export.json"
    api.export_json(project_id, export)

    # the predictions are `refineseg predict`'s labels, pixel for pixel (every pixel painted: no background class)
    predicted = tmp_path / "predicted"
    run_refineseg("predict", str(image_dir), "--weights", str(weights), "--output", str(predicted), "--no-progress")
    for task in tasks:
        name = original_name(task)
        labels = np.asarray(Image.open(predicted / name))  # NAME.png: pixel value = class index
        regions = predictions[task["id"]][0]["result"]
        painted = np.full(labels.shape, -1)
        for region in regions:  # brush only: the config has no <PolygonLabels>
            (class_name,) = region["value"]["brushlabels"]
            painted[brush_mask(region)] = CLASS_NAMES.index(class_name)
        np.testing.assert_array_equal(painted, labels, err_msg=name)

    # the export imports back to the same labels (--classes: the model's class order, so indices match)
    classes = tmp_path / "classes.txt"
    classes.write_text("".join(f"{name}\n" for name in CLASS_NAMES))
    root = tmp_path / "dataset"
    run_refineseg(
        "import-annotations",
        "label-studio",
        str(export),
        "--images",
        str(image_dir),
        "--output",
        str(root),
        "--classes",
        str(classes),
        "--strict",
    )
    for task in tasks:
        name = original_name(task)
        mask = np.asarray(Image.open(root / "train" / "masks" / name))
        np.testing.assert_array_equal(mask, np.asarray(Image.open(predicted / name)), err_msg=name)


def run_refineseg(*args: str, status: int = 0) -> subprocess.CompletedProcess:
    from .labelstudio_server import REFINESEG

    done = subprocess.run([str(REFINESEG), *args], capture_output=True, text=True, env=offline_env(), timeout=600)
    assert done.returncode == status, (
        f"refineseg {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


@pytest.mark.slow
def test_bad_inputs_are_refused_with_a_real_label_studio(label_studio, api, tmp_path):
    import refineseg

    from .fixtures import CLASS_NAMES, sample_image, tiny_model
    from .labelstudio_server import LabelStudioError

    weights = refineseg.save_model(tiny_model(), tmp_path / "tiny.safetensors")
    # a project whose labels lack the model's classes: Label Studio cannot connect the backend, and says why
    wrong = api.create_project("wrong labels", label_config(["background", "cat"], [(0, 0, 0), (1, 2, 3)]))["id"]
    good = api.create_project("refineseg e2e, bad inputs", refineseg_label_config(weights))["id"]
    upload_images(
        api, good, {"fine.png": np.asarray(sample_image(40, 30)), "huge.png": np.asarray(sample_image(120, 90))}
    )
    api.import_tasks(good, [{"image": "http://elsewhere.example/street.png"}])
    by_name = {original_name(t) if t.get("file_upload") else "elsewhere": t for t in api.tasks(good)}
    assert set(by_name) == {"fine.png", "huge.png", "elsewhere"}, by_name

    # --max-pixels 5000: 40x30 passes, 120x90 does not
    with refineseg_ml_backend(weights, label_studio, tmp_path / "backend.log", "--max-pixels", "5000") as backend:
        with pytest.raises(LabelStudioError) as refused:
            api.connect_ml_backend(wrong, backend.url, title="refineseg")
        # Label Studio refuses it and points at the backend's console, which names both lists
        assert "/setup" in str(refused.value), str(refused.value)
        assert "refused: the project's labels do not include the model's classes" in backend.log(), backend.log()
        assert "[sky, road, car]" in backend.log() and "[cat]" in backend.log(), backend.log()
        assert api.connect_ml_backend(good, backend.url, title="refineseg")["state"] == "CO"
        api.retrieve_predictions(good, sorted(t["id"] for t in by_name.values()))
        log = backend.log()
    assert api.predictions(by_name["fine.png"]["id"]), log
    for name in ("huge.png", "elsewhere"):
        assert not any(p["result"] for p in api.predictions(by_name[name]["id"])), name
    assert f"task {by_name['elsewhere']['id']}: http://elsewhere.example/street.png: not on Label Studio" in log, log
    assert (
        f"task {by_name['huge.png']['id']}: the image has 120x90 = 10,800 pixels, more than the limit of 5,000" in log
    ), log

    # an export with a malformed brush RLE: one problem naming the task; --strict writes nothing
    fine = by_name["fine.png"]
    api.create_annotation(fine["id"], api.predictions(fine["id"])[0]["result"])
    export = tmp_path / "export.json"
    exported = api.export_json(good, export)
    labelled = [task for task in exported if task["annotations"]]
    assert [task["id"] for task in labelled] == [fine["id"]]
    region = labelled[0]["annotations"][0]["result"][0]
    region["value"]["rle"] = region["value"]["rle"][: len(region["value"]["rle"]) // 2]
    export.write_text(json.dumps(labelled))
    images = tmp_path / "images"
    images.mkdir()
    (images / "fine.png").write_bytes(png(np.asarray(sample_image(40, 30))))
    classes = tmp_path / "classes.txt"
    classes.write_text("".join(f"{name}\n" for name in CLASS_NAMES))
    common = ["import-annotations", "label-studio", str(export), "--images", str(images), "--classes", str(classes)]
    done = run_refineseg(*common, "--output", str(tmp_path / "strict"), "--strict", status=1)
    assert f"task {fine['id']}" in done.stderr + done.stdout and "malformed brush RLE" in done.stderr + done.stdout
    assert not (tmp_path / "strict").exists() or not any((tmp_path / "strict").iterdir())
