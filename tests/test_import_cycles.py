"""Imports run one way: tools/import_cycles.py finds no cycle in refineseg, and finds planted ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "import_cycles.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60)


def test_refineseg_has_no_import_cycle():
    result = _run()
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("no import cycle among ")


def test_cycles_through_deferred_imports_are_found_and_type_checking_ones_are_not(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")  # deferred, still an edge
    (pkg / "c.py").write_text("from . import a\ng = 1\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .e import x\n")
    (pkg / "e.py").write_text("from .d import y\n")
    result = _run("--root", str(pkg))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == ["import cycle: pkg.a -> pkg.sub.b -> pkg.c -> pkg.a"]


def test_a_cycle_between_packages_is_found_although_no_module_cycle_makes_it(tmp_path):
    pkg = tmp_path / "pkg"
    for sub in ("models", "weights"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "base.py").write_text("")
    (pkg / "models" / "registry.py").write_text("def f():\n    from ..weights.io import read\n")  # deferred
    (pkg / "weights" / "io.py").write_text("read = 1\n")
    (pkg / "weights" / "loading.py").write_text("from ..models import base\n")
    (pkg / "blocks.py").write_text("")  # a top-level module is a node of its own
    (pkg / "cli.py").write_text("from . import blocks\nfrom .weights import loading\n")
    result = _run("--root", str(pkg))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        "import cycle between packages: pkg.models -> pkg.weights -> pkg.models "
        "(pkg.models.registry imports pkg.weights.io; pkg.weights.loading imports pkg.models.base)"
    ]
    (pkg / "models" / "registry.py").write_text("")  # the cycle removed: packages and modules counted
    result = _run("--root", str(pkg))
    assert (result.returncode, result.stdout) == (0, "no import cycle among 9 modules and 5 packages\n")
