"""``refineseg predict`` and ``refineseg.inference.predict``: inputs, outputs, failures, videos."""

import json

import numpy as np
import pytest
from PIL import Image

import refineseg.models
from refineseg.cli import main
from refineseg.inference import Segmenter
from refineseg.inference.inputs import collect_inputs

from .fixtures import make_camvid


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    model.meta.class_names = ["sky", "road", "car"]
    model.meta.palette = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
    return str(refineseg.save_model(model, tmp_path_factory.mktemp("w") / "tiny.safetensors"))


def _image(path, size=(30, 44), seed=0, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert(mode).save(path)
    return path


def _errors(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if "error:" in line]


def test_files_folders_and_globs_give_labels_and_overlays(tmp_path, weights, capsys):
    single = _image(tmp_path / "in" / "street.jpg")
    _image(tmp_path / "folder" / "a.png", seed=1)
    _image(tmp_path / "folder" / "sub" / "b.png", size=(17, 9), seed=2, mode="RGBA")
    _image(tmp_path / "globbed" / "g1.png", seed=3, mode="L")
    out = tmp_path / "out"
    args = [str(single), str(tmp_path / "folder"), str(tmp_path / "globbed" / "*.png")]
    assert main(["predict", *args, "--weights", weights, "--output", str(out), "--no-progress"]) == 0
    assert "segmented 4 image(s)" in capsys.readouterr().out
    seg = Segmenter.from_pretrained(weights)
    for name, source in [
        ("street", single),
        ("a", tmp_path / "folder" / "a.png"),
        ("sub/b", tmp_path / "folder" / "sub" / "b.png"),
        ("g1", tmp_path / "globbed" / "g1.png"),
    ]:
        with Image.open(out / f"{name}.png") as labels, Image.open(source) as original:
            assert labels.mode == "P" and labels.size == original.size
            assert labels.getpalette()[:3] == [70, 130, 180]
            assert np.array_equal(np.asarray(labels), seg(source))
        with Image.open(out / f"{name}_overlay.jpg") as overlay:
            assert overlay.size == original.size


def test_one_pixel_image_probabilities_and_no_overlay(tmp_path, weights):
    dot = _image(tmp_path / "dot.png", size=(1, 1))
    out = tmp_path / "out"
    assert main(["predict", str(dot), "--weights", weights, "-o", str(out), "--probabilities", "--no-overlay"]) == 0
    probs = np.load(out / "dot_probs.npy")
    assert probs.shape == (3, 1, 1) and probs.dtype == np.float16 and abs(float(probs.sum()) - 1) < 1e-2
    assert not (out / "dot_overlay.jpg").exists()


def test_unreadable_inputs_fail_one_line_each_and_the_rest_is_segmented(tmp_path, weights, capsys):
    inputs = tmp_path / "in"
    good = _image(inputs / "good.png")
    (inputs / "empty.png").write_bytes(b"")
    (inputs / "notes.png").write_text("not an image\n")
    full = good.read_bytes()
    (inputs / "truncated.png").write_bytes(full[: len(full) // 2])
    out = tmp_path / "out"
    code = main(["predict", str(inputs), str(tmp_path / "missing.jpg"), "--weights", weights, "-o", str(out)])
    assert code == 1
    errors = _errors(capsys)
    assert len(errors) == 4
    for name in ("empty.png", "notes.png", "truncated.png", "missing.jpg"):
        assert sum(name in line for line in errors) == 1
    assert (out / "good.png").is_file() and not (out / "notes.png").exists()


def test_inputs_are_never_overwritten(tmp_path, weights, capsys):
    folder = tmp_path / "photos"
    image = _image(folder / "a.png")
    before = image.read_bytes()
    assert main(["predict", str(image), "--weights", weights, "-o", str(folder), "--no-progress"]) == 1
    assert "would overwrite an input" in _errors(capsys)[0]
    assert image.read_bytes() == before


def test_clashing_output_names_are_refused_not_overwritten(tmp_path, weights, capsys):
    first = _image(tmp_path / "a" / "x.png")
    second = _image(tmp_path / "b" / "x.jpg", seed=5)
    out = tmp_path / "out"
    assert main(["predict", str(first), str(second), "--weights", weights, "-o", str(out), "--no-progress"]) == 1
    [error] = _errors(capsys)
    assert str(second) in error and str(first) in error
    seg = Segmenter.from_pretrained(weights)
    assert np.array_equal(np.asarray(Image.open(out / "x.png")), seg(first))


def test_output_folder_inside_an_input_folder_is_not_read_back(tmp_path, weights):
    folder = tmp_path / "photos"
    _image(folder / "a.png")
    out = folder / "segmented"
    for _ in range(2):
        assert main(["predict", str(folder), "--weights", weights, "-o", str(out), "--no-progress"]) == 0
    items, errors = collect_inputs([folder], exclude=out)
    assert [i.name for i in items] == ["a"] and not errors


def test_bad_arguments_are_one_line_errors(tmp_path, weights, capsys):
    image = _image(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    cases = [
        (["--output", str(tmp_path / "file")], "not a directory"),
        (["--batch-size", "0"], "--batch-size"),
        (["--alpha", "1.5"], "--alpha"),
        (["--tile-size", "8"], "--tile-size"),
        (["--weights", str(tmp_path / "nope.safetensors")], "nope.safetensors"),
    ]
    for extra, message in cases:
        argv = ["predict", str(image), "-o", str(tmp_path / "out"), "--weights", weights, *extra]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_video_is_segmented_frame_by_frame(tmp_path, weights):
    av = pytest.importorskip("av")
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 46, 30, "yuv420p"
        for i in range(6):
            frame = np.random.default_rng(i).integers(0, 255, (30, 46, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = tmp_path / "out"
    assert (
        main(["predict", str(clip), "--weights", weights, "-o", str(out), "--video-labels", "--batch-size", "4"]) == 0
    )
    with av.open(str(out / "clip_overlay.mp4")) as result:
        stream = result.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in result.decode(stream)]
    assert len(frames) == 6 and frames[0].shape == (30, 46, 3)
    labels = sorted((out / "clip_labels").iterdir())
    assert [p.name for p in labels] == [f"{i:06d}.png" for i in range(6)]
    assert Image.open(labels[0]).size == (46, 30)


def test_a_text_file_named_like_a_video_fails_cleanly(tmp_path, weights, capsys):
    pytest.importorskip("av")
    fake = tmp_path / "fake.mp4"
    fake.write_text("no video here")
    assert main(["predict", str(fake), "--weights", weights, "-o", str(tmp_path / "out")]) == 1
    [error] = _errors(capsys)
    assert "fake.mp4" in error and "video" in error
    assert not (tmp_path / "out" / "fake_overlay.mp4").exists()


def test_default_weights_are_the_shipped_camvid_model(tmp_path, capsys):
    image = _image(tmp_path / "street.png", size=(24, 32))
    assert main(["predict", str(image), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    with Image.open(tmp_path / "out" / "street.png") as labels:
        assert labels.size == (32, 24) and int(np.asarray(labels).max()) < 11
    root = make_camvid(tmp_path / "camvid", splits=("val",), n=1, size=(24, 32))
    metrics = tmp_path / "m.json"
    argv = ["evaluate", "--dataset", "camvid", "--root", str(root), "--output", str(metrics), "--no-progress"]
    assert main(argv) == 0
    assert json.loads(metrics.read_text())["weights"] == "camvid"


def test_predict_help_explains_outputs(capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "NAME_overlay.jpg" in out and "never overwritten" in out
