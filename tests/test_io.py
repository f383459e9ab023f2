"""Atomic writes: whole files or nothing, with a new file's usual permissions."""

import os
import stat
from pathlib import Path

import pytest

from refineseg._io import atomic_write


def test_new_files_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    mask = os.umask(0o022)
    try:
        import importlib

        import refineseg._io

        importlib.reload(refineseg._io)
        path = refineseg._io.atomic_write(tmp_path / "out" / "a.txt", lambda tmp: Path(tmp).write_text("hello"))
    finally:
        os.umask(mask)
        importlib.reload(refineseg._io)
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
