"""The classes of an import: a class-name file read (:func:`read_class_file`), and the names
written as ``classes.txt`` fields (:func:`class_tokens`, :func:`classes_txt`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..datasets import IGNORE_INDEX, DatasetError, LabelSpace
from ..labels import IGNORE_LINE, Colour

__all__ = ["class_token", "class_tokens", "classes_txt", "read_class_file"]


def class_token(name: str) -> str:
    """``name`` as one ``classes.txt`` field: whitespace and ``#`` (a comment there) become ``_`` and the
    ``@ignore`` keyword is escaped, so the file reads back with the same classes in the same order.

    Args:
        name: A class name.

    Returns:
        The field (``"unnamed"`` for an empty name).
    """
    token = "_".join(name.replace("#", "_").split()) or "unnamed"
    return f"_{token}" if token == IGNORE_LINE else token


def class_tokens(names: Iterable[str]) -> tuple[str, ...]:
    """The class names as ``classes.txt`` fields (:func:`class_token`), made unique (``car``, ``car_2``):
    the one spelling an import uses everywhere (``classes.txt``, its report, the dataset read back).

    Args:
        names: The class names, in class-index order.

    Returns:
        One field per name, in the same order.
    """
    tokens: list[str] = []
    seen: set[str] = set()
    for name in names:
        token = base = class_token(name)
        suffix = 2
        while token in seen:
            token, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(token)
        tokens.append(token)
    return tuple(tokens)


def classes_txt(labels: LabelSpace) -> str:
    """``classes.txt``: ``NAME R G B`` per class (names made unique fields), then ``@ignore value=255``,
    which says that 255 in the masks is void on purpose (a class may have no pixels, e.g. in a small split).

    Args:
        labels: The classes and their colours.

    Returns:
        The file's text.
    """
    lines = [
        f"{token} {r} {g} {b}\n"
        for token, (r, g, b) in zip(class_tokens(labels.class_names), labels.palette, strict=True)
    ]
    return "".join(lines) + f"{IGNORE_LINE} value={IGNORE_INDEX}\n"


def read_class_file(path: Path) -> tuple[list[str], list[Colour] | None]:
    """Class names, one per line (``NAME`` or ``NAME R G B``; a name may contain spaces), and their
    colours when every line gives one. Blank lines and ``#`` comments are skipped.

    Args:
        path: The class-name file.

    Returns:
        ``(names, colours)``; ``colours`` is ``None`` unless every line gives one.

    Raises:
        DatasetError: If the file is unreadable or names no class.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable class list ({exc})") from None
    names: list[str] = []
    colours: list[Colour] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) >= 4 and all(f.isdigit() and int(f) < 256 for f in fields[-3:]):
            colours.append((int(fields[-3]), int(fields[-2]), int(fields[-1])))
            names.append(" ".join(fields[:-3]))
        else:
            names.append(stripped)
    if not names:
        raise DatasetError(f"{path}: no class names (expected one name per line)")
    return names, colours if len(colours) == len(names) else None
