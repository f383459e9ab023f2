"""The OpenVINO backend: an ``.onnx`` file or a refineseg model run by OpenVINO in fp32, bf16 and int8.

One ONNX export (about 10 s) is shared; OpenVINO compiles once per input shape (about a second).
"""

import copy
import sys

import numpy as np
import pytest
import torch

import refineseg
from refineseg._extras import MissingExtraError
from refineseg.cli import main
from refineseg.inference import Segmenter
from refineseg.inference.backends import open_model
from refineseg.inference.export import export_onnx
from refineseg.inference.precision import precision_of

ov = pytest.importorskip("openvino")
for _name in ("onnx", "onnxscript", "onnxruntime"):
    pytest.importorskip(_name)

from refineseg.inference.openvino_runtime import OpenVinoModel  # noqa: E402
from refineseg.inference.runtime import OnnxRuntimeModel  # noqa: E402

CLASSES = ["sky", "road", "car"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3)
    model.meta.class_names = list(CLASSES)
    model.meta.mean, model.meta.std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def onnx_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ov") / "tiny.onnx"
    export_onnx(copy.deepcopy(model), path, example_size=(64, 64))
    return path


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REFINESEG_HOME", str(tmp_path / "home"))  # int8 files and OpenVINO's compiled blobs


def _close(out, expected, tolerance=1e-3):
    """The export's own check: within ``tolerance`` of the largest logit, the same class everywhere."""
    assert out.shape == expected.shape and out.dtype == torch.float32
    assert (out - expected).abs().max().item() <= tolerance * expected.abs().max().item()
    assert torch.equal(out.argmax(1), expected.argmax(1))


def test_fp32_matches_pytorch_at_every_shape_with_the_meta(model, onnx_file):
    ov_model = OpenVinoModel(onnx_file, threads=1)
    assert ov_model.backend == "openvino" and ov_model.precision == "fp32"
    assert ov_model.arch == "lw_refinenet_resnet18" and ov_model.num_classes == 3
    assert ov_model.meta.class_names == CLASSES and ov_model.meta.mean == (0.5, 0.4, 0.3)
    for shape in [(2, 3, 37, 83), (1, 3, 64, 64), (2, 3, 37, 83)]:  # dynamic batch and size; a shape seen again
        x = torch.randn(shape)
        with torch.no_grad():
            _close(ov_model(x), model(x))
    assert len(ov_model._compiled) == 2  # compiled once per shape
    assert ov_model.eval() is ov_model and ov_model.to("cpu") is ov_model
    with pytest.raises(ValueError, match="runs on the CPU"):
        ov_model.to("cuda")


def test_labels_are_the_arg_max_inside_the_graph(model, onnx_file):
    ov_model = OpenVinoModel(onnx_file, threads=1)
    for shape in ((1, 3, 64, 64), (2, 3, 40, 56)):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(shape[0]))
        labels = ov_model.labels(x)
        assert labels.shape == (shape[0], *shape[2:]) and labels.dtype == np.uint8
        np.testing.assert_array_equal(labels, ov_model(x).argmax(1).numpy())


def test_the_labels_of_equal_maxima_are_the_first_class():
    import openvino.opset11 as ops

    from refineseg.inference.openvino_runtime import _answer_labels

    logits = ops.parameter([1, 4, 1, 3], ov.Type.f32)
    network = ov.Model([ops.result(ops.relu(logits))], [logits])
    _answer_labels(network)
    compiled = ov.Core().compile_model(network, "CPU")
    x = np.array([[0, 0, 0], [0, 2, 1], [0, 2, 1], [0, 0, 1]], dtype=np.float32).reshape(1, 4, 1, 3)
    got = compiled({0: x})[compiled.output(0)][0, 0, 0]
    np.testing.assert_array_equal(got, x.argmax(1)[0, 0])  # [0, 1, 1]: ties go to the lower class


def test_bf16_is_a_precision_hint_of_the_same_file(model, onnx_file):
    ov_model = OpenVinoModel(onnx_file, precision="bf16")
    assert ov_model.precision == "bf16" and precision_of(ov_model) == "bf16"  # what evaluate's JSON reports
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        expected = model(x)
    out = ov_model(x)
    assert out.dtype == torch.float32 and out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 0.1 * expected.abs().max().item()  # bf16's 8-bit mantissa
    ov_model.set_precision("fp32")
    _close(ov_model(x), expected)
    with pytest.raises(ValueError, match="fp32 or bf16, not 'int8'"):
        ov_model.set_precision("int8")


@pytest.mark.slow  # an export on the fly
def test_segmenter_runs_a_refineseg_model_with_openvino(model, onnx_file):
    image = np.random.default_rng(0).integers(0, 255, (41, 57, 3), dtype=np.uint8)
    expected = Segmenter(copy.deepcopy(model), precision="fp32")(image)
    seg = Segmenter(copy.deepcopy(model), precision="fp32", backend="openvino")
    assert isinstance(seg.model, OpenVinoModel) and seg.precision == "fp32"
    assert np.array_equal(seg(image), expected)
    # an .onnx file with --backend openvino; auto is bf16 on CPUs with native bf16, else fp32
    from_file = Segmenter.from_pretrained(onnx_file, backend="openvino", precision="auto")
    assert isinstance(from_file.model, OpenVinoModel)
    assert from_file.precision in ("fp32", "bf16")
    assert isinstance(open_model(onnx_file, backend="openvino"), OpenVinoModel)
    assert isinstance(open_model(onnx_file), OnnxRuntimeModel)  # the default for .onnx is unchanged


@pytest.mark.slow  # a quantization and two exports
def test_int8_runs_the_cached_file_with_openvino_like_onnx_runtime(model):
    rng = np.random.default_rng(0)
    calibration = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    ort = Segmenter(copy.deepcopy(model), precision="int8", calibration=calibration)
    ovs = Segmenter(copy.deepcopy(model), precision="int8", calibration=calibration, backend="openvino")
    assert isinstance(ort.model, OnnxRuntimeModel) and isinstance(ovs.model, OpenVinoModel)
    assert ovs.precision == "int8" and ovs.model.path == ort.model.path  # one cached file, two runtimes
    x = torch.randn(1, 3, 48, 64)
    agreement = (ort.model(x).argmax(1) == ovs.model(x).argmax(1)).float().mean().item()
    assert agreement >= 0.95


def test_wrong_combinations_are_one_line_errors(model, onnx_file, tmp_path):
    with pytest.raises(ValueError, match="compile applies to the pytorch backend"):
        open_model(onnx_file, backend="openvino", compile=True)
    with pytest.raises(ValueError, match=r"without torch\.compile"):
        Segmenter(copy.deepcopy(model), backend="openvino", compile=True)
    with pytest.raises(ValueError, match="runs with the openvino backend, not onnxruntime"):
        Segmenter(OpenVinoModel(onnx_file), backend="onnxruntime")
    with pytest.raises(ValueError, match="bf16 runs with the pytorch or openvino backend"):
        Segmenter(copy.deepcopy(model), backend="onnxruntime", precision="bf16")
    not_onnx = tmp_path / "broken.onnx"
    not_onnx.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"broken.onnx: not a valid ONNX model .*refineseg export"):
        OpenVinoModel(not_onnx)


def test_a_missing_openvino_says_which_extra(onnx_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(
        MissingExtraError, match=r"running models with OpenVINO needs OpenVINO: pip install .*\[openvino\]"
    ):
        OpenVinoModel(onnx_file)


def test_predict_takes_backend_openvino(model, onnx_file, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "in" / "a.png"
    image.parent.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(image)
    out = tmp_path / "out"
    args = ["predict", str(image), "--weights", str(onnx_file), "--backend", "openvino", "--no-progress"]
    assert main([*args, "--output", str(out), "--precision", "fp32"]) == 0
    labels = np.asarray(Image.open(out / "a.png"))
    expected = Segmenter(copy.deepcopy(model), precision="fp32")(str(image))
    assert np.array_equal(labels, expected)
    assert main([*args, "--output", str(tmp_path / "o2"), "--compile"]) == 1
    assert "--compile applies to the pytorch backend only" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_with_backend_openvino_gives_the_pytorch_metrics(tmp_path, capsys):
    import json

    from .fixtures import make_camvid

    root = make_camvid(tmp_path / "camvid", n=2, size=(40, 56))
    torch.manual_seed(0)
    weights = refineseg.save_model(
        refineseg.get_model("lw_refinenet_resnet18", num_classes=11), tmp_path / "m.safetensors"
    )
    common = ["evaluate", "--weights", str(weights), "--dataset", "camvid", "--root", str(root), "--no-progress"]
    assert main([*common, "--output", str(tmp_path / "pt.json")]) == 0
    assert main([*common, "--output", str(tmp_path / "ov.json"), "--backend", "openvino"]) == 0
    pt, ovr = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("pt", "ov"))
    assert (pt["backend"], ovr["backend"]) == ("pytorch", "openvino")  # the JSON says what ran
    assert ovr["miou"] == pytest.approx(pt["miou"], abs=1e-6)


@pytest.mark.slow  # one export
def test_the_onnx_export_is_made_once_per_model_and_kept(model, monkeypatch):
    from refineseg.inference import export as export_module
    from refineseg.inference.export_cache import cached_onnx

    first = cached_onnx(copy.deepcopy(model))
    assert first.is_file() and first.parent.name == "onnx"

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(export_module, "export_onnx", no_export)
    assert cached_onnx(copy.deepcopy(model)) == first  # the same weights: the kept file
    seg = Segmenter(copy.deepcopy(model), backend="openvino", precision="fp32")
    assert seg.model.path == first
    changed = copy.deepcopy(model)
    with torch.no_grad():
        next(changed.parameters()).add_(1.0)
    with pytest.raises(AssertionError, match="exported again"):  # other weights: another file
        cached_onnx(changed)


@pytest.fixture
def measuring(monkeypatch):
    """``auto`` as users get it: measured, not fixed by the tests' REFINESEG_AUTO_BACKEND."""
    monkeypatch.delenv("REFINESEG_AUTO_BACKEND")


def test_auto_measures_once_then_reads_the_choice_back(model, monkeypatch, measuring):
    import time

    from refineseg.inference import auto_backend

    assert auto_backend.auto_candidates("fp32") == ["pytorch", "openvino", "onnxruntime"]
    assert auto_backend.auto_candidates("bf16") == ["pytorch", "openvino"]  # ONNX Runtime has no bf16
    assert auto_backend.auto_candidates("int8") == ["onnxruntime", "openvino"]
    delays = {"pytorch": 0.02, "openvino": 0.001, "onnxruntime": 0.01}
    made = []

    def prepare(backend):
        made.append(backend)
        return lambda x: time.sleep(delays[backend])

    chosen, ready = auto_backend.fastest_backend(model, "fp32", prepare, size=(32, 32))
    assert chosen == "openvino" and ready is not None and sorted(made) == sorted(delays)
    (entry,) = auto_backend.measured_choices().values()
    assert entry["backend"] == "openvino" and entry["precision"] == "fp32" and set(entry["ms"]) == set(delays)
    made.clear()
    assert auto_backend.fastest_backend(model, "fp32", prepare, size=(32, 32)) == ("openvino", None)
    assert made == []  # read back, not measured
    # another precision is another choice; without OpenVINO there is nothing to choose
    monkeypatch.setattr(auto_backend, "available", lambda module: module != "openvino")
    assert auto_backend.auto_candidates("fp32") == ["pytorch"]
    assert auto_backend.fastest_backend(model, "bf16", prepare) == ("pytorch", None) and made == []


def test_auto_choice_is_listed_by_models_hardware(model, capsys, measuring):
    from refineseg.inference import auto_backend

    auto_backend.fastest_backend(model, "fp32", lambda b: lambda x: None, size=(32, 32))
    assert main(["models", "--hardware"]) == 0
    out = capsys.readouterr().out
    assert "--backend auto compares pytorch, openvino, onnxruntime (fp32)" in out
    assert "lw_refinenet_resnet18 in fp32: " in out


@pytest.mark.slow  # exports and compiles for each candidate
def test_segmenter_with_backend_auto_runs_the_measured_runtime(model, measuring):
    seg = Segmenter(copy.deepcopy(model), backend="auto", precision="fp32")
    from refineseg.inference.auto_backend import measured_choices

    (entry,) = measured_choices().values()
    assert seg.backend == entry["backend"] and entry["backend"] in ("pytorch", "openvino", "onnxruntime")
    again = Segmenter(copy.deepcopy(model), backend="auto", precision="fp32")
    assert again.backend == seg.backend and len(measured_choices()) == 1
    image = np.random.default_rng(3).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    assert (again(image) == Segmenter(copy.deepcopy(model), precision="fp32", backend="pytorch")(image)).mean() > 0.999


def test_auto_is_the_default_and_the_variable_fixes_its_answer(model, tmp_path, monkeypatch):
    # no backend named: auto, here fixed to OpenVINO without measuring (nothing is kept)
    monkeypatch.setenv("REFINESEG_AUTO_BACKEND", "openvino")
    seg = Segmenter(copy.deepcopy(model), precision="fp32")
    assert seg.backend == "openvino"
    from refineseg.inference.auto_backend import measured_choices

    assert measured_choices() == {}
    reference = Segmenter(copy.deepcopy(model), precision="fp32", backend="pytorch")
    image = np.random.default_rng(4).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    assert (seg(image) == reference(image)).mean() > 0.999
    monkeypatch.setenv("REFINESEG_AUTO_BACKEND", "default")
    assert Segmenter(copy.deepcopy(model), precision="fp32").backend == "pytorch"
