"""``--backend auto``, the default: what REFINESEG_AUTO_BACKEND fixes, and a runtime that cannot run the model."""

from __future__ import annotations

import pytest
import torch

from refineseg.cli import build_parser
from refineseg.inference import auto_backend
from refineseg.models import lw_refinenet_resnet18


@pytest.fixture
def everything_installed(monkeypatch):
    monkeypatch.setattr(auto_backend, "available", lambda module: True)


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        ("default", "fp32", "pytorch"),
        ("default", "int8", "onnxruntime"),
        ("openvino", "bf16", "openvino"),
        ("OpenVINO ", "int8", "openvino"),
        ("onnxruntime", "fp32", "onnxruntime"),
        ("onnxruntime", "bf16", "pytorch"),  # ONNX Runtime has no bf16 here: the default runs it
        ("pytorch", "int8", "onnxruntime"),  # int8 is a runtime's, never PyTorch's
    ],
)
def test_the_variable_fixes_the_answer_without_measuring(value, precision, expected, monkeypatch, everything_installed):
    monkeypatch.setenv(auto_backend.OVERRIDE_ENV, value)

    def prepare(backend):
        raise AssertionError(f"{backend} was prepared: auto measured")

    assert auto_backend.fastest_backend(torch.nn.Identity(), precision, prepare) == (expected, None)
    assert auto_backend.measured_choices() == {}


def test_unset_or_empty_means_measure(monkeypatch, everything_installed):
    monkeypatch.setenv(auto_backend.OVERRIDE_ENV, "")
    assert auto_backend.override(["pytorch", "openvino"]) is None
    monkeypatch.delenv(auto_backend.OVERRIDE_ENV)
    assert auto_backend.override(["pytorch", "openvino"]) is None


def test_an_unknown_value_is_a_one_line_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv(auto_backend.OVERRIDE_ENV, "tensorrt")
    with pytest.raises(ValueError, match=r"REFINESEG_AUTO_BACKEND='tensorrt': expected one of default, pytorch"):
        auto_backend.override(["pytorch"])


def test_a_runtime_that_cannot_run_the_model_is_left_out(monkeypatch, everything_installed, caplog):
    monkeypatch.delenv(auto_backend.OVERRIDE_ENV)
    model = lw_refinenet_resnet18(num_classes=3).eval()

    def prepare(backend):
        if backend == "openvino":
            raise RuntimeError("cannot compile\nsecond line")
        return lambda x: None

    with caplog.at_level("WARNING"):
        chosen, ready = auto_backend.fastest_backend(model, "bf16", prepare, size=(32, 32))
    assert chosen == "pytorch" and ready is not None
    assert "openvino cannot run it (cannot compile); not a candidate" in caplog.text
    (entry,) = auto_backend.measured_choices().values()
    assert set(entry["ms"]) == {"pytorch"}


def test_the_commands_default_to_auto():
    parser = build_parser()
    for command in (
        ["predict", "x.jpg", "-o", "out"],
        ["evaluate", "--dataset", "camvid", "--root", "r", "-o", "m.json"],
        ["serve"],
        ["rank", "x.jpg", "--weights", "camvid", "-o", "r.csv"],
    ):
        assert parser.parse_args(command).backend == "auto", command
