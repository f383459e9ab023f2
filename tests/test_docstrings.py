"""tools/check_docstrings.py: finds each kind of incomplete docstring, and none in refineseg."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    name = "check_docstrings_tool"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "check_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


SAMPLE = '''\
"""A module with one docstring of each kind, good and bad."""

from collections.abc import Iterator
from dataclasses import dataclass


def good(count: int, *names: str, **options: float) -> list[str]:
    """Everything documented.

    Args:
        count: How many.
        *names: The names.
        **options: The options.

    Returns:
        The names, ``count`` times.
    """
    return list(names) * count


def no_args(count: int) -> None:
    """Has a parameter, but no Args section."""


def wrong_name(count: int) -> None:
    """Documents a parameter the signature lacks.

    Args:
        amount: Not the parameter's name.
    """


def no_returns(count: int) -> int:
    """Returns something without saying what.

    Args:
        count: How many.
    """
    return count


def undocumented(count: int) -> None:
    pass


def numbers() -> Iterator[int]:
    """A generator: Yields is enough.

    Yields:
        0, 1, 2.
    """
    yield from range(3)


def _private(count: int) -> int:
    return count


@dataclass
class NoAttributes:
    """A dataclass without an Attributes section."""

    size: int


@dataclass
class Complete:
    """A dataclass with its fields documented.

    Attributes:
        size: The size.
    """

    size: int

    @property
    def double(self) -> int:
        return 2 * self.size


class Widget:
    """A class whose __init__ parameters are documented in __init__'s docstring."""

    def __init__(self, width: int) -> None:
        """Make one.

        Args:
            width: Its width.
        """
        self.width = width
'''


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("docpkg_root")
    package = root / "docpkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package to check."""\n')
    (package / "sample.py").write_text(SAMPLE)
    (package / "plain.py").write_text("def f() -> None:\n    pass\n")  # no module docstring either
    checked, problems = _tool().check(root, "docpkg")
    assert checked > 0
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.path, []).append(problem.message)
    return root, found


def test_complete_docstrings_are_not_reported(sample):
    _, found = sample
    for name in ("good", "numbers", "Complete", "Widget", "Widget.__init__", "_private"):
        assert f"docpkg.sample.{name}" not in found, found
    assert "docpkg" not in found and "docpkg.sample" not in found


def test_a_function_without_args_is_reported(sample):
    _, found = sample
    assert found["docpkg.sample.no_args"] == ["no Args section (parameters: count)"]


def test_a_wrong_parameter_name_is_reported(sample):
    _, found = sample
    messages = found["docpkg.sample.wrong_name"]
    assert "parameters not in Args: count" in messages
    assert any(m.startswith("griffe: ") and "'amount' does not appear in the function signature" in m for m in messages)


def test_missing_returns_and_docstrings_are_reported(sample):
    _, found = sample
    assert found["docpkg.sample.no_returns"] == ["no Returns section (-> int)"]
    assert found["docpkg.sample.undocumented"] == ["no docstring"]
    assert found["docpkg.sample.Complete.double"] == ["no docstring"]
    assert found["docpkg.plain"] == ["no docstring"]
    assert found["docpkg.plain.f"] == ["no docstring"]


def test_a_dataclass_without_attributes_is_reported(sample):
    _, found = sample
    assert found["docpkg.sample.NoAttributes"] == ["no Attributes section (a dataclass, NamedTuple or TypedDict)"]


def test_main_prints_file_line_object_problem_and_fails(sample, capsys):
    root, _ = sample
    assert _tool().main(["--package-dir", str(root), "--package", "docpkg", "docpkg.sample"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.endswith("sample.py:21 docpkg.sample.no_args: no Args section (parameters: count)") for line in lines
    )
    assert not any("docpkg.plain" in line for line in lines)  # the module filter


def test_main_passes_a_clean_module(tmp_path, capsys):
    package = tmp_path / "cleanpkg"
    package.mkdir()
    clean = textwrap.dedent(
        '''\
        """Clean."""


        def same(x: int) -> int:
            """The same.

            Args:
                x: In.

            Returns:
                ``x``.
            """
            return x
        '''
    )
    (package / "__init__.py").write_text(clean)
    assert _tool().main(["--package-dir", str(tmp_path), "--package", "cleanpkg"]) == 0
    assert capsys.readouterr().out == "docstrings: 2 public objects checked, no problems\n"


def test_refineseg_docstrings_are_complete():
    checked, problems = _tool().check(ROOT / "src", "refineseg")
    assert checked > 500
    assert [str(p) for p in problems] == []
