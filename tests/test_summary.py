"""``refineseg summary`` and ``refineseg.analysis.summary``: rows that add up to the model."""

from __future__ import annotations

import json

import pytest
import torch

import refineseg.models
from refineseg.analysis.summary import format_summary, mermaid_diagram, summarize
from refineseg.cli import main


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("refinenet_resnet18", {}),
        ("refinenet_resnet18", {"cascade": "single"}),
        ("refinenet_resnet18", {"image_scales": (1.0, 0.5)}),
        ("lw_refinenet_mobilenet_v2", {}),
        ("lw_refinenet_mobilenet_v2_torchvision", {}),
    ],
)
def test_rows_add_up_to_the_model(name, options):
    model = refineseg.get_model(name, num_classes=5, **options)
    summary = summarize(model, (64, 96))
    assert sum(r.params for r in summary.rows) == summary.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.flops for r in summary.rows) == summary.total_flops > 0
    assert summary.rows[-1].part == "head" and summary.rows[-1].out_shape == (1, 5, 16, 24)
    assert len({r.module for r in summary.rows}) == len(summary.rows)  # no part counted twice
    assert not any(m._forward_hooks for m in model.modules())  # the hooks are gone


def test_levels_and_blocks_of_refinenet_101():
    summary = summarize(refineseg.models.refinenet_resnet101(num_classes=21), (128, 128))
    assert summary.total_params == 118_052_437  # the published model's count
    levels = {r.part: r.level for r in summary.rows if r.part.endswith("pooling")}
    assert levels == {
        "block 1 pooling": "1/32",
        "block 2 pooling": "1/16",
        "block 3 pooling": "1/8",
        "block 4 pooling": "1/4",
    }
    fourth = summary.groups["block 4 (1/4)"]
    assert fourth["flops"] > 0.5 * summary.total_flops  # the 1/4-resolution block dominates
    # 2 RCUs = 4 convs of 256x256x3x3 with one bias
    rcus = next(r for r in summary.rows if r.module == "decoder.blocks.3.adapt.0")
    assert rcus.params == 4 * 256 * 256 * 9 + 2 * 256 and rcus.out_shape == (1, 256, 32, 32)


def test_timing_adds_a_time_per_part():
    summary = summarize(refineseg.models.lw_refinenet_resnet18(num_classes=3), (32, 32), time_repeats=2)
    assert summary.total_seconds is not None and summary.total_seconds > 0
    assert all(r.seconds is not None and r.seconds >= 0 for r in summary.rows)
    assert sum(r.seconds or 0 for r in summary.rows) <= 1.5 * summary.total_seconds
    assert "time %" in format_summary(summary)


def test_mermaid_diagram_follows_the_cascade():
    text = mermaid_diagram(refineseg.models.refinenet_resnet18(num_classes=3, cascade="2-cascade"))
    assert text.startswith("flowchart BT")
    assert "b0 --> b1" in text and "b1 --> b2" not in text  # two blocks
    assert "l3 --> b0" in text and "l0 --> b1" in text  # 1/32+1/16 first, then 1/8+1/4
    assert "f0 --> f1" in text  # the encoder is a chain


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert (
        main(["summary", "lw_refinenet_resnet18", "--num-classes", "4", "--size", "48", "64", "--json", str(out)]) == 0
    )
    text = capsys.readouterr().out
    assert "block 4 pooling" in text and "total" in text and "share" in text
    head, pooling = text.splitlines()[1], next(line for line in text.splitlines() if "block 4 pooling" in line)
    assert "channels" in head and "1/4" in pooling and " 256 " in pooling
    data = json.loads(out.read_text())
    assert data["input_shape"] == [1, 3, 48, 64] and data["rows"][-1]["out_shape"] == [1, 4, 12, 16]


def test_cli_summarises_a_weights_file(tmp_path, capsys):
    torch.manual_seed(0)
    path = refineseg.save_model(refineseg.models.lw_refinenet_resnet18(num_classes=3), tmp_path / "m.safetensors")
    assert main(["summary", str(path), "--size", "32", "32"]) == 0
    assert "lw_refinenet_resnet18" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "neither a model name"),
        (["lw_refinenet_resnet18", "--size", "0", "8"], "--size"),
        (["lw_refinenet_timm"], "model_name"),
    ],
)
def test_cli_errors_are_one_line(args, message, capsys):
    assert main(["summary", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
