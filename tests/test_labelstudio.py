"""Label Studio support: its brush RLE and configs (refineseg.labelstudio) and the ML backend.

The backend runs in-process (FastAPI's TestClient) against a stand-in for Label Studio: a
loopback HTTP server that serves task images only with the right API key. The slow tier's
tests/test_labelstudio_e2e.py runs the same loop against a real Label Studio.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

import refineseg
from refineseg.cli import main
from refineseg.labelstudio import (
    LabelConfigError,
    RLEError,
    decode_mask,
    encode_mask,
    label_config,
    match_classes,
    parse_config,
)

pytest.importorskip("label_studio_sdk", reason="the [labelstudio] extra is not installed")
pytest.importorskip("fastapi", reason="the [serve] extra is not installed")

from fastapi.testclient import TestClient

from refineseg.serve.labelstudio import ImageSource, LabelStudioBackend, create_backend_app, model_version

from .fixtures import png_bytes, sample_image, tiny_model

TOKEN = "secret-token"
# a 3x4 mask with pixels (1, 1) and (1, 2) set, as label-studio-sdk 2.1's mask2rle encodes it
GOLDEN_MASK_RLE = [0, 0, 0, 48, 57, 27, 254, 19, 0, 159, 255, 9, 128, 0]


# -- RLE ---------------------------------------------------------------------------------------


def test_rle_matches_the_sdk_golden_vector_both_ways():
    mask = np.zeros((3, 4), bool)
    mask[1, 1:3] = True
    assert encode_mask(mask) == GOLDEN_MASK_RLE
    assert (decode_mask(GOLDEN_MASK_RLE, 4, 3) == mask).all()


@pytest.mark.parametrize(
    "shape, kind", [((1, 1), "ones"), ((7, 5), "zeros"), ((33, 17), "random"), ((300, 301), "blobs")]
)
def test_rle_round_trips(shape, kind):
    rng = np.random.default_rng(0)
    mask = {
        "ones": np.ones(shape, bool),
        "zeros": np.zeros(shape, bool),
        "random": rng.random(shape) < 0.5,
        "blobs": np.kron(rng.random((10, 10)) < 0.5, np.ones((31, 31), bool))[: shape[0], : shape[1]],
    }[kind]
    rle = encode_mask(mask)
    assert all(isinstance(v, int) for v in rle)
    assert (decode_mask(rle, shape[1], shape[0]) == mask).all()


def test_rle_of_a_run_longer_than_the_longest_chunk():
    mask = np.ones((300, 300), bool)  # 360,000 equal values: runs of 65,536 at most per chunk
    assert decode_mask(encode_mask(mask), 300, 300).all()


@pytest.mark.parametrize(
    "rle, match",
    [
        (GOLDEN_MASK_RLE[:-4], "cannot be decoded"),
        ([0, 0, 0, 49, *GOLDEN_MASK_RLE[4:]], "holds 49 values, expected 48"),
        ([255, 255, 255, 255, *GOLDEN_MASK_RLE[4:]], "holds 4294967295 values"),
        ([*GOLDEN_MASK_RLE, 256], "0 to 255"),
        ([*GOLDEN_MASK_RLE[:-1], 1.5], "0 to 255"),
        ("AAAAMDkb", "list of byte values"),
        ([], "list of byte values"),
        ([0, 0, 0], "too short"),
    ],
)
def test_malformed_rle_is_one_clear_error(rle, match):
    with pytest.raises(RLEError, match=match) as info:
        decode_mask(rle, 4, 3)
    assert "\n" not in str(info.value)


def test_rle_size_is_checked_before_decoding():
    with pytest.raises(RLEError, match="above the limit"):
        decode_mask(GOLDEN_MASK_RLE, 4, 3, max_pixels=11)
    with pytest.raises(RLEError, match="positive"):
        decode_mask(GOLDEN_MASK_RLE, 0, 3)
    with pytest.raises(RLEError, match="whole numbers"):
        decode_mask(GOLDEN_MASK_RLE, 4.0, 3)  # type: ignore[arg-type]


# -- configs -----------------------------------------------------------------------------------


def test_suggested_config_round_trips_and_leaves_background_out():
    xml = label_config(
        ["background", "road", 'a "quoted" & <odd> name'], [(0, 0, 0), (128, 64, 128), (1, 2, 3)], polygons=True
    )
    config = parse_config(xml)
    assert config.image_key == "image" and config.image_name == "image"
    assert config.brush_name == "tag" and config.brush_labels == ("road", 'a "quoted" & <odd> name')
    assert config.polygon_name == "poly" and config.polygon_labels == config.brush_labels
    assert 'background="#804080"' in xml


def test_parse_config_reads_another_projects_names():
    xml = """<View><Header value="x"/><Image name="photo" value="$img_url"/>
      <PolygonLabels name="outline" toName="photo"><Label value="car" alias="c"/></PolygonLabels></View>"""
    config = parse_config(xml)
    assert (config.image_name, config.image_key, config.brush_name) == ("photo", "img_url", None)
    assert (config.polygon_name, config.polygon_labels) == ("outline", ("car",))


@pytest.mark.parametrize(
    "xml, match",
    [
        ("<View><Image", "not valid XML"),
        ("<View><Text name='t' value='$text'/></View>", "no <Image"),
        ("<View><Image name='i' value='$image'/><Choices name='c' toName='i'/></View>", "no <BrushLabels>"),
        ("<View><Image name='i' value='$image'/><BrushLabels name='b' toName='other'/></View>", "no <BrushLabels>"),
    ],
)
def test_unusable_configs_are_one_clear_error(xml, match):
    with pytest.raises(LabelConfigError, match=match):
        parse_config(xml)


def test_match_classes_names_both_lists_when_a_class_is_missing():
    assert match_classes(["background", "road", "car"], ["car", "road", "tree"]) == {1: "road", 2: "car"}
    with pytest.raises(LabelConfigError) as info:
        match_classes(["background", "road", "car"], ["Road", "car"])
    message = str(info.value)
    assert "classes road:" in message and "[background, road, car]" in message and "[Road, car]" in message


# -- the backend -------------------------------------------------------------------------------


class _LabelStudio(http.server.BaseHTTPRequestHandler):
    """Serves ``images`` (path -> bytes) to requests with the key; the PAT exchange; records requests."""

    images: ClassVar[dict[str, bytes]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") not in (f"Token {TOKEN}", "Bearer access-1"):
            return self._answer(401, b"{}")
        data = self.images.get(self.path)
        self._answer(200 if data is not None else 404, data or b"not found")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.path == "/api/token/refresh/" and body == {"refresh": PAT}
        self._answer(200 if ok else 401, json.dumps({"access": "access-1"}).encode())

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


PAT = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"  # the shape of a personal access token


@pytest.fixture(scope="module")
def label_studio() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LabelStudio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def segmenter() -> refineseg.Segmenter:
    return refineseg.Segmenter(tiny_model())


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    found = {
        "/data/upload/1/1a2b3c4d-street.png": sample_image(),
        "/data/upload/1/5e6f7a8b-small.png": sample_image(40, 24),
        "/data/local-files/?d=photos/x.png": sample_image(24, 40),
    }
    _LabelStudio.images = {path: png_bytes(im) for path, im in found.items()}
    return found


def _client(segmenter, url, key=TOKEN, **options) -> TestClient:
    source = ImageSource(
        url, key, max_bytes=options.pop("max_bytes", 10**7), local_files_root=options.pop("root", None)
    )
    backend = LabelStudioBackend(segmenter, source, version="refineseg-test-1", **options)
    return TestClient(create_backend_app(backend, quiet=True, allowed_hosts=["testserver"]))


def _config(segmenter, polygons=False) -> str:
    return label_config(segmenter.class_names, segmenter.palette, polygons=polygons)


def _tasks(*references: str) -> list[dict]:
    return [{"id": i + 1, "data": {"image": r}, "annotations": [], "predictions": []} for i, r in enumerate(references)]


def _masks(result: list[dict], segmenter) -> dict[int, np.ndarray]:
    found = {}
    for region in result:
        assert region["type"] == "brushlabels" and region["from_name"] == "tag" and region["to_name"] == "image"
        (label,) = region["value"]["brushlabels"]
        found[segmenter.class_names.index(label)] = decode_mask(
            region["value"]["rle"], region["original_width"], region["original_height"]
        )
    return found


def test_health_and_setup(segmenter, label_studio):
    client = _client(segmenter, label_studio)
    health = client.get("/health").json()
    assert health["status"] == "UP" and health["model_version"] == "refineseg-test-1"
    answer = client.post(
        "/setup", json={"project": "3.1700000000", "schema": _config(segmenter), "hostname": "http://x"}
    )
    assert answer.status_code == 200 and answer.json() == {"model_version": "refineseg-test-1"}
    assert client.post("/webhook", json={"action": "ANNOTATION_CREATED"}).status_code == 200


def test_predictions_are_the_labels_predict_gives_pixel_for_pixel(segmenter, label_studio, images):
    client = _client(segmenter, label_studio)
    paths = ["/data/upload/1/1a2b3c4d-street.png", "/data/upload/1/5e6f7a8b-small.png"]
    answer = client.post(
        "/predict", json={"tasks": _tasks(*paths), "label_config": _config(segmenter), "project": "3.1"}
    )
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert len(results) == 2
    for path, result in zip(paths, results, strict=True):
        labels = segmenter(images[path])
        masks = _masks(result["result"], segmenter)
        assert set(masks) == set(np.unique(labels).tolist())
        for index, mask in masks.items():
            assert (mask == (labels == index)).all()
        probabilities = segmenter.probabilities(images[path])
        entropy = -(probabilities * np.log(np.clip(probabilities, 1e-12, None))).sum(0) / np.log(len(probabilities))
        assert result["score"] == pytest.approx(1 - entropy.mean(), abs=1e-4)
        assert result["model_version"] == "refineseg-test-1"
        assert all(0 <= r["score"] <= 1 for r in result["result"])


def test_the_config_sent_at_setup_serves_predictions_without_one(segmenter, label_studio, images):
    client = _client(segmenter, label_studio)
    client.post("/setup", json={"project": "9.9", "schema": _config(segmenter)})
    answer = client.post("/predict", json={"tasks": _tasks("/data/upload/1/5e6f7a8b-small.png"), "project": "9.9"})
    assert answer.status_code == 200 and answer.json()["results"][0]["result"]
    assert client.post("/predict", json={"tasks": [], "project": "8.8"}).status_code == 400


def test_a_project_without_the_models_classes_is_refused_with_both_lists(segmenter, label_studio):
    client = _client(segmenter, label_studio)
    xml = "<View><Image name='i' value='$image'/><BrushLabels name='t' toName='i'><Label value='cat'/></BrushLabels></View>"
    for answer in (
        client.post("/setup", json={"project": "1.1", "schema": xml}),
        client.post("/predict", json={"tasks": _tasks("/data/upload/1/5e6f7a8b-small.png"), "label_config": xml}),
    ):
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert "[sky, road, car]" in error and "[cat]" in error


@pytest.mark.parametrize(
    "reference, status, match",
    [
        ("http://elsewhere.example/a.png", 403, "not on Label Studio"),
        ("s3://bucket/a.png", 403, "s3:// images are not fetched"),
        ("/data/upload/1/missing.png", 502, "answered 404"),
    ],
)
def test_images_from_elsewhere_are_refused(segmenter, label_studio, images, reference, status, match):
    client = _client(segmenter, label_studio)
    seen = len(_LabelStudio.seen)
    answer = client.post("/predict", json={"tasks": _tasks(reference), "label_config": _config(segmenter)})
    assert answer.status_code == status and match in answer.json()["error"] and "task 1" in answer.json()["error"]
    if reference.startswith(("http://elsewhere", "s3")):
        assert len(_LabelStudio.seen) == seen  # nothing was fetched


def test_one_refused_task_leaves_the_others_predicted(segmenter, label_studio, images):
    client = _client(segmenter, label_studio)
    tasks = _tasks("/data/upload/1/5e6f7a8b-small.png", "http://elsewhere.example/a.png")
    results = client.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)}).json()["results"]
    assert len(results) == 2 and results[0]["result"] and results[1]["result"] == [] and "score" not in results[1]


def test_an_absolute_url_on_label_studio_itself_is_fetched(segmenter, label_studio, images):
    client = _client(segmenter, label_studio)
    tasks = _tasks(label_studio + "/data/upload/1/5e6f7a8b-small.png")
    assert client.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)}).json()["results"][0][
        "result"
    ]


def test_oversized_images_are_refused(segmenter, label_studio, images):
    tasks = _tasks("/data/upload/1/1a2b3c4d-street.png")
    small_files = _client(segmenter, label_studio, max_bytes=100)
    answer = small_files.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)})
    assert answer.status_code == 413 and "limit of 100" in answer.json()["error"]
    few_pixels = _client(segmenter, label_studio, max_pixels=100)
    answer = few_pixels.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)})
    assert answer.status_code == 413 and "pixels" in answer.json()["error"]


def test_a_wrong_key_is_reported(segmenter, label_studio, images):
    client = _client(segmenter, label_studio, key="wrong")
    answer = client.post(
        "/predict", json={"tasks": _tasks("/data/upload/1/5e6f7a8b-small.png"), "label_config": _config(segmenter)}
    )
    assert answer.status_code == 502 and "answered 401" in answer.json()["error"]


def test_a_personal_access_token_is_exchanged_for_a_bearer_token(segmenter, label_studio, images):
    client = _client(segmenter, label_studio, key=PAT)
    answer = client.post(
        "/predict", json={"tasks": _tasks("/data/upload/1/5e6f7a8b-small.png"), "label_config": _config(segmenter)}
    )
    assert answer.status_code == 200 and _LabelStudio.seen[-1][1] == "Bearer access-1"


def test_local_files_are_read_from_the_root_and_never_outside_it(segmenter, label_studio, images, tmp_path):
    (tmp_path / "root" / "photos").mkdir(parents=True)
    images["/data/local-files/?d=photos/x.png"].save(tmp_path / "root" / "photos" / "x.png")
    (tmp_path / "secret.png").write_bytes(png_bytes(sample_image()))
    client = _client(segmenter, None, root=tmp_path / "root")
    config = _config(segmenter)
    good = client.post("/predict", json={"tasks": _tasks("/data/local-files/?d=photos/x.png"), "label_config": config})
    masks = _masks(good.json()["results"][0]["result"], segmenter)
    labels = segmenter(images["/data/local-files/?d=photos/x.png"])
    assert all((mask == (labels == i)).all() for i, mask in masks.items())
    escape = client.post(
        "/predict", json={"tasks": _tasks("/data/local-files/?d=../secret.png"), "label_config": config}
    )
    assert escape.status_code == 403 and "not a file under the local files root" in escape.json()["error"]


def test_polygon_projects_get_polygons_in_percent(segmenter, label_studio, images):
    xml = (
        _config(segmenter, polygons=True).replace("BrushLabels", "PolygonLabels").replace('name="tag"', 'name="shapes"')
    )
    xml = xml[: xml.index('  <PolygonLabels name="poly"')] + "</View>\n"
    client = _client(segmenter, label_studio)
    answer = client.post("/predict", json={"tasks": _tasks("/data/upload/1/1a2b3c4d-street.png"), "label_config": xml})
    regions = answer.json()["results"][0]["result"]
    assert regions and all(r["type"] == "polygonlabels" and r["from_name"] == "shapes" for r in regions)
    for region in regions:
        points = np.array(region["value"]["points"])
        assert points.shape[1] == 2 and len(points) >= 3 and (points >= 0).all() and (points <= 100).all()


def test_model_version_follows_the_weights_bytes(segmenter, tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    refineseg.save_model(tiny_model(), a)
    other = tiny_model()
    next(other.parameters()).data += 1
    refineseg.save_model(other, b)
    assert model_version(segmenter, str(a)) == model_version(segmenter, str(a))
    assert model_version(segmenter, str(a)) != model_version(segmenter, str(b))
    assert model_version(segmenter, str(a)).startswith("refineseg-")


# -- the command line --------------------------------------------------------------------------


def test_cli_config_prints_the_models_classes(tmp_path, capsys):
    weights = tmp_path / "m.safetensors"
    refineseg.save_model(tiny_model(), weights)
    assert main(["label-studio", "config", "--weights", str(weights)]) == 0
    config = parse_config(capsys.readouterr().out)
    assert config.brush_labels == ("sky", "road", "car")


def test_cli_backend_needs_label_studios_address(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    assert main(["label-studio-backend", "--weights", "camvid"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--label-studio-url" in err
    assert main(["label-studio-backend", "--label-studio-url", "ftp://x"]) == 1
    assert "http(s) address" in capsys.readouterr().err


def test_encoded_rle_is_plain_json():
    rle = encode_mask(np.eye(5, dtype=bool))
    assert json.loads(json.dumps(rle)) == rle


def test_words_wider_than_a_byte_are_a_clear_error():
    # a valid header for 4x3, then a run chunk whose 9-bit word holds 300 (the SDK's numpy refuses it)
    bits = (
        format(48, "032b")
        + format(8, "05b")
        + format(3, "04b") * 4
        + "1"
        + "00"
        + format(15, "04b")
        + format(300, "09b")
    )
    bits += "0" * (-len(bits) % 8)
    with pytest.raises(RLEError, match="cannot be decoded"):
        decode_mask([int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)], 4, 3)


@pytest.mark.parametrize(
    "reference",
    ["http://localhost:8080.evil.com/x", "http://localhost:99999/x", "http://127.0.0.1:abc/x", "http://[::1/x"],
)
def test_malformed_urls_are_refused_without_losing_the_other_tasks(segmenter, label_studio, images, reference):
    client = _client(segmenter, label_studio)
    tasks = _tasks(reference, "/data/upload/1/5e6f7a8b-small.png")
    answer = client.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results[0]["result"] == [] and results[1]["result"]


@pytest.mark.parametrize(
    "reference",
    [
        "/api/projects/1/export?exportType=JSON",
        "/user/account",
        "/data/../api/x",
        "/data/upload/../../api/x",
        "/data/upload/%2e%2e/%2E%2E/api/x",
    ],
)
def test_only_label_studios_file_paths_are_fetched(segmenter, label_studio, images, reference):
    client = _client(segmenter, label_studio)
    seen = len(_LabelStudio.seen)
    answer = client.post("/predict", json={"tasks": _tasks(reference), "label_config": _config(segmenter)})
    assert answer.status_code == 403 and "not a Label Studio file URL" in answer.json()["error"]
    assert len(_LabelStudio.seen) == seen


def test_local_files_are_regular_files_read_once_decoded(segmenter, label_studio, images, tmp_path):
    import os

    root = tmp_path / "root"
    root.mkdir()
    images["/data/local-files/?d=photos/x.png"].save(root / "a%41.png")  # Label Studio writes d=quote(path)
    os.mkfifo(root / "pipe.png")
    client = _client(segmenter, None, root=root)
    config = _config(segmenter)

    def status(reference: str) -> tuple[int, str]:
        answer = client.post("/predict", json={"tasks": _tasks(reference), "label_config": config})
        return answer.status_code, answer.text

    assert status("/data/local-files/?d=a%2541.png")[0] == 200
    assert status("/data/local-files/?d=pipe.png") == (403, status("/data/local-files/?d=pipe.png")[1])
    assert "not a regular file" in status("/data/local-files/?d=pipe.png")[1]
    assert status("/data/local-files/?d=a%00b.png")[0] == 400


def test_a_token_exchange_answered_with_html_is_a_clear_error(segmenter, images):
    class Html(_LabelStudio):
        def do_POST(self) -> None:
            self._answer(200, b"<html>log in</html>")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = _client(segmenter, f"http://127.0.0.1:{server.server_address[1]}", key=PAT)
        tasks = _tasks("/data/upload/1/5e6f7a8b-small.png")
        answer = client.post("/predict", json={"tasks": tasks, "label_config": _config(segmenter)})
        assert answer.status_code == 502 and "refused the personal access token" in answer.json()["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_configs_are_read_as_label_studio_reads_them():
    lower = (
        "<View><image name='i' value='$img'/><brushlabels name='b' toName='i'><label value='car'/></brushlabels></View>"
    )
    assert parse_config(lower).brush_labels == ("car",)
    two = """<View><Image name="a" value="$first"/><Image name="b" value="$second"/>
      <BrushLabels name="t" toName="b"><Label value="car"/></BrushLabels></View>"""
    config = parse_config(two)
    assert (config.image_name, config.image_key) == ("b", "second")
    bitmask = "<View><Image name='i' value='$image'/><BitmaskLabels name='m' toName='i'><Label value='car'/></BitmaskLabels></View>"
    with pytest.raises(LabelConfigError, match="BitmaskLabels"):
        parse_config(bitmask)


def test_setup_keeps_a_bounded_number_of_configs(segmenter, label_studio):
    from refineseg.serve.labelstudio.app import MAX_PROJECTS

    source = ImageSource(label_studio, TOKEN, max_bytes=10**6)
    backend = LabelStudioBackend(segmenter, source, version="v")
    for i in range(MAX_PROJECTS + 5):
        backend.remember_config(f"{i}.1", "<View/>")
    assert (
        len(backend.configs) == MAX_PROJECTS
        and "4.1" not in backend.configs
        and f"{MAX_PROJECTS + 4}.1" in backend.configs
    )
