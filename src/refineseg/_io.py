"""Files: atomic writes (a reader, or a crash, never sees a half-written output file) and the cache."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "cache_dir"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# read once: os.umask can only be read by setting it, which is not safe while other threads create files
_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is in the same directory, so the final ``os.replace`` is a rename
    within one file system; on any failure it is removed and ``path`` is left as it was.
    Missing parent directories are created.

    Args:
        path: The file to write.
        write: Called with the temporary file's name; writes the whole content there.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; give the usual permissions of a new file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cache_dir(kind: str) -> Path:
    """``$REFINESEG_HOME/KIND`` (default ``~/.cache/refineseg/KIND``): files refineseg can make again.

    Args:
        kind: The cache's sub-folder, e.g. ``"int8"``.

    Returns:
        The folder (not created here).
    """
    root = os.environ.get("REFINESEG_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "refineseg")
    return Path(root) / kind
