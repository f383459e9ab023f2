"""The Hugging Face Hub, all offline: ``hf://`` weights from a hand-built Hub cache (offline mode,
an unreachable endpoint) and from a fake Hub on 127.0.0.1, ``push_to_hub`` and ``push-to-hub``
against that fake, and the model card."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg.models
from refineseg._extras import install_hint
from refineseg.cli import main
from refineseg.inference import Segmenter
from refineseg.weights import WeightsError, read_weights
from refineseg.weights.hub import hub_weights_path, parse_hub_spec
from refineseg.weights.model_card import card_metadata, check_card, count_parameters, model_card, read_evaluation
from refineseg.weights.publish import prepare_upload, push_to_hub

from .test_startup import _imported

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import ModelCard  # noqa: E402

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there
CLASSES = ["sky", "road", "car"]


# ---------------------------------------------------------------------------------------------
# models, images, the Hub's cache


def _tiny_model(seed: int):
    torch.manual_seed(seed)
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3).eval()
    model.meta.class_names = list(CLASSES)
    model.meta.palette = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    return refineseg.save_model(
        _tiny_model(0),
        folder / "tiny.safetensors",
        provenance={"recipe": {"dataset": "camvid", "root": "/home/me/data"}},
    )


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory) -> Path:
    return refineseg.save_model(_tiny_model(1), tmp_path_factory.mktemp("weights") / "other.safetensors")


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "street.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(path)
    return path


def _commit(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _fill_cache(cache: Path, repo_id: str, weights: Path, *, revision: str = "main", commit: str | None = None) -> str:
    """The Hub cache's layout, by hand: refs/REVISION holds the commit, snapshots/COMMIT the file."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    commit = commit or _commit(f"{repo_id}@{revision}")
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    shutil.copyfile(weights, snapshot / "model.safetensors")
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / revision).write_text(commit)
    return commit


@pytest.fixture
def hub_cache(monkeypatch, tmp_path) -> Path:
    """A private, empty Hub cache; offline mode on and the endpoint unreachable, so nothing but the
    cache can answer. All through the environment, which refineseg reads at each download (not
    huggingface_hub's constants, read once at its import)."""
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    _offline(monkeypatch, True)
    _endpoint(monkeypatch, UNREACHABLE)
    # no login of this machine: HF_TOKEN comes before the token file, so that file is never read
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_not_a_login")
    return cache


def _offline(monkeypatch, offline: bool) -> None:
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")


def _endpoint(monkeypatch, url: str) -> None:
    monkeypatch.setenv("HF_ENDPOINT", url)


def _online(monkeypatch, url: str) -> None:
    _offline(monkeypatch, False)
    _endpoint(monkeypatch, url)


def _same_tensors(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# ---------------------------------------------------------------------------------------------
# hf:// from a pre-filled cache, offline


def test_hf_names_load_from_the_hub_cache_offline(hub_cache, weights, image, tmp_path, capsys):
    _fill_cache(hub_cache, "my-org/tiny", weights)
    local = refineseg.load_model(weights)

    path = hub_weights_path("hf://my-org/tiny")
    assert path.is_relative_to(hub_cache) and path.read_bytes() == weights.read_bytes()
    hub_model = refineseg.load_model("hf://my-org/tiny")
    assert hub_model.arch == local.arch and hub_model.meta.class_names == CLASSES
    assert _same_tensors(hub_model, local)
    assert read_weights("hf://my-org/tiny").arch == "lw_refinenet_mobilenet_v2"

    from_hub = Segmenter.from_pretrained("hf://my-org/tiny", precision="fp32", optimize=False)
    from_file = Segmenter.from_pretrained(weights, precision="fp32", optimize=False)
    assert from_hub.class_names == CLASSES
    assert np.array_equal(from_hub(image), from_file(image))

    for name, source in (("hub", "hf://my-org/tiny"), ("file", str(weights))):
        argv = ["predict", str(image), "--weights", source, "-o", str(tmp_path / name), "--precision", "fp32"]
        assert main([*argv, "--no-progress", "--no-overlay", "--no-optimize"]) == 0
    capsys.readouterr()
    assert (tmp_path / "hub" / "street.png").read_bytes() == (tmp_path / "file" / "street.png").read_bytes()


def test_a_revision_picks_its_snapshot(hub_cache, weights, other_weights):
    main_commit = _fill_cache(hub_cache, "my-org/tiny", weights)
    v2_commit = _fill_cache(hub_cache, "my-org/tiny", other_weights, revision="v2")
    expected = {"main": weights, "v2": other_weights}
    assert hub_weights_path("hf://my-org/tiny").read_bytes() == expected["main"].read_bytes()
    assert hub_weights_path("hf://my-org/tiny@v2").read_bytes() == expected["v2"].read_bytes()
    assert hub_weights_path(f"hf://my-org/tiny@{v2_commit}").parent.name == v2_commit
    assert hub_weights_path(f"hf://my-org/tiny@{main_commit}").parent.name == main_commit
    assert _same_tensors(refineseg.load_model("hf://my-org/tiny@v2"), refineseg.load_model(other_weights))
    with pytest.raises(FileNotFoundError, match=r"hf://my-org/tiny@v3: model.safetensors of my-org/tiny is not in"):
        hub_weights_path("hf://my-org/tiny@v3")


def test_a_repo_not_in_the_cache_is_a_one_line_error_naming_it(hub_cache, image, tmp_path, capsys):
    with pytest.raises(FileNotFoundError) as info:
        refineseg.load_model("hf://my-org/absent")
    message = str(info.value)
    assert "\n" not in message and "hf://my-org/absent" in message
    assert "HF_HUB_OFFLINE=1" in message and str(hub_cache) in message

    assert main(["predict", str(image), "--weights", "hf://my-org/absent", "-o", str(tmp_path / "out")]) == 1
    err = _one_line_error(capsys)
    assert err.startswith("refineseg predict: error: hf://my-org/absent:") and "not in the Hub cache" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "spec", ["hf://", "hf://tiny", "hf://a/b/c", "hf://org/name@", "hf://org/-bad", "hf://org/a--b", "hf://org/na me"]
)
def test_malformed_hf_names_say_what_is_expected(spec):
    with pytest.raises(ValueError, match=r"expected hf://ORG/NAME or hf://ORG/NAME@REVISION"):
        parse_hub_spec(spec)


def test_hf_specs_parse_with_revisions():
    assert parse_hub_spec("hf://org/name").repo_id == "org/name"
    assert parse_hub_spec("hf://org/name").revision is None
    spec = parse_hub_spec("hf://org/my.model_v2@refs/pr/3")
    assert (spec.repo_id, spec.revision, str(spec)) == (
        "org/my.model_v2",
        "refs/pr/3",
        "hf://org/my.model_v2@refs/pr/3",
    )


def test_hf_names_are_never_exported_files():
    from refineseg.inference.backends import default_backend, exported_format

    assert exported_format("hf://org/name") is None and default_backend("hf://org/name") == "pytorch"
    assert exported_format("hf://org/name@v1.0") is None


def test_without_huggingface_hub_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError) as info:
        refineseg.load_model("hf://org/name")
    assert str(info.value) == (
        f"hf://org/name: loading weights from the Hugging Face Hub needs huggingface_hub: {install_hint('hub')}"
    )


def test_help_imports_neither_torch_nor_huggingface_hub_and_loading_a_file_no_hub():
    loaded = _imported(
        "import contextlib, io\nfrom refineseg.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['push-to-hub', '--help'])"
    )
    assert "torch" not in loaded and "huggingface_hub" not in loaded
    loaded = _imported("import refineseg\nrefineseg.load_model('camvid')\nimport refineseg.weights.model_card")
    assert "refineseg.weights.hub" in loaded and "huggingface_hub" not in loaded


# ---------------------------------------------------------------------------------------------
# a fake Hub on 127.0.0.1: the routes create_repo, create_commit and hf_hub_download use


class FakeHub:
    """Just enough of the Hub's HTTP API, in memory; ``requests`` records every call."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.created: list[dict] = []
        self.commits: list[dict] = []
        self.repos: dict[str, dict[str, bytes]] = {}  # repo id -> files at main
        self.heads: dict[str, str] = {}  # repo id -> commit at main
        self.tokens: set[str] | None = None  # None: any token is accepted
        self.url = ""

    def files(self, repo_id: str) -> dict[str, bytes]:
        return self.repos[repo_id]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _reply(self, status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization")
            hub.requests.append((self.command, self.path, auth))
            if hub.tokens is not None and auth not in {f"Bearer {t}" for t in hub.tokens}:
                self._reply(401, {"error": "Invalid credentials in Authorization header"})
                return False
            return True

        def do_POST(self) -> None:
            if not self._authorised():
                return
            path = unquote(urlsplit(self.path).path)
            body = self._body()
            if path == "/api/repos/create":
                request = json.loads(body)
                hub.created.append(request)
                repo_id = f"{request['organization']}/{request['name']}"
                if repo_id in hub.repos:
                    return self._reply(409, {"error": "You already created this model repo"})
                hub.repos[repo_id] = {}
                return self._reply(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})
            if path == "/api/validate-yaml":
                return self._reply(200, {"errors": [], "warnings": []})
            parts = path.split("/")  # /api/models/ORG/NAME/(preupload|commit)/REV
            if len(parts) == 7 and parts[:3] == ["", "api", "models"] and parts[5] in ("preupload", "commit"):
                repo_id = f"{parts[3]}/{parts[4]}"
                if repo_id not in hub.repos:
                    return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                if parts[5] == "preupload":
                    files = json.loads(body)["files"]
                    answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
                    return self._reply(200, {"files": answer})
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(line["value"] for line in lines if line["key"] == "header")
                files = {}
                for line in lines:
                    if line["key"] != "file":  # an lfsFile line would mean an upload this fake does not serve
                        assert line["key"] == "header", f"unexpected commit line {line['key']}"
                        continue
                    assert line["value"]["encoding"] == "base64"
                    files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
                hub.repos[repo_id].update(files)
                oid = _commit(f"{repo_id}:{len(hub.commits)}")
                hub.heads[repo_id] = oid
                hub.commits.append({"repo_id": repo_id, "revision": parts[6], "header": header, "files": files})
                url = f"{hub.url}/{repo_id}/commit/{oid}"
                return self._reply(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})
            return self._reply(404, {"error": f"no route {path}"})

        def do_HEAD(self) -> None:
            self._resolve()

        def do_GET(self) -> None:
            self._resolve()

        def _resolve(self) -> None:  # /ORG/NAME/resolve/REV/FILE
            if not self._authorised():
                return
            parts = unquote(urlsplit(self.path).path).split("/")
            if len(parts) != 6 or parts[3] != "resolve":
                return self._reply(404, {"error": "no route"})
            repo_id, revision, filename = f"{parts[1]}/{parts[2]}", parts[4], parts[5]
            if repo_id not in hub.repos:
                return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            head = hub.heads.get(repo_id, _commit(repo_id))
            if revision not in ("main", head):
                return self._reply(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            data = hub.repos[repo_id].get(filename)
            if data is None:
                headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": head}
                return self._reply(404, {"error": "Entry not found"}, headers)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", head)
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)

    return Handler


@pytest.fixture
def fake_hub(monkeypatch, hub_cache):
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _online(monkeypatch, hub.url)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


def _metrics_file(path: Path, *, classes=CLASSES) -> Path:
    """A metrics JSON written by refineseg evaluate's own writer."""
    from refineseg.evaluation.evaluate import EvaluationResult, write_json
    from refineseg.evaluation.metrics import metrics_from_confusion

    confusion = torch.tensor([[50, 2, 0], [3, 80, 0], [0, 0, 0]])  # car neither in the masks nor predicted: IoU null
    settings = {"scales": [1.0], "flip": False, "crop_size": None, "precision": "fp32"}
    result = EvaluationResult(metrics_from_confusion(confusion), confusion, list(classes), 4, settings)
    write_json(result, path, weights="tiny.safetensors", dataset="camvid", split="val")
    return path


def test_push_to_hub_commits_the_weights_and_the_card_in_one_commit(fake_hub, weights, tmp_path):
    metrics = _metrics_file(tmp_path / "metrics.json")
    url = push_to_hub(weights, "my-org/tiny", evaluation=metrics, endpoint=fake_hub.url, token="fake", private=True)
    oid = fake_hub.heads["my-org/tiny"]
    assert url == f"{fake_hub.url}/my-org/tiny/commit/{oid}"
    [created] = fake_hub.created
    assert (created["organization"], created["name"]) == ("my-org", "tiny")
    assert created.get("visibility") == "private" or created.get("private") is True  # huggingface_hub 2.x or 0.x
    [commit] = fake_hub.commits
    assert commit["header"]["summary"] == "Upload refineseg lw_refinenet_mobilenet_v2 weights"
    assert set(commit["files"]) == {"model.safetensors", "README.md"}
    assert commit["files"]["model.safetensors"] == weights.read_bytes()
    card = commit["files"]["README.md"].decode()
    assert card.startswith("---\nlibrary_name: refineseg\npipeline_tag: image-segmentation\n")
    assert all(f"| {i} | {name} |" in card for i, name in enumerate(CLASSES))
    assert "mean_iou" in card and "hf://my-org/tiny" in card
    assert {auth for _, _, auth in fake_hub.requests} == {"Bearer fake"}
    routes = {(method, path.split("?")[0]) for method, path, _ in fake_hub.requests}
    assert routes == {
        ("POST", "/api/repos/create"),
        ("POST", "/api/validate-yaml"),
        ("POST", "/api/models/my-org/tiny/preupload/main"),
        ("POST", "/api/models/my-org/tiny/commit/main"),
    }


def test_a_pushed_model_downloads_then_loads_offline_from_the_cache(fake_hub, weights, monkeypatch):
    push_to_hub(weights, "my-org/tiny", endpoint=fake_hub.url, token="fake")
    local = refineseg.load_model(weights)
    assert _same_tensors(refineseg.load_model("hf://my-org/tiny"), local)  # downloaded from the fake
    assert any(method == "GET" for method, _, _ in fake_hub.requests)

    fake_hub.repos.clear()  # the Hub forgets it: only the cache has it now
    _offline(monkeypatch, True)
    _endpoint(monkeypatch, UNREACHABLE)
    assert _same_tensors(refineseg.load_model("hf://my-org/tiny"), local)
    _offline(monkeypatch, False)  # online and unreachable: the cache answers too
    assert _same_tensors(refineseg.load_model("hf://my-org/tiny"), local)


def test_hub_errors_are_one_line_and_say_what_to_do(fake_hub, weights):
    fake_hub.repos["my-org/card-only"] = {"README.md": b"# nothing\n"}
    cases = {
        "hf://my-org/absent": "no model repository my-org/absent on the Hugging Face Hub",
        "hf://my-org/card-only": "the repository my-org/card-only has no model.safetensors",
        "hf://my-org/card-only@nosuch": "the repository my-org/card-only has no revision 'nosuch'",
    }
    for spec, message in cases.items():
        with pytest.raises(FileNotFoundError) as info:
            refineseg.load_model(spec)
        assert str(info.value).startswith(f"{spec}: {message}") and "\n" not in str(info.value)


def test_push_errors_are_one_line(fake_hub, weights, capsys):
    fake_hub.tokens = {"right"}
    with pytest.raises(
        OSError, match=r"^my-org/tiny: the Hub at http://127.0.0.1:\d+ refused the upload \(401\): log in"
    ):
        push_to_hub(weights, "my-org/tiny", endpoint=fake_hub.url, token="wrong")
    with pytest.raises(OSError, match=r"^my-org/tiny: cannot reach the Hub at http://127.0.0.1:9"):
        push_to_hub(weights, "my-org/tiny", endpoint=UNREACHABLE, token="right")
    with pytest.raises(ValueError, match="expected a Hugging Face Hub repository ORG/NAME"):
        push_to_hub(weights, "tiny", endpoint=fake_hub.url, token="right")
    with pytest.raises(WeightsError, match="no such weights file"):
        push_to_hub(weights.with_name("absent.safetensors"), "my-org/tiny", endpoint=fake_hub.url, token="right")
    assert fake_hub.commits == []

    argv = ["push-to-hub", str(weights), "my-org/tiny", "--endpoint", fake_hub.url, "--token", "wrong"]
    assert main(argv) == 1
    assert _one_line_error(capsys).startswith("refineseg push-to-hub: error: my-org/tiny: the Hub at")


def test_push_to_hub_command(fake_hub, weights, tmp_path, capsys):
    metrics = _metrics_file(tmp_path / "metrics.json")
    argv = ["push-to-hub", str(weights), "my-org/tiny", "--metrics", str(metrics), "--license", "mit"]
    argv += ["--endpoint", fake_hub.url, "--token", "fake", "--message", "first weights"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{fake_hub.url}/my-org/tiny/commit/" in out and "hf://my-org/tiny" in out
    [commit] = fake_hub.commits
    assert commit["header"]["summary"] == "first weights"
    assert "license: mit" in commit["files"]["README.md"].decode()


def test_dry_run_prints_the_card_without_the_network(hub_cache, weights, tmp_path, capsys):
    # hub_cache: offline mode on and the endpoint unreachable
    assert main(["push-to-hub", str(weights), "my-org/tiny", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model.safetensors" in out and "README.md" in out
    assert "library_name: refineseg" in out and "| 1 | road |" in out

    folder = tmp_path / "repo"
    assert main(["push-to-hub", str(weights), "my-org/tiny", "--dry-run", "--output", str(folder)]) == 0
    assert (folder / "model.safetensors").read_bytes() == weights.read_bytes()
    assert ModelCard((folder / "README.md").read_text()).data.library_name == "refineseg"

    assert main(["push-to-hub", str(weights), "my-org/tiny", "--output", str(folder)]) == 1
    assert "--output applies with --dry-run only" in _one_line_error(capsys)
    assert (
        main(["push-to-hub", str(weights), "my-org/tiny", "--metrics", str(tmp_path / "none.json"), "--dry-run"]) == 1
    )
    assert "none.json: no such metrics file" in _one_line_error(capsys)


# ---------------------------------------------------------------------------------------------
# the model card


def test_the_card_front_matter_parses_as_a_hub_model_card(weights, tmp_path):
    file = read_weights(weights)
    text = model_card(file, "my-org/tiny", evaluation=read_evaluation(_metrics_file(tmp_path / "m.json")))
    check_card(text)
    card = ModelCard(text)
    data = card.data
    assert data.library_name == "refineseg" and data.pipeline_tag == "image-segmentation"
    assert data.license == "apache-2.0" and data.datasets == ["camvid"]
    assert {"semantic-segmentation", "refinenet", "lw_refinenet_mobilenet_v2"} <= set(data.tags)
    results = {r.metric_type: r for r in data.eval_results}
    miou = read_evaluation(tmp_path / "m.json")["miou"]
    assert results["mean_iou"].metric_value == round(miou, 4)
    assert results["mean_iou"].dataset_type == "camvid" and results["mean_iou"].dataset_split == "val"
    assert {"pixel_accuracy", "mean_accuracy", "frequency_weighted_iou"} <= set(results)
    body = card.text
    assert f"| mIoU | {100 * miou:.2f} |" in body and "| car | n/a |" in body  # per-class IoU, null as n/a
    assert "`#4682b4` (70, 130, 180)" in body  # the palette
    assert "pip install 'refineseg[hub]'" in body
    assert "refineseg predict photo.jpg --weights hf://my-org/tiny --output out/" in body
    assert 'Segmenter.from_pretrained("hf://my-org/tiny")' in body
    assert "/home/me/data" not in text  # the trainer's local paths stay off the card


def test_the_card_counts_parameters_without_building_a_model(weights):
    file = read_weights(weights)
    model = refineseg.load_model(weights)
    assert count_parameters(file.state_dict) == sum(p.numel() for p in model.parameters())
    assert f"| parameters | {count_parameters(file.state_dict):,} |" in model_card(file, "org/name")


def test_a_card_without_metrics_or_provenance(other_weights):
    meta = card_metadata(read_weights(other_weights), "org/name", license="mit")
    assert "model-index" not in meta and "datasets" not in meta and meta["license"] == "mit"
    text = model_card(read_weights(other_weights), "org/name")
    check_card(text)
    assert "## Evaluation" not in text and "## Provenance" not in text


def test_a_card_of_a_model_without_class_names_lists_the_default_names(tmp_path):
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=2)
    text = model_card(read_weights(refineseg.save_model(model, tmp_path / "bare.safetensors")), "org/name")
    assert "| 0 | class_0 | default palette |" in text and "| 1 | class_1 | default palette |" in text


def test_metrics_files_are_checked(weights, tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"absent.json: no such metrics file \(write one with refineseg evaluate"
    ):
        read_evaluation(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: not a JSON file"):
        read_evaluation(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(ValueError, match=r"other\.json: not the metrics JSON of refineseg evaluate"):
        read_evaluation(tmp_path / "other.json")
    foreign = read_evaluation(_metrics_file(tmp_path / "foreign.json", classes=["a", "b", "c"]))
    with pytest.raises(ValueError, match="metrics of another model"):
        model_card(read_weights(weights), "org/name", evaluation=foreign)
    with pytest.raises(FileNotFoundError, match="no such metrics file"):
        prepare_upload(weights, "org/name", evaluation=tmp_path / "absent.json")


def test_check_card_refuses_bad_metadata():
    with pytest.raises(ValueError, match="invalid model card metadata"):
        check_card("---\nlibrary_name: refineseg\nmodel-index:\n- name: x\n  results:\n  - task: {}\n---\n# x\n")
    with pytest.raises(ValueError, match="no 'library_name: refineseg'"):
        check_card("---\nlicense: mit\n---\n# x\n")
