"""Progress bars that draw only where someone watches them: a terminal or a notebook.

Every progress bar refineseg shows (``predict``, ``evaluate``, ``check-data``, training) is made
here. tqdm redraws its line with a carriage return at every update, which on a terminal is a bar,
but in a file or a pipe (``refineseg evaluate ... 2> log``, a CI job, ``| tee``) is one more line
each time: a 233-image evaluation wrote 60 KB of them. So a bar whose stream is not a terminal is
not shown at all; the commands' own result lines still are. A leaf module: tqdm is imported only
when a bar is made.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

__all__ = ["progress_bar", "write_above"]


def _interactive(stream: IO[str]) -> bool:
    """Whether a bar on ``stream`` is seen as a bar: a terminal, or a notebook's widget."""
    from tqdm import auto

    if auto.notebook_tqdm is not auto.std_tqdm:  # tqdm.auto chose Jupyter's widget, not drawn on the stream
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool = True, **options: Any) -> Any:
    """A tqdm bar on stderr, drawn only when ``show`` and stderr is a terminal (or in a notebook).

    A bar that is not drawn is tqdm's disabled bar: iterating, ``update`` and ``close`` work
    (and do not count), so callers use it the same way either way; ``bar.disable`` tells.

    Args:
        iterable: What to iterate over, as ``tqdm(iterable)``; ``None`` for a bar advanced with ``update``.
        show: Whether the caller wants a bar at all (``--no-progress`` says no).
        **options: tqdm's options (``total``, ``desc``, ``unit``, ``leave``, ``file``...).

    Returns:
        The ``tqdm`` bar (disabled when not drawn).
    """
    from tqdm.auto import tqdm

    stream = options.pop("file", None) or sys.stderr
    return tqdm(iterable, file=stream, disable=not (show and _interactive(stream)), **options)


def write_above(message: str) -> None:
    """Print ``message`` on stderr without breaking a progress bar being drawn there.

    Args:
        message: One line.
    """
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)
