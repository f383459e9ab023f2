"""int8 quantization: ``quantize_onnx`` and ``refineseg export --int8``, run back through predict.

One ONNX export (about 10 s) is shared by the file; calibration uses a few tiny images.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg
from refineseg.cli import main
from refineseg.inference.export import export_onnx
from refineseg.inference.quantize import quantize_onnx
from refineseg.inference.runtime import OnnxRuntimeModel

from .fixtures import write_image

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def fp32_file(tmp_path_factory):
    torch.manual_seed(0)
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3)
    model.meta.class_names = ["sky", "road", "car"]
    model.meta.mean, model.meta.std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    path = tmp_path_factory.mktemp("fp32") / "tiny.onnx"
    export_onnx(model, path, example_size=(64, 64))
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(folder / f"im{i}.png", rng.integers(0, 256, size=(40 + 8 * i, 56, 3), dtype=np.uint8))
    return folder


@pytest.mark.slow
def test_quantized_model_is_int8_keeps_meta_and_runs_at_any_size(fp32_file, images, tmp_path):
    import onnx

    out = quantize_onnx(fp32_file, tmp_path / "int8.onnx", sorted(images.iterdir()), method="minmax")
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert out.stat().st_size < 0.5 * fp32_file.stat().st_size  # int8 weights
    int8, fp32 = OnnxRuntimeModel(out), OnnxRuntimeModel(fp32_file)
    assert int8.meta.class_names == ["sky", "road", "car"] and int8.meta.mean == (0.5, 0.4, 0.3)
    x = torch.randn(2, 3, 37, 53)
    got, expected = int8(x), fp32(x)
    assert got.shape == expected.shape == (2, 3, 37, 53)
    # int8 is an approximation: close to the fp32 logits, not equal
    assert 0 < (got - expected).abs().max() < 0.2 * expected.abs().max()


def test_quantize_refuses_files_it_cannot_use(fp32_file, images, tmp_path):
    with pytest.raises(ValueError, match="overwrite"):
        quantize_onnx(fp32_file, fp32_file, sorted(images.iterdir()))
    with pytest.raises(ValueError, match="no calibration images"):
        quantize_onnx(fp32_file, tmp_path / "int8.onnx", [])
    assert not (tmp_path / "int8.onnx").exists()
    with pytest.raises(ValueError, match="method"):
        quantize_onnx(fp32_file, tmp_path / "int8.onnx", sorted(images.iterdir()), method="bogus")  # type: ignore[arg-type]


@pytest.mark.slow
def test_cli_int8_export_then_predict_with_onnxruntime(images, tmp_path, capsys):
    torch.manual_seed(0)
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3)
    weights = refineseg.save_model(model, tmp_path / "tiny.safetensors")
    int8 = tmp_path / "tiny_int8.onnx"
    args = ["export", "--weights", str(weights), "--output", str(int8), "--size", "64", "64", "--int8"]
    assert main([*args, "--calibration", str(images), "--calibration-method", "minmax"]) == 0
    assert "int8" in capsys.readouterr().out and int8.is_file()
    out = tmp_path / "out"
    image = sorted(images.iterdir())[0]
    assert main(["predict", str(image), "--weights", str(int8), "--backend", "onnxruntime", "--output", str(out)]) == 0
    labels = np.asarray(Image.open(out / f"{image.stem}.png"))
    assert labels.shape == (40, 56) and labels.max() < 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--int8"], "needs --calibration"),
        (["--int8", "--calibration", "nowhere/*.png"], "nowhere"),
        (["--calibration", "x.png"], "with --int8 only"),
    ],
)
def test_cli_int8_mistakes_are_one_line_errors(tmp_path, capsys, extra, message):
    assert main(["export", "--output", str(tmp_path / "m.onnx"), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_weights_run_with_onnxruntime_unless_told_otherwise(fp32_file, tmp_path, capsys):
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(tmp_path / "x.png")
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "x.png"), "--weights", str(fp32_file), "--output", str(out)]) == 0
    assert (out / "x.png").is_file() and "(fp32)" in capsys.readouterr().out
    argv = ["predict", str(tmp_path / "x.png"), "--weights", str(fp32_file), "--backend", "pytorch"]
    assert main([*argv, "--output", str(tmp_path / "other")]) == 1
    assert "--backend onnxruntime" in capsys.readouterr().err


# -- precision="int8": quantized once per model and calibration set, cached, run by ONNX Runtime --


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3).eval()
    model.meta.class_names = ["sky", "road", "car"]
    return model


def _cached(home):
    return sorted((home / "int8").glob("*.onnx"))


@pytest.mark.slow
def test_int8_segmenter_labels_like_fp32_and_quantizes_once(tiny, images, tmp_path, monkeypatch):
    from refineseg.inference import Segmenter

    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path))
    calibration = sorted(images.iterdir())
    int8 = Segmenter(tiny, precision="int8", calibration=calibration)
    assert int8.precision == "int8" and isinstance(int8.model, OnnxRuntimeModel)
    assert int8.class_names == ["sky", "road", "car"]
    (cached,) = _cached(tmp_path)
    image = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    exact, approx = Segmenter(tiny)(image), int8(image)
    assert approx.shape == exact.shape == (48, 64)
    assert (approx == exact).mean() > 0.9  # int8 moves some pixels, not most

    stamp = cached.stat().st_mtime_ns
    again = Segmenter(tiny, precision="int8", calibration=calibration)  # same model and images: the cached file
    assert _cached(tmp_path) == [cached] and cached.stat().st_mtime_ns == stamp
    assert np.array_equal(again(image), approx)
    Segmenter(tiny, precision="int8", calibration=calibration[:1])  # another calibration set: another file
    assert len(_cached(tmp_path)) == 2


@pytest.mark.slow
def test_a_damaged_int8_cache_entry_is_made_again(tiny, images, tmp_path, monkeypatch):
    from refineseg.inference.quantize import int8_model

    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path))
    calibration = sorted(images.iterdir())[:1]
    int8_model(tiny, calibration)
    (cached,) = _cached(tmp_path)
    cached.write_bytes(b"not onnx")
    model = int8_model(tiny, calibration)
    assert model.path == cached and cached.stat().st_size > 1000


def test_int8_mistakes_are_clear_errors(tiny, images):
    from refineseg.inference import Segmenter, optimize_for_inference
    from refineseg.inference.precision import resolve_precision

    with pytest.raises(ValueError, match="int8 needs calibration images"):
        Segmenter(tiny, precision="int8")
    with pytest.raises(ValueError, match="apply to precision int8 only"):
        Segmenter(tiny, precision="bf16", calibration=sorted(images.iterdir()))
    with pytest.raises(ValueError, match="runs on the CPU"):
        resolve_precision("int8", "cuda")
    with pytest.raises(ValueError, match="int8_model"):
        optimize_for_inference(tiny, precision="int8")


@pytest.mark.slow
def test_cli_predict_and_evaluate_in_int8(tmp_path, capsys):
    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", n=2, size=(24, 32))
    torch.manual_seed(0)
    weights = refineseg.save_model(
        refineseg.get_model("lw_refinenet_resnet18", num_classes=11), tmp_path / "tiny.safetensors"
    )
    images = root / "val"
    out = images / "out"  # inside the input folder: a second run must not calibrate on the first run's outputs
    # no --calibration: predict calibrates on its own inputs, and says so once
    assert main(["predict", str(images), "--weights", str(weights), "--output", str(out), "--precision", "int8"]) == 0
    captured = capsys.readouterr()
    assert "int8: quantizing with ONNX Runtime, calibrated on 2 image(s)" in captured.err
    assert len(list(out.glob("*.png"))) == 2
    assert main(["predict", str(images), "--weights", str(weights), "--output", str(out), "--precision", "int8"]) == 0
    assert "quantizing" not in capsys.readouterr().err  # the second run opens the cached file

    metrics = tmp_path / "m.json"
    args = ["evaluate", "--weights", str(weights), "--dataset", "camvid", "--root", str(root), "--output", str(metrics)]
    assert main([*args, "--precision", "int8", "--no-progress"]) == 0  # calibrated on the training split
    assert '"precision": "int8"' in metrics.read_text()
    assert "calibrated on 2 image(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--split", "train", "--precision", "int8"], "the split being evaluated; give --calibration"),
        (["evaluate", "--calibration", "x.png"], "--calibration applies with --precision int8 only"),
        (["evaluate", "--precision", "int8", "--calibration", "nowhere/*.png"], "nowhere/*.png: no files match"),
        (["evaluate", "--precision", "int8", "--calibration-images", "0"], "--calibration-images must be at least 1"),
        (["serve", "--precision", "int8"], "--precision int8 needs --calibration IMAGES"),
        (["predict", "a.png", "--precision", "int8", "--compile"], "--compile applies to PyTorch models"),
    ],
)
def test_cli_int8_precision_mistakes_are_one_line_errors(tmp_path, capsys, argv, message):
    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", n=1)
    if argv[0] == "evaluate":
        argv = [*argv, "--dataset", "camvid", "--root", str(root), "--output", str(tmp_path / "m.json")]
    elif argv[0] == "predict":
        argv = [*argv, "--output", str(tmp_path / "out")]
    else:
        argv = [*argv, "--port", "0"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "m.json").exists()


def test_the_int8_cache_key_holds_the_architecture_options(tiny):
    import copy

    from refineseg.inference.quantize import _fingerprint

    arrays = [np.zeros((8, 8, 3), np.uint8)]
    other = copy.deepcopy(tiny)
    other.arch_kwargs = {**tiny.arch_kwargs, "crp_order": "other"}  # same weights, another forward pass
    assert _fingerprint(tiny, arrays, "percentile") == _fingerprint(copy.deepcopy(tiny), arrays, "percentile")
    assert _fingerprint(tiny, arrays, "percentile") != _fingerprint(other, arrays, "percentile")
