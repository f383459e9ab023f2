"""Precision: bf16 models convert once and agree with fp32; auto follows the CPU; bad values are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import refineseg.models
from refineseg.cli import main
from refineseg.inference import Segmenter, optimize_for_inference
from refineseg.inference import precision as precision_module
from refineseg.inference.precision import CpuFeatures, parse_cpuinfo, resolve_precision

from .fixtures import randomize_batch_norms

CPUINFO = """processor\t: 0
model name\t: Some Xeon
flags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Some Xeon
flags\t\t: fpu
"""


def test_cpuinfo_names_the_cpu_and_its_matrix_instruction_sets():
    features = parse_cpuinfo(CPUINFO)
    assert features.name == "Some Xeon"
    assert features.isa == ("AVX2", "AVX512", "AVX512-VNNI", "AVX512-BF16", "AMX-BF16", "AMX-INT8")
    assert features.native_bf16 and "native bf16: yes" in features.describe()
    old = parse_cpuinfo("model name : Old Core\nflags : sse4_2 avx2\n")
    assert old.isa == ("AVX2",) and not old.native_bf16


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_picks_bf16_only_on_cpus_with_native_bf16(monkeypatch, native, expected):
    isa = ("AVX512-BF16",) if native else ("AVX2",)
    monkeypatch.setattr(precision_module, "cpu_features", lambda: CpuFeatures("test", isa))
    assert resolve_precision("auto") == expected
    assert resolve_precision("auto", "cuda") == "fp32"  # the CPU's matrix units say nothing about a GPU
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"


def test_an_unknown_precision_is_one_clear_error():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, int8, auto, got 'int4'"):
        resolve_precision("int4")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=5).eval()
    randomize_batch_norms(net)
    return net


def test_bf16_converts_the_weights_once_and_returns_fp32(model):
    fast = optimize_for_inference(model, precision="bf16")
    assert all(p.dtype == torch.bfloat16 for p in fast.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the original is untouched
    x = torch.randn(2, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, got = model(x), fast(x)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert float((got - expected).abs().max() / expected.abs().max()) < 5e-2
    assert float((got.argmax(1) == expected.argmax(1)).float().mean()) > 0.97
    assert fast.num_classes == 5 and fast.meta is not None  # still the model's own class


def test_a_segmenter_in_bf16_labels_like_fp32(model):
    image = np.random.default_rng(2).integers(0, 255, (72, 96, 3), dtype=np.uint8)
    exact = Segmenter(model)(image)
    half = Segmenter(model, precision="bf16")
    assert half.precision == "bf16"
    assert (half(image) == exact).mean() > 0.97


def test_the_command_line_takes_precision_and_refuses_bad_values(tmp_path, capsys):
    from .fixtures import write_image

    write_image(tmp_path / "a.png", np.zeros((40, 56, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "a.png"), "--output", str(out), "--precision", "bf16", "--no-progress"]) == 0
    assert (out / "a.png").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(tmp_path / "a.png"), "--output", str(out), "--precision", "int4"])
    assert exit_info.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err
    args = ["predict", str(tmp_path / "a.png"), "--output", str(out), "--backend", "onnxruntime"]
    assert main([*args, "--precision", "bf16"]) == 1
    assert "--precision bf16 runs with the pytorch or openvino backend, not onnxruntime" in capsys.readouterr().err
    assert main(["models", "--hardware"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("cpu: ") and "--precision auto runs " in printed


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_inference_defaults_to_auto_and_says_what_ran(monkeypatch, model, native, expected):
    isa = ("AVX512-BF16",) if native else ("AVX2",)
    monkeypatch.setattr(precision_module, "cpu_features", lambda: CpuFeatures("test", isa))
    assert Segmenter(model).precision == expected
    assert Segmenter(model, precision="fp32").precision == "fp32"
    assert Segmenter(model, optimize=False).precision == "fp32"  # as built means as built


def test_auto_falls_back_to_fp32_for_a_model_bf16_moves_too_far(monkeypatch, model, caplog):
    monkeypatch.setattr(precision_module, "cpu_features", lambda: CpuFeatures("test", ("AMX-BF16",)))
    with caplog.at_level("INFO", logger="refineseg"):
        fast = optimize_for_inference(model, precision="auto", tolerance=1e-9)  # no bf16 model is that close
    assert precision_module.precision_of(fast) == "fp32"
    assert "running fp32" in caplog.text
    with pytest.raises(ValueError, match="differ by"):
        optimize_for_inference(model, precision="bf16", tolerance=1e-9)  # asked for bf16 explicitly: an error


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16-mixed"), (False, "32-true")])
def test_training_on_a_cpu_uses_bf16_mixed_where_it_is_native(monkeypatch, native, expected):
    from refineseg.training import TrainConfig
    from refineseg.training.run import _precision

    isa = ("AVX512-BF16",) if native else ("AVX2",)
    monkeypatch.setattr(precision_module, "cpu_features", lambda: CpuFeatures("test", isa))
    assert _precision(TrainConfig(dataset="camvid", root="x"), "cpu") == expected
    assert _precision(TrainConfig(dataset="camvid", root="x", precision="auto"), "cpu") == expected
    assert _precision(TrainConfig(dataset="camvid", root="x", precision="32-true"), "cpu") == "32-true"
