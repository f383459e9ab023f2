"""The ``classes.txt`` edits the fixes name (``line 7 'bus' to '@ignore value=6'``).

No edit changes what another class's mask values mean: a line is never removed (every later
class would take the index, and so the mask value, of the one before it), and a value is added
to a class's existing values, not put in their place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..labels import IGNORE_INDEX, IGNORE_LINE, LabelSpace
from ..scan import RawKey
from ._text import raw_text


@dataclass(frozen=True)
class ClassLine:
    """One class line of ``classes.txt``: where it is and what it says (fields, without the comment).

    Attributes:
        number: The 1-based line number in the file.
        text: The line's fields joined by single spaces (its ``#`` comment left out).
        name: The class name, the line's first field.
    """

    number: int  # 1-based line number in the file
    text: str  # the fields joined by single spaces
    name: str


def class_lines(path: Path) -> list[ClassLine]:
    """The class lines of ``classes.txt`` in order (line i is train id i); ``@ignore`` lines are not classes.

    Args:
        path: The ``classes.txt`` file.

    Returns:
        One :class:`ClassLine` per class line, in file order; blank, comment-only and
        ``@ignore`` lines are skipped.
    """
    lines = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if fields and fields[0] != IGNORE_LINE:
            lines.append(ClassLine(number, " ".join(fields), fields[0]))
    return lines


def change(line: ClassLine, new: str) -> str:
    """How the fixes name one edit of classes.txt: ``line 7 'bus' to '@ignore value=6'``.

    Args:
        line: The class line being edited.
        new: The text it is to become.

    Returns:
        The edit as the fixes write it: the line number, its current text and ``new``.
    """
    return f"line {line.number} '{line.text}' to '{new}'"


def with_raw(text: str, raw: RawKey, own: Sequence[RawKey] = ()) -> str:
    """A class line that also declares ``raw``: appended to its ``value=``/``color=`` field, or a new
    field listing ``own`` (the values the line declares implicitly, its train id) and ``raw``.

    Args:
        text: The class line's text (its fields, as :attr:`ClassLine.text`).
        raw: The raw value, or RGB colour, to declare on the line.
        own: The values the line declares implicitly, kept in the new field when the line has no
            ``value=``/``color=`` field yet (``colour=`` counts as ``color=``).

    Returns:
        The line's new text.
    """
    key = "color=" if isinstance(raw, tuple) else "value="
    sep = ";" if isinstance(raw, tuple) else ","
    fields = text.split()
    for i, f in enumerate(fields):
        if f.startswith(key) or (key == "color=" and f.startswith("colour=")):
            fields[i] = f + sep + raw_text(raw)
            return " ".join(fields)
    return " ".join([*fields, key + sep.join(raw_text(r) for r in (*own, raw))])


def declaration(raws: Sequence[RawKey]) -> str:
    """``value=7,9`` or ``color=1,2,3;4,5,6`` for several raw values of one kind.

    Args:
        raws: The raw values, or the RGB colours, to declare; all of one kind.

    Returns:
        The ``value=`` field (``color=`` when ``raws`` are colours) that declares them all.
    """
    if raws and isinstance(raws[0], tuple):
        return "color=" + ";".join(raw_text(r) for r in raws)
    return "value=" + ",".join(raw_text(r) for r in raws)


def declared(labels: LabelSpace, raw: RawKey) -> bool:
    """A raw value or colour some line declares: a class, ``@ignore``, or (by default) 255 or a plain id.

    Args:
        labels: The split's label space.
        raw: A raw mask value, or an RGB colour for colour masks.

    Returns:
        Whether ``raw`` is declared: a colour listed in ``labels``' colours; a value listed in its
        raw values, 255, or a value it reads as a train id.
    """
    if isinstance(raw, tuple):
        return raw in (labels.mask_colors or {})
    return raw in (labels.raw_to_train or {}) or raw == IGNORE_INDEX or labels.train_id(raw) != IGNORE_INDEX


def declares_255(labels: LabelSpace) -> bool:
    """Whether 255 is declared: as a class's value, or by an ``@ignore`` line.

    Args:
        labels: The split's label space.

    Returns:
        ``True`` when ``labels`` lists 255 as a raw value or has an ``@ignore`` line.
    """
    return IGNORE_INDEX in (labels.raw_to_train or {}) or labels.ignore_declared


def raws_of(labels: LabelSpace, train: int) -> list[RawKey]:
    """The raw values (or colours) that become class ``train``.

    Args:
        labels: The split's label space.
        train: The class's train id.

    Returns:
        The colours mapped to ``train`` for colour masks, else the raw values 0..255 that map to it.
    """
    if labels.colour_masks:
        return [c for c, t in (labels.mask_colors or {}).items() if t == train]
    return [v for v in range(256) if labels.train_id(v) == train]


def drop_edits(labels: LabelSpace, lines: list[ClassLine], drop: set[str]) -> list[str] | None:
    """The classes.txt edits that take the classes ``drop`` out while every other class keeps its mask
    values: each dropped line becomes an ``@ignore`` line of its values, and a later class line that
    names no value (so its value was its line's index) is pinned to that value.

    Args:
        labels: The label space ``lines`` were read into.
        lines: The class lines of ``classes.txt``, as :func:`class_lines` returns them.
        drop: The names of the classes to take out.

    Returns:
        The edits in line order, each as :func:`change` writes it; ``None`` when every class would
        be dropped, or when ``lines`` are not as many as ``labels``' classes.
    """
    if len(lines) != labels.num_classes or all(line.name in drop for line in lines):
        return None
    edits, dropped_before = [], False
    for train, line in enumerate(lines):
        if line.name in drop:
            edits.append(change(line, f"{IGNORE_LINE} {declaration(raws_of(labels, train))}"))
            dropped_before = True
        elif dropped_before and not labels.colour_masks and "value=" not in line.text:
            edits.append(change(line, f"{line.text} value={train}"))
    return edits
