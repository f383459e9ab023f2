"""What mask pixels mean: class names, colours, and the map from raw mask values to train ids.

Masks reach a model as train ids 0..C-1, with :data:`IGNORE_INDEX` (255) for pixels that
count in no loss and no metric. A dataset's raw masks rarely look like that: binary exports
store the foreground as 255, tools write arbitrary index values or RGB colours. A
:class:`LabelSpace` says how to get from one to the other, and ``classes.txt`` (the
``generic`` layout) declares it in one line per class::

    # NAME [R G B] [value=V[,V...]] [color=R,G,B[;R,G,B...]]
    background
    car 0 0 255 value=255          # a 0/255 binary mask: 255 is car
    person value=7,8               # raw values 7 and 8 are person
    @ignore value=254              # raw values (or color=) that are void

(``color=`` declares colour masks instead: ``road color=128,64,128``, then on every line.)

The positional ``R G B`` is the class's display colour; ``color=`` is the colour it has in
the masks (and the display colour when no positional one is given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..palette import default_palette

__all__ = [
    "IGNORE_INDEX",
    "IGNORE_LINE",
    "DatasetError",
    "LabelSpace",
    "default_palette",
    "read_label_space",
]

IGNORE_INDEX = 255
IGNORE_LINE = "@ignore"  # the classes.txt line that declares void values or colours

Colour = tuple[int, int, int]


class DatasetError(ValueError):
    """A dataset root, file or annotation that is not as the layout requires."""


@dataclass(frozen=True)
class LabelSpace:
    """Class names, their colours, and how raw masks map to train ids.

    Attributes:
        class_names: One name per class, in train-id order.
        palette: One display colour per class.
        raw_to_train: Raw mask value -> train id (or :data:`IGNORE_INDEX`). Values it does
            not list are kept as they are when ``unlisted_are_ids`` and they are valid train
            ids; otherwise they are ignored.
        mask_colors: For RGB colour masks, colour -> train id (or ignore); unlisted colours
            are ignored. ``None`` for value masks.
        unlisted_are_ids: Whether raw values ``raw_to_train`` does not list are train ids.
        ignore_declared: The void values were declared (an ``@ignore`` line), so a dataset
            with ignored pixels and an empty class is taken as meant, not as a mis-declared
            0/255 export.
    """

    class_names: tuple[str, ...]
    palette: tuple[Colour, ...]
    raw_to_train: dict[int, int] | None = None
    mask_colors: dict[Colour, int] | None = None
    unlisted_are_ids: bool = True
    ignore_declared: bool = False

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def colour_masks(self) -> bool:
        """Masks are RGB colour images (read with three channels)."""
        return self.mask_colors is not None

    def train_id(self, raw: int | Colour) -> int:
        """The train id of a raw mask value or colour.

        Args:
            raw: A raw mask value, or an RGB colour for colour masks.

        Returns:
            The train id, :data:`IGNORE_INDEX` when ignored.
        """
        if isinstance(raw, tuple):
            return (self.mask_colors or {}).get(raw, IGNORE_INDEX)
        if raw in (self.raw_to_train or {}):
            return (self.raw_to_train or {})[raw]
        return raw if self.unlisted_are_ids and 0 <= raw < self.num_classes else IGNORE_INDEX

    def lookup_table(self) -> np.ndarray:
        """Raw value (0..255) -> train id, for single-channel masks.

        Returns:
            A 256-entry uint8 array, built once.
        """
        return self._value_table

    @cached_property
    def _value_table(self) -> np.ndarray:
        return np.array([self.train_id(raw) for raw in range(256)], dtype=np.uint8)

    @cached_property
    def _colour_table(self) -> np.ndarray:
        """Colour code -> train id for all 2**24 colours (16 MB, built once per label space):
        one indexing pass per mask instead of a search per pixel."""
        table = np.full(1 << 24, IGNORE_INDEX, dtype=np.uint8)
        for colour, train in (self.mask_colors or {}).items():
            table[encode_colour(colour)] = train
        return table

    def to_train_ids(self, raw: np.ndarray) -> np.ndarray:
        """Map a raw mask to train ids.

        Args:
            raw: HxW uint8 values or HxWx3 uint8 colours.

        Returns:
            HxW uint8 train ids.
        """
        if raw.ndim == 2:
            return self._value_table[raw]
        return self._colour_table[encode_colours(raw)]

    def raw_name(self, raw: int | Colour) -> str:
        """What a raw mask value or colour becomes, for reports.

        Args:
            raw: A raw mask value or RGB colour.

        Returns:
            A class name, or how it is ignored (``"ignore"``, ``"ignore (255, the default)"``,
                ``"ignored (not declared)"``).
        """
        train = self.train_id(raw)
        if train != IGNORE_INDEX:
            return self.class_names[train]
        declared = raw in (self.mask_colors or {}) if isinstance(raw, tuple) else raw in (self.raw_to_train or {})
        if declared:
            return "ignore"
        return "ignore (255, the default)" if raw == IGNORE_INDEX else "ignored (not declared)"


def encode_colour(colour: Colour) -> int:
    """One colour as the number :func:`encode_colours` gives it.

    Args:
        colour: ``(R, G, B)``, each 0..255.

    Returns:
        ``R<<16 | G<<8 | B``.
    """
    r, g, b = colour
    return (r << 16) | (g << 8) | b


def encode_colours(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> HxW uint32 codes ``R<<16 | G<<8 | B`` (one number per colour).

    Args:
        rgb: HxWx3 uint8 colours.

    Returns:
        HxW uint32 codes.
    """
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def decode_colour(code: int) -> Colour:
    """The inverse of :func:`encode_colour`.

    Args:
        code: ``R<<16 | G<<8 | B``.

    Returns:
        ``(R, G, B)``.
    """
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


_LINE_HELP = "expected 'NAME [R G B] [value=V[,V...]] [color=R,G,B[;R,G,B...]]' or '@ignore value=V[,V...] | color=...'"


def _byte(text: str, where: str) -> int:
    if not re.fullmatch(r"\d{1,3}", text) or int(text) > 255:
        raise DatasetError(f"{where}: {text!r} is not a value 0..255")
    return int(text)


def _colours(text: str, where: str) -> list[Colour]:
    colours = []
    for part in text.split(";"):
        rgb = part.split(",")
        if len(rgb) != 3:
            raise DatasetError(f"{where}: color={text} must be R,G,B (several joined by ';')")
        colours.append((_byte(rgb[0], where), _byte(rgb[1], where), _byte(rgb[2], where)))
    return colours


@dataclass
class _Line:
    name: str
    display: Colour | None
    values: list[int]
    colours: list[Colour]
    where: str


def _parse_line(fields: list[str], where: str) -> _Line:
    name, rest = fields[0], fields[1:]
    values: list[int] = []
    colours: list[Colour] = []
    positional = []
    for field in rest:
        key, sep, text = field.partition("=")
        if not sep:
            positional.append(field)
        elif key == "value":
            values += [_byte(v, where) for v in text.split(",")]
        elif key in ("color", "colour"):
            colours += _colours(text, where)
        else:
            raise DatasetError(f"{where}: unknown key {key!r}; {_LINE_HELP}")
    if positional and (len(positional) != 3 or not all(p.isdigit() for p in positional)):
        raise DatasetError(f"{where}: {_LINE_HELP}, found {' '.join(fields)!r}")
    display = tuple(_byte(p, where) for p in positional) if positional else None
    return _Line(name, display, values, colours, where)  # type: ignore[arg-type]


def read_label_space(path: Path) -> LabelSpace:
    """Read ``classes.txt``: one class per line (line order is the train id), see the module doc.

    Args:
        path: The ``classes.txt`` file.

    Returns:
        The label space it declares.

    Raises:
        DatasetError: If a line is malformed, no class or too many are declared, a class is
            declared twice, value and colour declarations are mixed, or two lines claim one value.
    """
    lines: list[_Line] = []
    ignored = _Line(IGNORE_LINE, None, [], [], "")
    declared_ignore = False
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        fields = text.split("#", 1)[0].split()
        if not fields:
            continue
        line = _parse_line(fields, f"{path}:{number}")
        if line.name == IGNORE_LINE:
            if line.display is not None or not (line.values or line.colours):
                raise DatasetError(f"{path}:{number}: '@ignore' takes value=V[,V...] and/or color=R,G,B")
            ignored.values += line.values
            ignored.colours += line.colours
            declared_ignore = True
        else:
            lines.append(line)
    if not lines:
        raise DatasetError(f"{path}: no class names")
    if len(lines) > IGNORE_INDEX:
        raise DatasetError(f"{path}: {len(lines)} classes; at most {IGNORE_INDEX} fit in a mask")
    names = [line.name for line in lines]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise DatasetError(f"{path}: class {duplicate!r} is declared twice")
    by_colour = any(line.colours for line in lines) or bool(ignored.colours)
    by_value = any(line.values for line in lines) or bool(ignored.values)
    if by_colour and any(line.values for line in lines):
        raise DatasetError(f"{path}: masks are either colour (color=) or value (value=) masks, not both")
    if by_colour:
        missing = [line for line in lines if not line.colours]
        if missing:
            raise DatasetError(
                f"{missing[0].where}: class {missing[0].name!r} has no color=; in a colour-mask dataset every "
                "class needs its mask colour"
            )
    # a class without a display colour gets the default palette's colour for its index
    palette = tuple(
        line.display or (line.colours[0] if line.colours else fallback)
        for line, fallback in zip(lines, default_palette(len(lines)), strict=True)
    )
    if by_colour:
        colour_map: dict[Colour, int] = {}
        for train, line in [*enumerate(lines), (IGNORE_INDEX, ignored)]:
            for colour in line.colours:
                _claim(colour_map, colour, train, path, names)
        return LabelSpace(tuple(names), palette, mask_colors=colour_map, ignore_declared=declared_ignore)
    if by_value:
        raw_map: dict[int, int] = {}
        for train, line in enumerate(lines):
            for value in line.values or [train]:
                _claim(raw_map, value, train, path, names)
        for value in ignored.values:
            _claim(raw_map, value, IGNORE_INDEX, path, names)
        return LabelSpace(
            tuple(names), palette, raw_to_train=raw_map, unlisted_are_ids=False, ignore_declared=declared_ignore
        )
    return LabelSpace(tuple(names), palette)


def _claim(mapping: dict, raw: object, train: int, path: Path, names: list[str]) -> None:
    if raw in mapping and mapping[raw] != train:

        def label(t: int) -> str:
            return "@ignore" if t == IGNORE_INDEX else repr(names[t])

        raise DatasetError(f"{path}: mask value {raw} is claimed by both {label(mapping[raw])} and {label(train)}")
    mapping[raw] = train
