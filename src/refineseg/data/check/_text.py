"""Small text helpers the problems and the text report share: counts, file lists, raw values."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..scan import RawKey

SHOWN = 5  # files named in a problem's message (the JSON lists them all)


def count(n: int, noun: str) -> str:
    """``1 image``, ``2 images``, ``2 classes``.

    Args:
        n: How many.
        noun: The singular noun.

    Returns:
        ``n`` and the noun, made plural (``-s``, or ``-es`` after an ``s``) unless ``n`` is 1.
    """
    return f"{n} {noun}{'' if n == 1 else 'es' if noun.endswith('s') else 's'}"


def verb(n: int, one: str, many: str) -> str:
    """``one`` for 1, else ``many``.

    Args:
        n: How many.
        one: The word for exactly one (``is``).
        many: The word for any other count (``are``).

    Returns:
        ``one`` when ``n`` is 1, else ``many``.
    """
    return one if n == 1 else many


def reason(error: str, path: Path) -> str:
    """A reader's error without the path it starts with (the message names the files).

    Args:
        error: The reader's error message.
        path: The file it was reading.

    Returns:
        ``error`` with a leading ``"{path}: "`` removed; unchanged when it does not start so.
    """
    return error.removeprefix(f"{path}: ")


def rel(path: Path | str, base: Path) -> str:
    """``path`` relative to ``base`` when it is under it, else as it is.

    Args:
        path: The file.
        base: The directory to show it relative to (the dataset root).

    Returns:
        The relative path, or ``path`` unchanged when it is not under ``base``.
    """
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def names(paths: Sequence[Path | str], base: Path) -> str:
    """The first :data:`SHOWN` paths relative to ``base``, and how many more there are.

    Args:
        paths: The files, in the order to name them.
        base: The directory to show them relative to (the dataset root).

    Returns:
        The first :data:`SHOWN` paths joined by ``, ``, followed by ``(and N more)`` when there are more.
    """
    shown = ", ".join(rel(p, base) for p in paths[:SHOWN])
    return shown + (f" (and {len(paths) - SHOWN} more)" if len(paths) > SHOWN else "")


def raw_text(raw: RawKey) -> str:
    """A raw value (``7``) or colour (``128,64,128``) as ``classes.txt`` writes it.

    Args:
        raw: A raw mask value, or an RGB colour.

    Returns:
        The value as a number, or the colour's channels joined by commas.
    """
    return ",".join(map(str, raw)) if isinstance(raw, tuple) else str(raw)
