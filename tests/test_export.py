"""``refineseg export`` and ``refineseg.inference.export``/``runtime``: meta, dynamic shapes, checks.

Each ONNX export costs about 10 s here, so the file makes three (one shared round trip, the
command line, a failing check), four torch.export ones (a shared round trip, the command line,
a failing check) and four TorchScript exports.
"""

import contextlib
import copy
import io
import math
import os
import re

import numpy as np
import pytest
import torch

import refineseg
from refineseg._extras import install_hint
from refineseg.cli import main
from refineseg.inference import Segmenter
from refineseg.inference.export import (
    ExportError,
    ExportReport,
    export_onnx,
    export_torch_export,
    export_torchscript,
    second_check_size,
)
from refineseg.inference.export_format import export_format_for
from refineseg.inference.runtime import OnnxRuntimeModel, TorchExportModel, TorchScriptModel, load_exported

EXAMPLE = (64, 64)
CLASSES = ["sky", "road", "car"]
PALETTE = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]


def _needs_onnx():
    for name in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(name)


def _tiny_model():
    torch.manual_seed(0)
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3)
    model.meta.class_names = list(CLASSES)
    model.meta.palette = list(PALETTE)
    model.meta.mean, model.meta.std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    model.meta.provenance = {"dataset": "tiny"}
    return model


@pytest.fixture(scope="module")
def model():
    return _tiny_model()  # left in training mode: exporting must not change that


@pytest.fixture(scope="module")
def reference(model):
    return copy.deepcopy(model).eval()


@pytest.fixture(scope="module")
def onnx_export(model, tmp_path_factory):
    _needs_onnx()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folder = tmp_path_factory.mktemp("onnx")
    report = export_onnx(model, folder / "tiny.onnx", example_size=EXAMPLE)
    return report, before


@pytest.fixture(scope="module")
def weights(model, tmp_path_factory):
    return refineseg.save_model(model, tmp_path_factory.mktemp("weights") / "tiny.safetensors")


def _assert_matches(out, expected, tolerance=1e-3):
    assert out.shape == expected.shape and out.dtype == torch.float32
    assert (out - expected).abs().max().item() <= tolerance * expected.abs().max().item()
    assert torch.equal(out.argmax(1), expected.argmax(1))


def _assert_meta(loaded):
    assert loaded.arch == "lw_refinenet_resnet18" and loaded.num_classes == 3
    assert loaded.meta.class_names == CLASSES and loaded.meta.palette == PALETTE
    assert loaded.meta.mean == (0.5, 0.4, 0.3) and loaded.meta.std == (0.2, 0.25, 0.3)
    assert loaded.meta.provenance == {"dataset": "tiny"}


def test_onnx_round_trip_keeps_meta_and_dynamic_batch_height_width(onnx_export, reference):
    report, _ = onnx_export
    assert report.format == "onnx" and report.sizes == ((64, 64), (45, 45))
    assert report.max_diff <= 1e-3 and report.argmax_agreement >= 0.9999 and report.seconds > 0
    assert sorted(os.listdir(report.path.parent)) == ["tiny.onnx"]  # no temporary file left
    onnx_model = OnnxRuntimeModel(report.path, threads=1)
    _assert_meta(onnx_model)
    for shape in [(2, 3, 37, 83), (1, 3, 64, 64)]:
        x = torch.randn(shape)
        with torch.no_grad():
            expected = reference(x)
        _assert_matches(onnx_model(x), expected)
    assert isinstance(load_exported(report.path), OnnxRuntimeModel)


def test_onnx_model_stands_in_for_a_pytorch_model(onnx_export, reference):
    onnx_model = load_exported(onnx_export[0].path)
    assert onnx_model.eval() is onnx_model and onnx_model.to("cpu") is onnx_model
    with pytest.raises(ValueError, match="the onnxruntime backend runs on the CPU"):
        onnx_model.to("cuda")
    with pytest.raises(ValueError, match=r"expected an image batch \(N, 3, H, W\)"):
        onnx_model(torch.zeros(3, 8, 8))
    image = np.random.default_rng(0).integers(0, 255, (41, 57, 3), dtype=np.uint8)
    onnx_segmenter = Segmenter(onnx_model)
    assert onnx_segmenter.class_names == CLASSES and onnx_segmenter.palette == PALETTE
    assert np.array_equal(onnx_segmenter(image), Segmenter(reference)(image))


def test_one_backend_chooser_reads_the_suffix_everywhere(onnx_export, weights, reference):
    from refineseg.inference.backends import default_backend, exported_format, open_model

    onnx_file = onnx_export[0].path
    assert [exported_format(p) for p in ("a.onnx", "a.PT2", "a.ts", "a.safetensors", "camvid")] == [
        "onnx",
        "torch_export",
        "torchscript",
        None,
        None,
    ]
    assert exported_format("hf://org/model.onnx") is None  # a Hub repository, whatever its name ends in
    assert default_backend(onnx_file) == "onnxruntime" and default_backend(weights) == "pytorch"
    assert isinstance(open_model(onnx_file), OnnxRuntimeModel)
    assert open_model(weights).arch == "lw_refinenet_resnet18"
    # Segmenter and predict pick ONNX Runtime for an .onnx file without being told
    seg = Segmenter.from_pretrained(onnx_file)
    assert isinstance(seg.model, OnnxRuntimeModel)
    image = np.random.default_rng(1).integers(0, 255, (33, 47, 3), dtype=np.uint8)
    assert np.array_equal(seg(image), Segmenter(reference, precision="fp32")(image))
    with pytest.raises(ValueError, match="an ONNX file runs with backend='onnxruntime'"):
        Segmenter.from_pretrained(onnx_file, backend="pytorch")


def test_export_leaves_the_model_as_it_was(onnx_export, model):
    _, before = onnx_export
    assert model.training and all(p.requires_grad for p in model.parameters())
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.filterwarnings("ignore:export_torchscript. TorchScript export is deprecated:FutureWarning")
def test_torchscript_round_trip_keeps_meta_and_dynamic_shapes(tmp_path, model, reference):
    report = export_torchscript(model, tmp_path / "tiny.pt", example_size=EXAMPLE)
    assert report.format == "torchscript" and report.sizes == ((64, 64), (45, 45)) and report.max_diff <= 1e-3
    assert sorted(os.listdir(tmp_path)) == ["tiny.pt"]
    scripted = load_exported(tmp_path / "tiny.pt")
    assert isinstance(scripted, TorchScriptModel)
    _assert_meta(scripted)
    x = torch.randn(2, 3, 29, 50)
    with torch.no_grad():
        _assert_matches(scripted(x), reference(x))
    with pytest.raises(ValueError, match="the torchscript backend runs on the CPU"):
        scripted.to("cuda:0")
    assert model.training


@pytest.mark.filterwarnings("ignore:export_torchscript. TorchScript export is deprecated:FutureWarning")
@pytest.mark.parametrize(
    ("runtime", "export", "name"),
    [(TorchScriptModel, export_torchscript, "tiny.ts"), (TorchExportModel, export_torch_export, "tiny.pt2")],
    ids=["torchscript", "torch_export"],
)
@pytest.mark.slow
def test_a_failing_check_keeps_the_existing_file(tmp_path, model, monkeypatch, runtime, export, name):
    monkeypatch.setattr(runtime, "forward", lambda self, x: -self.module(x))
    out = tmp_path / name
    out.write_bytes(b"previous export")
    with pytest.raises(ExportError, match=r"lw_refinenet_resnet18 does not match PyTorch, not written: at 1x3x64x64"):
        export(model, out, example_size=EXAMPLE)
    assert out.read_bytes() == b"previous export" and sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.slow
def test_a_failing_onnx_check_raises_and_writes_nothing(tmp_path, model, monkeypatch):
    _needs_onnx()
    original = OnnxRuntimeModel.forward
    monkeypatch.setattr(OnnxRuntimeModel, "forward", lambda self, x: original(self, x).flip(1))
    with pytest.raises(ExportError, match="argmax agrees on") as error:
        export_onnx(model, tmp_path / "tiny.onnx", example_size=EXAMPLE, tolerance=1e-2)
    assert "at 2x3x45x45" in str(error.value) and "tolerance 0.01" in str(error.value)
    assert os.listdir(tmp_path) == []


def test_files_that_are_not_exports_are_refused(tmp_path):
    _needs_onnx()
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(FileNotFoundError, match="no such file"):
        OnnxRuntimeModel(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match=r"junk\.onnx: not a valid ONNX model .*refineseg export"):
        OnnxRuntimeModel(junk)

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g", [image], [logits])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match=r"plain\.onnx: an ONNX model without refineseg metadata"):
        OnnxRuntimeModel(tmp_path / "plain.onnx")
    helper.set_model_props(proto, {"refineseg": '{"format_version": 99, "num_classes": 3}'})
    onnx.save(proto, tmp_path / "future.onnx")
    with pytest.raises(ValueError, match=r"future\.onnx: corrupt refineseg export metadata \(format version 99"):
        OnnxRuntimeModel(tmp_path / "future.onnx")

    with pytest.raises(ValueError, match=r"junk\.pt: not a TorchScript archive"):
        TorchScriptModel(junk.rename(tmp_path / "junk.pt"))
    with pytest.raises(ValueError, match="cannot tell the export format"):
        load_exported(tmp_path / "model.safetensors")


def test_missing_onnx_packages_name_the_extra(tmp_path, model, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxscript", None)
    with pytest.raises(ImportError, match=f"needs onnxscript: {re.escape(install_hint('onnx'))}$"):
        export_onnx(model, tmp_path / "m.onnx")
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=f"needs onnxruntime: {re.escape(install_hint('onnx'))}$"):
        OnnxRuntimeModel(tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_second_check_size_is_odd_and_differs_in_both_dimensions():
    assert second_check_size((512, 512)) == (359, 359)
    assert second_check_size((64, 64)) == (45, 45)
    for size in [(1, 1), (2, 3), (3, 4), (360, 480), (1024, 2048)]:
        h, w = second_check_size(size)
        assert h % 2 == 1 and w % 2 == 1 and h != size[0] and w != size[1]


def test_summary_never_rounds_a_difference_up_to_identical(tmp_path):
    report = ExportReport(tmp_path / "m.onnx", "onnx", ((512, 512), (359, 359)), 2.1e-6, 0.9999999, 21.34)
    assert report.summary() == (
        f"exported {tmp_path / 'm.onnx'} (onnx, dynamic batch/height/width) in 21.3 s; checked against PyTorch "
        "at 512x512 and 359x359: max |diff| 2.1e-06 of the largest logit, argmax identical on 99.9999% of pixels"
    )
    assert export_format_for("a/b.TorchScript") == "torchscript" and export_format_for("m.onnx") == "onnx"
    assert math.isnan(ExportReport(tmp_path, "onnx", (), math.nan, math.nan, 1.0).max_diff)


@pytest.mark.slow
def test_cli_exports_a_weights_file(tmp_path, weights, capsys):
    _needs_onnx()
    out = tmp_path / "out" / "tiny.onnx"
    assert main(["export", "--weights", str(weights), "--output", str(out), "--size", "64", "64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"exported {out} (onnx, dynamic batch/height/width) in ")
    assert "checked against PyTorch at 64x64 and 45x45: max |diff| " in lines[0]
    assert "of the largest logit, argmax identical on 100.0000% of pixels" in lines[0]
    _assert_meta(load_exported(out))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "{tmp}/model.bin"], "cannot tell the export format from the suffix '.bin'"),
        (["-o", "{tmp}/model.pt", "--format", "onnx"], "a torchscript file name, but --format onnx"),
        (["-o", "{tmp}/model.pt", "--opset", "18"], "--opset applies to ONNX export only"),
        (["-o", "{tmp}/model.onnx", "--size", "0", "64"], "--size must be two positive integers"),
        (["-o", "{tmp}/model.onnx", "--tolerance", "0"], "--tolerance must be positive"),
        (["-o", "{weights}", "--format", "onnx"], "is the weights file itself"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(tmp_path, weights, capsys, extra, message):
    before = weights.read_bytes()
    args = [a.format(tmp=tmp_path, weights=weights) for a in extra]
    assert main(["export", "--weights", str(weights), *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refineseg export: error: ") and message in err[0], err
    assert os.listdir(tmp_path) == [] and weights.read_bytes() == before


def test_cli_rejects_an_unknown_format_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "-o", str(tmp_path / "m.onnx"), "--format", "tflite"])
    assert exit_.value.code == 2 and "invalid choice: 'tflite'" in capsys.readouterr().err


# -- torch.export (.pt2) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pt2_export(model, tmp_path_factory):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = export_torch_export(model, tmp_path_factory.mktemp("pt2") / "tiny.pt2", example_size=EXAMPLE)
    return report, before


@pytest.fixture(scope="module")
def camvid_pt2(tmp_path_factory):
    """An 11-class model (CamVid's classes) exported by the command line, for predict and evaluate."""
    torch.manual_seed(1)
    net = refineseg.get_model("lw_refinenet_resnet18", num_classes=11)
    folder = tmp_path_factory.mktemp("camvid_pt2")
    weights = refineseg.save_model(net, folder / "w.safetensors")
    out = folder / "m.pt2"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["export", "--weights", str(weights), "--output", str(out), "--size", "64", "64"])
    return code, out, copy.deepcopy(net).eval(), stdout.getvalue(), stderr.getvalue()


def test_torch_export_round_trip_keeps_meta_and_dynamic_batch_height_width(pt2_export, model, reference):
    report, before = pt2_export
    assert report.format == "torch_export" and report.sizes == ((64, 64), (45, 45))
    assert report.max_diff <= 1e-3 and report.argmax_agreement >= 0.9999 and report.seconds > 0
    assert sorted(os.listdir(report.path.parent)) == ["tiny.pt2"]  # no temporary file left
    program = load_exported(report.path)
    assert isinstance(program, TorchExportModel)
    _assert_meta(program)
    for shape in [(2, 3, 29, 50), (1, 3, 37, 83), (3, 3, 64, 64)]:  # 29: below 33, where the 1/32 map is 1 wide
        x = torch.randn(shape)
        with torch.no_grad():
            _assert_matches(program(x), reference(x))
    assert program.eval() is program and program.to("cpu") is program
    with pytest.raises(ValueError, match="the torch_export backend runs on the CPU"):
        program.to("cuda")
    with pytest.raises(ValueError, match=r"tiny\.pt2: an input of shape \(1, 3, 8, 40\) is outside what this exported"):
        program(torch.zeros(1, 3, 8, 40))
    assert model.training and all(p.requires_grad for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_torch_export_program_runs_in_a_segmenter(pt2_export, reference):
    program = load_exported(pt2_export[0].path)
    image = np.random.default_rng(0).integers(0, 255, (41, 57, 3), dtype=np.uint8)
    segmenter = Segmenter(program)
    assert segmenter.model is program and segmenter.precision == "fp32"
    assert segmenter.class_names == CLASSES and segmenter.palette == PALETTE
    assert np.array_equal(segmenter(image), Segmenter(reference, precision="fp32")(image))
    with pytest.raises(ValueError, match="precision bf16 applies to PyTorch models, not TorchExportModel"):
        Segmenter(program, precision="bf16")


def test_files_that_are_not_torch_export_archives_are_refused(tmp_path, capsys):
    import zipfile

    class AddOne(torch.nn.Module):
        def forward(self, x):
            return x + 1

    with pytest.raises(FileNotFoundError, match="no such file"):
        TorchExportModel(tmp_path / "absent.pt2")
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"not a zip archive at all")
    with pytest.raises(ValueError, match=r"junk\.pt2: not a torch\.export archive \(.*\); expected a file written by"):
        load_exported(junk)
    with zipfile.ZipFile(tmp_path / "other.pt2", "w") as archive:
        archive.writestr("notes/readme.txt", "hello")
    with pytest.raises(ValueError, match=r"other\.pt2: not a torch\.export archive"):
        TorchExportModel(tmp_path / "other.pt2")
    plain = torch.export.export(AddOne(), (torch.zeros(2, 3),))
    torch.export.save(plain, tmp_path / "plain.pt2")
    with pytest.raises(ValueError, match=r"plain\.pt2: a torch\.export archive without refineseg metadata"):
        TorchExportModel(tmp_path / "plain.pt2")
    torch.export.save(plain, tmp_path / "future.pt2", extra_files={"refineseg.json": '{"format_version": 99}'})
    with pytest.raises(ValueError, match=r"future\.pt2: corrupt refineseg export metadata \(format version 99"):
        TorchExportModel(tmp_path / "future.pt2")
    capsys.readouterr()
    # on the command line: one line, and none of the tracebacks torch.export.load logs
    (tmp_path / "in.png").write_bytes(b"")  # an input, or predict fails on it before reading the weights
    assert main(["predict", str(tmp_path / "in.png"), "--weights", str(junk), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("refineseg predict: error: ") and "junk.pt2: not a torch.export" in err[0]
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_exports_pt2_and_predict_and_evaluate_run_it(tmp_path, camvid_pt2, capsys):
    from PIL import Image

    from .fixtures import make_camvid

    code, out, net, stdout, stderr = camvid_pt2
    assert code == 0 and stderr == ""  # not even the warnings torch.export logs
    lines = stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"exported {out} (torch_export, dynamic batch/height/width) in ")
    assert "checked against PyTorch at 64x64 and 45x45: max |diff| " in lines[0]

    rgb = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "street.png")
    args = ["predict", str(tmp_path / "street.png"), "--weights", str(out), "-o", str(tmp_path / "pred")]
    assert main([*args, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "segmented 1 image(s)" in captured.out and "(fp32)" in captured.out and captured.err == ""
    with Image.open(tmp_path / "pred" / "street.png") as labels:
        assert labels.mode == "P" and labels.size == (56, 40)
        assert np.array_equal(np.asarray(labels), Segmenter(net, precision="fp32")(rgb))
    assert (tmp_path / "pred" / "street_overlay.jpg").is_file()

    for extra, message in [
        (["--backend", "onnxruntime"], "m.pt2: a torch.export program runs with backend='pytorch'"),
        (["--compile"], "m.pt2: compile applies to models built by refineseg, not an exported program"),
        (["--precision", "bf16"], "precision bf16 applies to PyTorch models, not TorchExportModel"),
    ]:
        assert main([*args, "--no-progress", *extra]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err

    root = make_camvid(tmp_path / "camvid", splits=("val",), size=(40, 48))
    metrics = tmp_path / "m.json"
    evaluate = ["evaluate", "--weights", str(out), "--dataset", "camvid", "--root", str(root), "-o", str(metrics)]
    assert main([*evaluate, "--no-progress"]) == 0
    assert metrics.is_file() and capsys.readouterr().err == ""


@pytest.mark.slow
def test_cli_torchscript_export_says_it_is_deprecated(tmp_path, weights, capsys):
    out = tmp_path / "tiny.ts"
    assert main(["export", "--weights", str(weights), "--output", str(out), "--size", "64", "64"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "refineseg export: note: TorchScript export is deprecated (PyTorch deprecates torch.jit in favour of "
        "torch.export); write a .pt2 file (torch.export) instead"
    ]
    assert len(captured.out.splitlines()) == 1 and captured.out.startswith(f"exported {out} (torchscript, ")
    _assert_meta(load_exported(out))
    with pytest.warns(FutureWarning, match=r"export_torchscript: TorchScript export is deprecated"):
        export_torchscript(_tiny_model(), tmp_path / "api.pt", example_size=EXAMPLE, check=False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "{tmp}/model.pt", "--format", "torch_export"], "a torchscript file name, but --format torch_export"),
        (["-o", "{tmp}/model.pt2", "--format", "onnx"], "a torch_export file name, but --format onnx"),
        (["-o", "{tmp}/model.pt2", "--opset", "18"], "--opset applies to ONNX export only"),
        (["-o", "{tmp}/model.pt2", "--int8"], "--int8 applies to ONNX export only"),
    ],
)
def test_cli_pt2_option_errors_are_one_line_and_write_nothing(tmp_path, weights, capsys, extra, message):
    assert main(["export", "--weights", str(weights), *[a.format(tmp=tmp_path) for a in extra]]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refineseg export: error: ") and message in err[0], err
    assert os.listdir(tmp_path) == []
    assert export_format_for("m.PT2") == "torch_export"
