"""tools/metrics_table.py: the model card's tables from real ``refineseg evaluate`` JSON files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from refineseg.evaluation import EvaluationResult, write_json
from refineseg.evaluation.metrics import metrics_from_confusion

TOOL = Path(__file__).resolve().parents[1] / "tools" / "metrics_table.py"
CLASSES = ["Sky", "Road", "Pole"]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("metrics_table_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(tmp_path: Path, name: str, confusion: list[list[int]]) -> Path:
    matrix = torch.tensor(confusion)
    result = EvaluationResult(metrics_from_confusion(matrix), matrix, CLASSES, 2, {"scales": [1.0], "flip": False})
    path = tmp_path / name
    write_json(result, path, weights="w.safetensors")
    return path


def test_tables_quote_the_evaluate_figures(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _result(tmp_path, "a.json", [[8, 2, 0], [0, 10, 0], [0, 0, 0]])  # Pole absent: n/a, not 0
    b = _result(tmp_path, "b.json", [[10, 0, 0], [0, 10, 0], [0, 0, 0]])
    assert tool.main(["single=" + str(a), "a=b: flip=" + str(b), "--delta"]) == 0
    out = capsys.readouterr().out
    assert "| metric (%) | single | a=b: flip |" in out  # the last "=" splits, so labels may hold one
    assert "| **mIoU** | 81.67 | 100.00 (+18.33) |" in out  # (80 + 83.33) / 2 against 100
    assert "| Sky | 80.00 | 100.00 (+20.00) |" in out
    assert "| Pole | n/a | n/a |" in out
    data = json.loads(a.read_text())
    assert f"{100 * data['pixel_accuracy']:.2f}" == "90.00" and "| pixel accuracy | 90.00 | 100.00 (+10.00) |" in out


def test_bad_input_is_one_line_naming_the_file(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"miou": 0.5}))
    assert tool.main([f"x={other}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(other) in err and "per_class_iou" in err
    other.write_text("[1, 2]")
    assert tool.main([f"x={other}"]) == 2
    assert "not an object" in capsys.readouterr().err
    assert tool.main([str(other)]) == 2  # no LABEL=
    assert "expected LABEL=FILE" in capsys.readouterr().err
    a = _result(tmp_path, "a.json", [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    renamed = json.loads(a.read_text())
    renamed["per_class_iou"] = {"Sky": 1.0, "Road": 1.0, "Tree": 1.0}
    b = tmp_path / "b.json"
    b.write_text(json.dumps(renamed))
    assert tool.main([f"a={a}", f"b={b}"]) == 2
    assert "other classes" in capsys.readouterr().err
