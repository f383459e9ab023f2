import subprocess
import sys

import torch

import refineseg
from refineseg.cli import main

from .reference_layouts import reference_state_dict


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "refineseg", "--help"], capture_output=True, text=True, check=True)
    assert "convert" in out.stdout and "models" in out.stdout


def test_models_lists_architectures_and_published_checkpoints(capsys):
    assert main(["models", "--params"]) == 0
    out = capsys.readouterr().out
    assert "refinenet_resnet101" in out and "118,052,437" in out and "unavailable" in out


def test_convert_writes_a_loadable_weights_file(tmp_path, capsys):
    torch.save(
        {"segmenter": {f"module.{k}": v for k, v in reference_state_dict("mbv2").items()}}, tmp_path / "mbv2.pth.tar"
    )
    out = tmp_path / "mbv2.safetensors"
    names = ",".join(f"c{i}" for i in range(21))
    assert (
        main(["convert", str(tmp_path / "mbv2.pth.tar"), "--arch", "mbv2", "--class-names", names, "-o", str(out)]) == 0
    )
    assert "3,284,565 parameters" in capsys.readouterr().out
    model = refineseg.load_model(out)
    assert model.arch == "lw_refinenet_mobilenet_v2" and model.meta.class_names[3] == "c3"


def test_convert_errors_are_one_line_and_non_zero(tmp_path, capsys):
    ckpt = tmp_path / "c.pth"
    torch.save(reference_state_dict("mbv2"), ckpt)
    existing = tmp_path / "exists.safetensors"
    existing.write_bytes(b"keep me")
    cases = [
        (
            ["convert", str(tmp_path / "absent.pth"), "--arch", "mbv2", "-o", str(tmp_path / "o.safetensors")],
            "no such checkpoint",
        ),
        (["convert", str(ckpt), "--arch", "mbv2", "-o", str(tmp_path / "o.pth")], "expected a .safetensors"),
        (["convert", str(ckpt), "--arch", "mbv2", "-o", str(existing)], "--force"),
        (["convert", str(ckpt), "--arch", "rf_lw50", "-o", str(tmp_path / "o.safetensors")], "no mapping"),
    ]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert existing.read_bytes() == b"keep me"
    assert not (tmp_path / "o.safetensors").exists()
