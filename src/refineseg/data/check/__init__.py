"""Checking a dataset before training: read every image and mask and report what would go wrong.

:func:`check_dataset` reads every (image, mask) pair of the chosen splits with a thread pool
(:func:`refineseg.data.scan.scan_pairs`) and returns a :class:`DataReport`: per split, the raw
mask values (or colours) with their pixel counts and what each becomes, and per class its pixels
and the images that show it; plus the :class:`Problem` list, each with its check id and the
one-line fix. :func:`format_report` renders the report as ``refineseg check-data`` prints it.

The modules: :mod:`~refineseg.data.check.report` (the report's dataclasses, the check ids),
:mod:`~refineseg.data.check.layout` and :mod:`~refineseg.data.check.rules` (the checks, each a
function yielding problems), :mod:`~refineseg.data.check.context` (what the rules read),
:mod:`~refineseg.data.check.runner` (:func:`check_dataset`) and
:mod:`~refineseg.data.check.format` (the text report).

Severity: an ``error`` means the data cannot train as declared, a ``warning`` that it can, but
something is likely unintended. Each problem's ``check`` is one of these ids (stable: the JSON
report and the summary line name them; :data:`CHECKS` lists them):

errors
    ``no-split``: no split found under the root; ``build``: a split that cannot be built (missing
    files, a broken ``classes.txt``); ``missing-mask``: images without masks;
    ``unreadable-image``, ``unreadable-mask``: files that cannot be read; ``size-mismatch``: an
    image and its mask of different sizes; ``colour-masks``: RGB colour masks while the classes
    are declared by value; ``silent-ignore``: ignored pixels (typically 255 in a 0/255 binary
    export) while a declared class has no pixels at all; ``jpeg-masks``: JPEG mask files;
    ``mask-not-png``: masks the ``generic`` folder layout does not read (not ``STEM.png``);
    ``class-absent``: a class with no pixels in a training split (``train``, ``trainval``,
    ``train_*``): the model cannot learn it.
warnings
    ``missing-image``: masks without images (not used); ``undeclared-values``: mask values (or
    colours) that no class declares (ignored); ``jpeg-like``: many rare undeclared values (masks
    that look JPEG-compressed or resized with interpolation); ``class-absent``: a class with no
    pixels in an evaluation split (its IoU cannot be measured); ``silent-ignore``: 0/255 binary
    masks whose 255 is ignored by default, while no class is empty.

Fixes that edit ``classes.txt`` name each edit (``line 7 'bus' to '@ignore value=6'``) and never
change what another class's mask values mean: a line is never removed (every later class would
take the index, and so the mask value, of the one before it). A class is dropped by turning its
line into an ``@ignore`` line of its values and giving each later class that relied on its line
index its value explicitly (``car`` -> ``car value=7``); a value is added to a class's existing
values, not put in their place.
"""

from __future__ import annotations

from .format import format_report, format_split
from .report import CHECKS, ERROR, WARNING, ClassStats, DataReport, Problem, RawValue, SplitReport
from .runner import check_dataset, default_splits

__all__ = [
    "CHECKS",
    "ERROR",
    "WARNING",
    "ClassStats",
    "DataReport",
    "Problem",
    "RawValue",
    "SplitReport",
    "check_dataset",
    "default_splits",
    "format_report",
    "format_split",
]
