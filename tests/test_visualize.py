"""``refineseg.analysis.visualize`` and ``refineseg visualize``: activation pictures of a real model."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

import refineseg
from refineseg._extras import install_hint
from refineseg.analysis.figures import MapPanel, PicturePanel, grid_figure, panel_shape, save_png
from refineseg.analysis.visualize import OUTPUT_FILES, activation_figures, capture_activations, visualize
from refineseg.cli import main


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
    assert summary["input_size"] == [40, 56] and summary["model"] == shipped.arch != ""
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


def _pictures(figure):
    """The panels' axes of a figure, in drawing order (not the colour bar's)."""
    return [ax for ax in figure.axes if ax.images and ax.get_title(loc="left")]


def test_each_figure_draws_its_summary_panels_aligned_to_the_image(shipped):
    drawn = activation_figures(shipped, _rgb(45, 61))
    assert list(drawn.figures) == list(OUTPUT_FILES[:3])
    assert drawn.summary["panel_size"] == list(panel_shape((45, 61)))
    for name, figure in drawn.figures.items():
        entries = [p for p in drawn.summary["panels"] if p["file"] == name]
        axes = _pictures(figure)
        # one panel per entry, in the same order, captioned with its name
        assert [ax.get_title(loc="left") for ax in axes] == [p["name"] for p in entries]
        for ax, entry in zip(axes, entries, strict=True):
            (im,) = ax.images
            # every panel shows the whole input frame, nothing more
            assert ax.get_xlim() == (0, 61) and ax.get_ylim() == (45, 0)
            if "stride" not in entry:  # the image and the prediction: pixels of the input's size
                assert im.get_array().shape[:2] == (45, 61) and im.get_extent() == [0, 61, 45, 0]
                continue
            rows, cols = entry["shape"]
            assert im.get_array().shape == (rows, cols)
            # cell i covers input pixels [i*stride, (i+1)*stride): the last cell runs past the border
            s = entry["stride"]
            assert im.get_extent() == [0, cols * s, rows * s, 0] and cols * s >= 61 > (cols - 1) * s
            assert im.get_cmap().name == "viridis" and im.get_clim() == tuple(entry["display_range"])
            assert im.get_interpolation() == "nearest"
            assert entry["display_range"][0] == entry["norm_min"] <= entry["display_range"][1] <= entry["norm_max"]
    legend = drawn.figures["levels.png"].legends[0]
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted(drawn.summary["predicted_shares"])


def test_colours_rise_with_the_value_and_saturate_past_the_range(tmp_path):
    values = np.linspace(0.0, 2.0, 24, dtype=np.float32).reshape(4, 6)
    flat = np.full((4, 6), 3.0, np.float32)
    rows = [[MapPanel("ramp", "0..2", values, 0.0, 1.0, 4), MapPanel("flat", "3", flat, 3.0, 3.0, 4)]]
    figure = grid_figure("t", rows, image=(16, 24), panel=(64, 96), notes=["a note"])
    ramp, level = (ax.images[0] for ax in _pictures(figure))
    rgba = ramp.to_rgba(values.ravel())
    luminance = rgba[:, :3] @ np.array([0.2126, 0.7152, 0.0722])
    inside = values.ravel() <= 1.0
    assert np.all(np.diff(luminance[inside]) > 0)  # viridis: brighter as the value rises
    assert np.all(rgba[~inside] == ramp.to_rgba(np.ones(1)))  # past the top of the range: the top colour
    assert np.all(level.to_rgba(flat.ravel()) == ramp.to_rgba(np.zeros(1)))  # a flat map: the bottom colour
    path = save_png(figure, tmp_path / "ramp.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB" and 200 <= im.width <= 1500 and 100 <= im.height <= 1000
        pixels = np.asarray(im)
    assert (pixels == 255).all(axis=2).mean() > 0.3  # a white background
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_captions_wider_than_small_panels_do_not_overlap(tmp_path):
    cells = np.random.default_rng(0).random((3, 4))
    caption = "64 ch, 12x15, norm 46.6..129.0"
    maps = [MapPanel(f"block {k} in: block {k - 1} out, 1/16", caption, cells, 0.0, 1.0, 16) for k in range(1, 5)]
    picture = PicturePanel("input image", "RGB, 45x60", _rgb(45, 60))
    rows = [[picture, None, None, maps[0]], maps]
    figure = grid_figure("small panels", rows, image=(45, 60), panel=(24, 32), notes=["a long note " * 40])
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [t for ax in _pictures(figure) for t in [*ax.get_children(), ax.xaxis.label] if isinstance(t, Text)]
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
    assert len(boxes) == 2 * 6
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    with Image.open(save_png(figure, tmp_path / "small.png")) as im:
        assert 300 <= im.width <= 2000 and 100 <= im.height <= 1000


def test_without_matplotlib_the_error_is_one_line_and_nothing_is_written(shipped, tmp_path, capsys, monkeypatch):
    image = tmp_path / "street.png"
    Image.fromarray(_rgb()).save(image)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(ImportError, match=re.escape(install_hint("plot"))):
        visualize(shipped, _rgb(), tmp_path / "lib")
    assert main(["visualize", str(image), "--output", str(tmp_path / "cli")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"refineseg visualize: error: drawing activations needs matplotlib: {install_hint('plot')}"
    assert not (tmp_path / "lib").exists() and not (tmp_path / "cli").exists()


def test_drawing_does_not_use_pyplot(tmp_path):
    # pyplot's global figure registry and backend switching are what makes matplotlib unsafe in
    # threads (and in a server); the figures are drawn on their own Agg canvases instead
    code = f"""
import sys, numpy as np, refineseg
from refineseg.analysis.visualize import visualize
model = refineseg.get_model("refinenet_resnet18", num_classes=3)
visualize(model, np.zeros((20, 24, 3), np.uint8), {str(tmp_path / "v")!r}, size=32)
assert "matplotlib.figure" in sys.modules and "matplotlib.pyplot" not in sys.modules, "pyplot imported"
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == sorted(OUTPUT_FILES)
