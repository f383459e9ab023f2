"""Errors that guide: a mistyped name gets the nearest valid one, a missing extra the right pip
command, and nothing fails slowly or floods a log (issue 22, items 4 to 7)."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from refineseg import _extras
from refineseg._extras import (
    MissingExtraError,
    available,
    index_install_command,
    install_hint,
    require,
    require_all,
)
from refineseg._progress import progress_bar
from refineseg.cli import build_parser, main

from .fixtures import make_camvid, write_image

# ---------------------------------------------------------------------------------------------
# item 4: did you mean, in one line, for every command and option


def _parse_error(capsys, argv: list[str]) -> list[str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_a_mistyped_command_suggests_the_nearest_one(capsys):
    lines = _parse_error(capsys, ["predcit", "photo.jpg"])
    assert lines[0].startswith("refineseg: error: argument COMMAND: invalid choice: 'predcit' (choose from predict, ")
    assert lines[0].endswith("; did you mean 'predict'?)")
    assert lines[1:] == ["refineseg: see 'refineseg --help' for the usage"]  # not the usage block


def test_an_invalid_choice_is_one_line_with_a_suggestion_not_the_usage(capsys):
    lines = _parse_error(capsys, ["predict", "photo.jpg", "-o", "out", "--precision", "bf17"])
    assert lines == [
        "refineseg predict: error: argument --precision: invalid choice: 'bf17' "
        "(choose from fp32, bf16, int8, auto; did you mean 'bf16'?)",
        "refineseg predict: see 'refineseg predict --help' for the usage",
    ]
    lines = _parse_error(capsys, ["predict", "photo.jpg", "-o", "out", "--precision", "zzzz"])
    assert lines[0].endswith("invalid choice: 'zzzz' (choose from fp32, bf16, int8, auto)")  # nothing close


def test_other_parse_errors_are_short_too(capsys):
    lines = _parse_error(capsys, ["predict", "photo.jpg"])
    assert lines == [
        "refineseg predict: error: the following arguments are required: --output/-o",
        "refineseg predict: see 'refineseg predict --help' for the usage",
    ]


def _choice_options() -> list[tuple[str, str, str]]:
    """(command, option, a valid choice) for every option with choices of every command."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.choices and action.option_strings and all(isinstance(c, str) for c in action.choices):
                found.append((name, action.option_strings[-1], next(iter(action.choices))))
    return found


def test_every_option_with_choices_of_every_command_suggests_the_nearest(capsys):
    options = _choice_options()
    assert {("predict", "--precision"), ("export", "--format")} <= {(c, o) for c, o, _ in options}
    for command, option, choice in options:
        typo = choice[:-1] + ("x" if choice[-1] != "x" else "y")  # one letter off
        if typo in {c for c2, o2, c in options if (c2, o2) == (command, option)}:
            continue
        lines = _parse_error(capsys, [command, option, typo])
        assert len(lines) == 2, (command, option, lines)
        assert lines[0].startswith(f"refineseg {command}: error: argument {option}: invalid choice: {typo!r} (")
        assert "; did you mean '" in lines[0], lines[0]


def test_an_unknown_weights_name_suggests_the_nearest_and_where_names_are_listed(tmp_path, capsys):
    from refineseg.weights.catalogue import get_entry

    with pytest.raises(FileNotFoundError) as info:
        get_entry("camvdi")
    assert str(info.value) == (
        "'camvdi' is neither a weights file nor a weights name; did you mean 'camvid'? "
        "(`refineseg models` lists the names)"
    )
    with pytest.raises(FileNotFoundError) as info:
        get_entry("nothing_like_it")
    assert "did you mean" not in str(info.value) and "refinenet_resnet101_voc" not in str(info.value)
    image = tmp_path / "a.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    assert main(["predict", str(image), "-o", str(tmp_path / "out"), "--weights", "camvdi"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "refineseg predict: error: 'camvdi' is neither a weights file nor a weights name; did you mean 'camvid'? "
        "(`refineseg models` lists the names)"
    ]


# ---------------------------------------------------------------------------------------------
# item 5: inputs that give nothing to segment fail at once, saying why


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model fails the test: the error must come before it."""
    from refineseg.inference import Segmenter

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Segmenter, "from_pretrained", refuse)


def test_an_input_folder_that_is_the_output_says_its_images_are_skipped(tmp_path, capsys, no_model):
    for name in ("a.png", "b.jpg"):
        write_image(tmp_path / "photos" / name, np.zeros((8, 8, 3), np.uint8))
    folder = tmp_path / "photos"
    assert main(["predict", str(folder), "--output", str(folder)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"refineseg predict: error: {folder}: its 2 images are skipped because --output is the same folder; "
        "choose another --output"
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.jpg"]


def test_inputs_that_name_nothing_fail_before_the_model_is_loaded(tmp_path, capsys, no_model):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "empty"), "-o", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"refineseg predict: error: {tmp_path / 'empty'}: no images or videos in this folder"
    ]
    assert main(["predict", str(tmp_path / "absent.png"), str(tmp_path / "*.jpg"), "-o", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"refineseg predict: error: {tmp_path / 'absent.png'}: no such file or directory; "
        f"{tmp_path / '*.jpg'}: no files match this pattern"
    ]
    image = tmp_path / "a.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    assert main(["predict", str(image), "-o", str(tmp_path), "--no-overlay"]) == 1  # a.png -> a.png
    assert "would overwrite an input" in capsys.readouterr().err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# item 6: one guard for optional dependencies, whose pip command fits the installation


class _FakeDistribution:
    def __init__(self, direct_url: dict | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.direct_url is None else json.dumps(self.direct_url)


def _installed_as(monkeypatch, direct_url: dict | None) -> None:
    def distribution(name: str) -> _FakeDistribution:
        assert name == "refineseg"
        return _FakeDistribution(direct_url)

    monkeypatch.setattr(metadata, "distribution", distribution)


def test_the_install_hint_of_an_index_install_names_the_package(monkeypatch):
    _installed_as(monkeypatch, None)  # pip install refineseg: no direct_url.json
    assert install_hint("onnx") == "pip install 'refineseg[onnx]'"
    # a wheel file or a VCS URL: their folder is not there to install from again
    _installed_as(monkeypatch, {"url": "file:///tmp/refineseg-0.1.0-py3-none-any.whl", "archive_info": {}})
    assert install_hint("onnx") == "pip install 'refineseg[onnx]'"
    _installed_as(monkeypatch, {"url": "https://github.com/o/refineseg", "vcs_info": {"vcs": "git"}})
    assert install_hint("plot") == "pip install 'refineseg[plot]'"


def test_the_install_hint_of_a_checkout_install_names_its_folder(monkeypatch):
    _installed_as(monkeypatch, {"url": "file:///home/me/refineseg", "dir_info": {}})  # pip install .
    assert install_hint("onnx") == "pip install '/home/me/refineseg[onnx]'"
    _installed_as(monkeypatch, {"url": "file:///home/me/refineseg", "dir_info": {"editable": True}})  # pip install -e .
    assert install_hint("serve") == "pip install -e '/home/me/refineseg[serve]'"
    _installed_as(monkeypatch, {"url": "file:///home/me/my%20code/it's", "dir_info": {"editable": False}})
    assert install_hint("hub") == "pip install '/home/me/my code/it'\"'\"'s[hub]'"  # quoted for the shell


def test_the_install_hint_without_an_installation_names_the_source_tree(monkeypatch, tmp_path):
    def not_installed(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    # imported from a checkout (PYTHONPATH=src): the checkout; this test's own copy may be installed
    (tmp_path / "src" / "refineseg").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setattr(_extras, "__file__", str(tmp_path / "src" / "refineseg" / "_extras.py"))
    assert install_hint("onnx") == f"pip install '{tmp_path}[onnx]'"
    (tmp_path / "pyproject.toml").unlink()  # neither installed nor in a checkout: the package index
    assert install_hint("onnx") == "pip install 'refineseg[onnx]'"


def test_require_imports_or_raises_one_line_naming_the_extra(monkeypatch):
    assert require("json", "plot", purpose="x") is json
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    _installed_as(monkeypatch, None)
    with pytest.raises(MissingExtraError) as info:
        require("matplotlib", "plot", purpose="drawing")
    assert str(info.value) == "drawing needs matplotlib: pip install 'refineseg[plot]'"
    assert isinstance(info.value, ImportError) and info.value.extra == "plot" and info.value.modules == ("matplotlib",)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(
        MissingExtraError, match=r"^serving needs FastAPI, nonexistent_mod: pip install 'refineseg\[serve\]'$"
    ):
        require_all(
            {"FastAPI": "fastapi", "json": ("nonexistent_alt", "json"), "nonexistent_mod": "nonexistent_mod"},
            "serve",
            purpose="serving",
        )


def test_a_missing_extra_through_the_cli_is_one_line_and_a_non_zero_exit(tmp_path, capsys, monkeypatch):
    image = tmp_path / "street.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["visualize", str(image), "--output", str(tmp_path / "vis")]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"refineseg visualize: error: drawing activations needs matplotlib: {install_hint('plot')}"
    ]
    assert captured.out == "" and not (tmp_path / "vis").exists()


def test_every_optional_dependency_is_guarded_by_the_one_helper():
    source = Path(_extras.__file__).parent
    guard = re.compile(r"raise ImportError\(|raise ModuleNotFoundError\(|find_spec\(|[\"']pip install ")
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for path in sorted(source.rglob("*.py"))
        if (name := path.relative_to(source).as_posix()) != "_extras.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if guard.search(line)
    ]
    assert offenders == []


def test_available_finds_a_module_without_importing_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "this", raising=False)  # importing it prints the Zen of Python
    assert available("this") and "this" not in sys.modules
    assert not available("nonexistent_mod") and not available("nonexistent_mod.sub")


def test_the_index_install_command_ignores_how_refineseg_was_installed(monkeypatch):
    _installed_as(monkeypatch, {"url": "file:///home/me/refineseg", "dir_info": {"editable": True}})
    assert index_install_command("hub") == "pip install 'refineseg[hub]'"


# ---------------------------------------------------------------------------------------------
# item 7: progress bars only on a terminal


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_is_drawn_on_a_terminal_only():
    terminal, pipe = _Terminal(), io.StringIO()
    assert list(progress_bar(range(3), file=terminal, desc="x")) == [0, 1, 2]
    assert "\r" in terminal.getvalue() and "3/3" in terminal.getvalue()
    assert list(progress_bar(range(3), file=pipe, desc="x")) == [0, 1, 2]
    assert pipe.getvalue() == ""
    assert progress_bar(range(3), file=_Terminal(), show=False).disable  # --no-progress


def test_a_command_with_its_stderr_in_a_pipe_writes_no_progress_bar(tmp_path):
    root = make_camvid(tmp_path / "camvid", n=3)
    result = subprocess.run(
        [sys.executable, "-m", "refineseg", "check-data", "--dataset", "camvid", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "checking train" not in result.stderr, result.stderr
    assert "OK:" in result.stdout
