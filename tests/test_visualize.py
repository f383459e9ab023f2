"""``refineseg.analysis.visualize`` and ``refineseg visualize``: activation pictures of a real model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg
from refineseg.analysis.visualize import OUTPUT_FILES, capture_activations, visualize
from refineseg.cli import main
from refineseg.weights.shipped import SHIPPED_WEIGHTS


@pytest.fixture(scope="module")
def shipped():
    return refineseg.load_model("camvid")


def _rgb(height=40, width=56, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def _kinds(summary, kind):
    return [p for p in summary["panels"] if p["kind"] == kind]


def _no_hooks(model):
    return all(not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks) for m in model.modules())


def test_shipped_model_gives_pngs_and_a_complete_summary(shipped, tmp_path):
    files = visualize(shipped, _rgb(), tmp_path / "vis")
    assert [f.name for f in files] == list(OUTPUT_FILES)
    for f in files[:3]:
        with Image.open(f) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            assert 400 <= im.width <= 3000 and 300 <= im.height <= 2000, (f.name, im.size)
    summary = json.loads(files[3].read_text())
    assert summary["input_size"] == [40, 56] and summary["model"] == SHIPPED_WEIGHTS["camvid"].arch
    encoder = _kinds(summary, "encoder")
    # one panel per declared encoder feature (the shipped EfficientNet-Lite0: 24, 40, 112, 320 channels)
    assert [p["level"] for p in encoder] == [f"1/{r}" for r in shipped.encoder.reductions]
    assert [p["channels"] for p in encoder] == list(shipped.encoder.channels)
    assert encoder[0]["shape"] == [10, 14] and encoder[-1]["shape"] == [2, 2]
    cascade = shipped.decoder.cascade
    assert [p["block"] for p in _kinds(summary, "block_output")] == [1, 2, 3, 4]
    assert [p["level"] for p in _kinds(summary, "block_output")] == ["1/32", "1/16", "1/8", "1/4"]
    assert len(_kinds(summary, "block_input")) == sum(len(c) for c in cascade) + len(cascade) - 1
    for k in range(1, 5):
        stages = [p["stage"] for p in _kinds(summary, "pool_stage") if p["block"] == k]
        assert stages == [1, 2, 3, 4]
        assert [p["block"] for p in _kinds(summary, "pool_input") + _kinds(summary, "pool_sum")].count(k) == 2
    for p in summary["panels"]:
        if "norm_min" in p:
            assert 0 <= p["norm_min"] <= p["norm_max"] and p["file"] in OUTPUT_FILES
    assert sum(summary["predicted_shares"].values()) == pytest.approx(1.0)
    names = [p["name"] for p in summary["panels"]]
    assert len(set(names)) == len(names)


def test_pooling_stages_add_up_to_the_chain_output_in_both_orders(shipped):
    x = torch.randn(1, 3, 33, 47)
    conv_pool = refineseg.get_model("refinenet_resnet18", num_classes=3, crp_order="conv-pool", crp_stages=2)
    for model in (shipped, conv_pool):
        acts = capture_activations(model, x)
        for block in acts.blocks:
            total = block.pool_input + sum(block.stages)
            torch.testing.assert_close(total, block.pool_output)
        assert acts.logits.shape[-2:] == (33, 47)
        assert len(acts.encoder) == len(model.encoder.channels)


def test_other_models_and_odd_sizes_work_and_are_left_unchanged(tmp_path):
    model = refineseg.get_model("refinenet_resnet18", num_classes=3, cascade="single")
    assert model.training
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(1, 3, 17, 23)
    model.eval()
    with torch.no_grad():
        before = model(x)
    model.train()
    files = visualize(model, _rgb(17, 23), tmp_path / "single")
    summary = json.loads(files[3].read_text())
    inputs = _kinds(summary, "block_input")
    assert [p["level"] for p in inputs] == ["1/4", "1/8", "1/16", "1/32"] and len(_kinds(summary, "block_fused")) == 1
    assert len(_kinds(summary, "pool_stage")) == 4
    # unchanged: no hooks left, still training, same parameters and buffers (batch norm statistics too)
    assert model.training and _no_hooks(model)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), before)


def test_shipped_model_is_left_unchanged(shipped, tmp_path):
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        before = shipped(x)
    visualize(shipped, _rgb(), tmp_path / "vis", size=64)
    assert not shipped.training and _no_hooks(shipped)
    with torch.no_grad():
        assert torch.equal(shipped(x), before)


def test_cli_writes_the_files_and_lists_them(tmp_path, capsys):
    image = tmp_path / "street.png"
    Image.fromarray(_rgb(90, 120)).save(image)
    out = tmp_path / "vis"
    assert main(["visualize", str(image), "--output", str(out), "--max-side", "60", "--panel-size", "64"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / name) for name in OUTPUT_FILES]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["image"] == str(image) and summary["image_size"] == [90, 120] and summary["input_size"] == [45, 60]


def test_cli_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / "absent.jpg"
    assert main(["visualize", str(missing), "--output", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert "absent.jpg" in err and "no such file" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()

    # the input image is never overwritten, even under an output file's name
    image = tmp_path / "levels.png"
    Image.fromarray(_rgb()).save(image)
    original = image.read_bytes()
    assert main(["visualize", str(image), "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "levels.png" in err and "overwritten" in err and len(err.splitlines()) == 1
    assert image.read_bytes() == original

    assert main(["visualize", str(image), "--output", str(tmp_path / "o"), "--max-side", "-1"]) == 1
    assert "--max-side" in capsys.readouterr().err
