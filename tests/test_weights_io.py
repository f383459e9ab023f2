import json

import pytest
import torch
from safetensors.torch import save_file

import refineseg.models
from refineseg.weights import WeightsError, read_weights
from refineseg.weights.catalogue import get_entry
from refineseg.weights.io import strict_load


@pytest.fixture(scope="module")
def small_model():
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3).eval()
    model.meta.class_names = ["road", "car", "sky"]
    model.meta.palette = [(128, 64, 128), (64, 0, 128), (128, 128, 128)]
    return model


def test_metadata_travels_with_the_weights(small_model, tmp_path):
    path = refineseg.save_model(small_model, tmp_path / "m.safetensors", provenance={"trained_on": "test"})
    file = read_weights(path)
    assert file.arch == "lw_refinenet_mobilenet_v2"
    assert file.arch_kwargs["num_classes"] == 3 and file.arch_kwargs["activation"] == "relu6"
    assert file.meta.class_names == ["road", "car", "sky"]
    assert file.meta.palette == [(128, 64, 128), (64, 0, 128), (128, 128, 128)]
    assert file.meta.provenance == {"trained_on": "test"}
    assert file.meta.mean == (0.485, 0.456, 0.406)
    loaded = refineseg.load_model(path)
    assert not loaded.training and loaded.meta.class_names == small_model.meta.class_names


def test_save_is_atomic_and_leaves_no_temporary_files(small_model, tmp_path):
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"old")
    refineseg.save_model(small_model, target)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert read_weights(target).arch == "lw_refinenet_mobilenet_v2"


def test_a_model_with_non_finite_values_is_never_written(tmp_path):
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"previous good file")
    name = next(k for k, v in model.state_dict().items() if v.is_floating_point())
    with torch.no_grad():
        model.state_dict()[name].view(-1)[0] = float("nan")
    with pytest.raises(WeightsError, match=rf"m.safetensors: not written: tensor {name} holds NaN"):
        refineseg.save_model(model, target)
    assert target.read_bytes() == b"previous good file" and len(list(tmp_path.iterdir())) == 1


def test_save_needs_a_model_built_by_a_builder(tmp_path):
    from refineseg.backbones import MobileNetV2Backbone

    bare = refineseg.models.LightWeightRefineNet(MobileNetV2Backbone(), num_classes=2)
    with pytest.raises(ValueError, match="builder"):
        refineseg.save_model(bare, tmp_path / "x.safetensors")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable safetensors"),
        (b"this is a text file, not weights\n", "not a readable safetensors"),
        (b"\x00" * 64, "not a readable safetensors"),
    ],
)
def test_files_that_are_not_weights_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=message) as info:
        refineseg.load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_file_is_an_error(small_model, tmp_path):
    path = refineseg.save_model(small_model, tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        refineseg.load_model(path)


def test_missing_file_and_foreign_safetensors(tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        refineseg.load_model(tmp_path / "absent.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(WeightsError, match="not a refineseg weights file"):
        refineseg.load_model(foreign)


def test_weights_that_do_not_fit_list_every_problem(small_model, tmp_path):
    path = refineseg.save_model(small_model, tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        info = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    del tensors["head.classifier.bias"]
    tensors["decoder.extra.weight"] = torch.zeros(1)
    tensors["head.classifier.weight"] = torch.zeros(4, 256, 3, 3)
    save_file(tensors, path, metadata=info)
    with pytest.raises(WeightsError) as err:
        refineseg.load_model(path)
    message = str(err.value)
    for expected in (
        "1 missing keys: head.classifier.bias",
        "1 unexpected keys: decoder.extra.weight",
        "head.classifier.weight: file (4, 256, 3, 3) vs model (3, 256, 3, 3)",
    ):
        assert expected in message


def test_strict_load_changes_nothing_when_it_fails(small_model):
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: torch.zeros_like(v) for k, v in small_model.state_dict().items()}
    state.pop("head.classifier.bias")
    with pytest.raises(WeightsError):
        strict_load(model, state, source="test")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_corrupt_metadata_is_reported(small_model, tmp_path):
    path = refineseg.save_model(small_model, tmp_path / "m.safetensors")
    file = read_weights(path)
    info = {"format": "refineseg", "format_version": "1", "arch": file.arch, "arch_kwargs": "{not json"}
    save_file(file.state_dict, path, metadata=info)
    with pytest.raises(WeightsError, match="corrupt refineseg metadata"):
        read_weights(path)
    info["arch_kwargs"] = json.dumps(file.arch_kwargs)
    info["format_version"] = "99"
    save_file(file.state_dict, path, metadata=info)
    with pytest.raises(WeightsError, match="version"):
        read_weights(path)


def test_unavailable_published_weights_explain_how_to_convert(monkeypatch, tmp_path):
    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="refineseg convert FILE --arch mbv2 --num-classes 21"):
        refineseg.models.lw_refinenet_mobilenet_v2(weights="lw_refinenet_mobilenet_v2_voc")
    with pytest.raises(FileNotFoundError, match=r"neither a weights file nor a weights name \(`refineseg models`"):
        refineseg.models.lw_refinenet_mobilenet_v2(weights="no_such_checkpoint")


def test_cached_published_weights_load_offline(small_model, monkeypatch, tmp_path):
    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path))
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=21)
    refineseg.save_model(model, tmp_path / "weights" / "lw_refinenet_mobilenet_v2_voc.safetensors")
    again = refineseg.models.lw_refinenet_mobilenet_v2(weights="lw_refinenet_mobilenet_v2_voc")
    assert torch.equal(again.head.classifier.weight, model.head.classifier.weight)


def test_available_published_weights_download_and_convert_once(monkeypatch, tmp_path):
    """The download path for users with a network, run against a local file:// URL."""
    import hashlib
    from dataclasses import replace

    from refineseg.weights import catalogue

    from .reference_layouts import reference_state_dict

    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path / "home"))
    checkpoint = tmp_path / "mbv2_voc.pth.tar"
    torch.save(reference_state_dict("mbv2"), checkpoint)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    entry = replace(
        catalogue.CATALOGUE.get("lw_refinenet_mobilenet_v2_voc"),
        url=checkpoint.as_uri(),
        sha256=digest[:10],
        available=True,
    )
    # the catalogue refuses a second entry under a name: the test swaps the entry underneath
    monkeypatch.setitem(catalogue.CATALOGUE._entries, entry.name, entry)
    with pytest.raises(FileNotFoundError, match="not downloaded yet"):
        refineseg.models.lw_refinenet_mobilenet_v2(weights=entry.name)  # the builder reads, it does not download
    model = refineseg.load_model(entry.name)
    cached = tmp_path / "home" / "weights" / f"{entry.name}.safetensors"
    assert cached.is_file() and model.num_classes == 21
    assert model.meta.provenance["source_arch"] == "mbv2"
    checkpoint.unlink()  # converted once: later loads read the cache
    again = refineseg.models.lw_refinenet_mobilenet_v2(weights=entry.name)
    assert torch.equal(again.head.classifier.weight, model.head.classifier.weight)


def test_a_folder_named_like_shipped_weights_does_not_hide_them(tmp_path, monkeypatch):
    (tmp_path / "camvid").mkdir()  # a dataset folder, as users keep them
    monkeypatch.chdir(tmp_path)
    assert refineseg.load_model("camvid").arch == get_entry("camvid").arch  # the file, not the folder
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    refineseg.save_model(model, tmp_path / "mine")  # a file without a suffix is still reachable as a path
    assert refineseg.load_model(tmp_path / "mine").num_classes == 3
    assert refineseg.load_model("./mine").num_classes == 3


def test_the_catalogue_is_one_typed_list_that_names_every_entry_kind():
    from refineseg.weights.catalogue import CATALOGUE, PublishedWeights, ShippedWeights, get_entry, list_weights

    shipped, published = list_weights("shipped"), list_weights("published")
    assert [e.name for e in shipped] == ["camvid"] and all(isinstance(e, ShippedWeights) for e in shipped)
    assert len(published) == 19 and all(isinstance(e, PublishedWeights) for e in published)
    assert list_weights() == shipped + published and len(CATALOGUE) == len(shipped) + len(published)
    assert get_entry("camvid").installed  # shipped inside the package
    # every entry names a builder that exists, with the class count its dataset has
    for entry in CATALOGUE.entries():
        assert entry.arch in refineseg.list_models(), entry.name
        assert (
            entry.num_classes
            == {"VOC": 21, "NYU": 40, "Person": 7, "Context": 60, "CamVid": 11}[
                next(k for k in ("VOC", "NYU", "Person", "Context", "CamVid") if k in entry.dataset)
            ]
        ), entry.name


def test_one_resolver_gives_every_way_to_a_model_the_same_errors(monkeypatch, tmp_path):
    """load_model, get_model's and a builder's weights=, and Segmenter.from_pretrained read weights alike."""
    from refineseg.inference import Segmenter

    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path))
    ways = {
        "load_model": refineseg.load_model,
        "get_model": lambda w: refineseg.get_model("lw_refinenet_mobilenet_v2", weights=w),
        "builder": lambda w: refineseg.models.lw_refinenet_mobilenet_v2(weights=w),
        "from_pretrained": Segmenter.from_pretrained,
    }
    for way in ways.values():
        with pytest.raises(FileNotFoundError, match="refineseg convert FILE --arch mbv2 --num-classes 21"):
            way("lw_refinenet_mobilenet_v2_voc")  # published, unavailable
        with pytest.raises(FileNotFoundError, match="'no_such_weights' is neither a weights file nor a weights name"):
            way("no_such_weights")
        with pytest.raises(WeightsError, match=r"missing\.safetensors: no such weights file"):
            way(tmp_path / "missing.safetensors")
