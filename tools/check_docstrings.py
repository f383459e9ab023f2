"""Check that every public object of ``refineseg`` has a complete Google-style docstring.

The package is loaded statically with griffe (nothing is imported or run) and every docstring
is parsed with griffe's Google parser, as mkdocstrings parses it for the API reference site.

What is checked:

* every module, including underscore modules (``_plot``, ``cli/_options``, ...): their public
  names are the package's internal API, shared between modules, and follow the same rule;
  only their underscore members are skipped, as everywhere. Dunder modules (``__main__``,
  the ``python -m`` entry point) are skipped; the package's ``__init__`` is checked;
* in a module, its public classes and functions; in a public class, its public methods,
  properties and nested classes, and ``__call__``. A name starting with ``_`` is skipped,
  with everything inside it; so are the other dunders (``__init__`` is folded into its
  class, see below), names a module imports from elsewhere (checked where they are
  defined) and attributes other than properties (constants need no docstring).

Rules (each broken one is a problem, printed as ``FILE:LINE OBJECT: PROBLEM``):

* a module, class, function, method or property without a docstring;
* a function or method with parameters (``self`` and ``cls`` aside, ``*args`` and
  ``**kwargs`` included) without an ``Args:`` section, or one that leaves a parameter out;
  a class's ``__init__`` parameters may be documented in the class docstring or in
  ``__init__``'s (mkdocs merges the two);
* a function annotated to return something other than ``None`` (or ``NoReturn``/``Never``)
  without ``Returns:``; for an ``Iterator``/``Generator``/``Iterable`` annotation (a generator
  or a ``@contextmanager``) ``Yields:`` does as well. Properties are exempt; ``__init__`` and
  functions without a return annotation are not checked;
* a dataclass, ``NamedTuple`` or ``TypedDict`` without an ``Attributes:`` section, or one that
  leaves a field out (a dataclass may list its fields under ``Args:`` instead);
* anything griffe logs at warning level or above while loading the package or parsing a
  docstring: a documented parameter the signature lacks, a parameter with no type in either
  place, an unparsable section... (what would break ``mkdocs build --strict``).

``Raises:`` cannot be checked statically with any precision and is left to review.

Exemptions: :data:`EXEMPT`, object paths with the reason, for the few objects whose docstring
is right although a rule says otherwise. There is no inline escape: none has been needed.

Usage::

    python tools/check_docstrings.py                      # the whole package, from the repo root
    python tools/check_docstrings.py refineseg.analysis   # only modules under these names

The exit status is 0 when there is no problem (it prints ``docstrings: N public objects
checked, no problems``), 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import griffe

# Object paths exempt from the rules, with the reason. Keep it short: an exemption is a
# docstring the checker cannot judge, never one that is merely unfinished.
EXEMPT: dict[str, str] = {}

# Return annotations that mean "returns nothing".
NO_RETURN = {"None", "NoReturn", "Never"}
# Return annotations whose values are produced lazily: ``Yields:`` documents them as well as ``Returns:``.
ITERATORS = {"Iterator", "Generator", "Iterable", "AsyncIterator", "AsyncGenerator", "AsyncIterable"}
# Base classes that make a class a record of named fields, documented under ``Attributes:``.
RECORD_BASES = {"NamedTuple", "TypedDict"}


@dataclass(frozen=True)
class Problem:
    """One broken rule.

    Attributes:
        location: ``FILE:LINE`` of the object (the file relative to the working directory
            when it lies under it).
        path: The object's dotted path, e.g. ``refineseg.analysis.summary.summarize``.
        message: What is wrong.
    """

    location: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.location} {self.path}: {self.message}"


class _Capture(logging.Handler):
    """Collects griffe's warnings (and errors) while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def take(self) -> list[str]:
        messages, self.messages = self.messages, []
        return messages


def _location(obj: griffe.Object) -> str:
    path = obj.filepath if isinstance(obj.filepath, Path) else Path(str(obj.filepath))
    try:
        shown = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = path
    return f"{shown}:{obj.lineno or 0}"


def _public(name: str) -> bool:
    return not name.startswith("_") or name == "__call__"


def _head(annotation: object) -> str:
    """The outermost name of an annotation: ``Iterator`` for ``collections.abc.Iterator[int]``."""
    text = str(annotation).strip().strip("'\"")
    return text.split("[", 1)[0].rsplit(".", 1)[-1].strip()


def _sections(obj: griffe.Object, capture: _Capture) -> tuple[list[griffe.DocstringSection], list[str]]:
    """The parsed sections of ``obj``'s docstring and the warnings griffe logged parsing it."""
    assert obj.docstring is not None
    capture.take()
    sections = obj.docstring.parse(griffe.Parser.google)
    return sections, capture.take()


def _names(sections: Sequence[griffe.DocstringSection], kind: griffe.DocstringSectionKind) -> set[str]:
    return {item.name.lstrip("*") for section in sections if section.kind is kind for item in section.value}


def _kinds(sections: Sequence[griffe.DocstringSection]) -> set[griffe.DocstringSectionKind]:
    return {section.kind for section in sections}


def _params(function: griffe.Function) -> list[str]:
    return [p.name for p in function.parameters if p.name not in ("self", "cls")]


def _is_record(cls: griffe.Class) -> bool:
    return "dataclass" in cls.labels or any(_head(base) in RECORD_BASES for base in cls.bases)


def _fields(cls: griffe.Class) -> list[str]:
    """A record's own public fields (griffe labels ``ClassVar`` annotations class attributes)."""
    return [
        name
        for name, member in cls.members.items()
        if not member.is_alias and member.is_attribute and _public(name) and "instance-attribute" in member.labels
    ]


class _Checker:
    def __init__(self, capture: _Capture) -> None:
        self.capture = capture
        self.problems: list[Problem] = []
        self.checked = 0

    def problem(self, obj: griffe.Object, message: str) -> None:
        if obj.path not in EXEMPT:
            self.problems.append(Problem(_location(obj), obj.path, message))

    def parse(self, obj: griffe.Object) -> list[griffe.DocstringSection] | None:
        """Count ``obj``, check it has a docstring and report griffe's warnings on it."""
        self.checked += 1
        if obj.docstring is None or not obj.docstring.value.strip():
            self.problem(obj, "no docstring")
            return None
        sections, warnings = _sections(obj, self.capture)
        for warning in warnings:
            self.problem(obj, f"griffe: {warning}")
        return sections

    def module(self, module: griffe.Module) -> None:
        self.parse(module)
        self.members(module)

    def members(self, parent: griffe.Object) -> None:
        for name, member in parent.members.items():
            if isinstance(member, griffe.Alias) or not _public(name):
                continue  # imported names are checked where they are defined
            if isinstance(member, griffe.Class):
                self.cls(member)
            elif isinstance(member, griffe.Function):
                self.function(member)
            elif isinstance(member, griffe.Attribute) and "property" in member.labels:
                self.parse(member)  # a property needs a docstring; no Args/Returns
            # modules are walked on their own (see walk_modules); other attributes need no docstring

    def cls(self, cls: griffe.Class) -> None:
        sections = self.parse(cls)
        init = cls.members.get("__init__")
        init_sections: list[griffe.DocstringSection] = []
        record = _is_record(cls)
        # a dataclass's __init__ is made from its fields: documented by Attributes
        if isinstance(init, griffe.Function) and not record and init.docstring is not None:
            init_sections, warnings = _sections(init, self.capture)
            for warning in warnings:
                self.problem(init, f"griffe: {warning}")
        if sections is None:
            self.members(cls)
            return
        both = [*sections, *init_sections]
        if record:
            if griffe.DocstringSectionKind.attributes not in _kinds(sections):
                self.problem(cls, "no Attributes section (a dataclass, NamedTuple or TypedDict)")
            else:
                documented = _names(both, griffe.DocstringSectionKind.attributes) | _names(
                    both, griffe.DocstringSectionKind.parameters
                )
                missing = [f for f in _fields(cls) if f not in documented]
                if missing:
                    self.problem(cls, f"fields not in Attributes: {', '.join(missing)}")
        elif isinstance(init, griffe.Function):
            self.arguments(cls, _params(init), both)
        self.members(cls)

    def arguments(self, obj: griffe.Object, params: list[str], sections: list[griffe.DocstringSection]) -> None:
        if not params:
            return
        if griffe.DocstringSectionKind.parameters not in _kinds(sections):
            self.problem(obj, f"no Args section (parameters: {', '.join(params)})")
            return
        documented = _names(sections, griffe.DocstringSectionKind.parameters)
        missing = [p for p in params if p not in documented]
        if missing:
            self.problem(obj, f"parameters not in Args: {', '.join(missing)}")

    def function(self, function: griffe.Function) -> None:
        sections = self.parse(function)
        if sections is None:
            return
        self.arguments(function, _params(function), sections)
        if function.returns is None or _head(function.returns) in NO_RETURN:
            return
        kinds = _kinds(sections)
        if griffe.DocstringSectionKind.returns in kinds:
            return
        if _head(function.returns) in ITERATORS:
            if griffe.DocstringSectionKind.yields not in kinds:
                self.problem(function, f"no Returns or Yields section (-> {function.returns})")
        else:
            self.problem(function, f"no Returns section (-> {function.returns})")


def walk_modules(module: griffe.Module) -> Iterator[griffe.Module]:
    """``module`` and every module under it, depth first, in source order.

    Args:
        module: A package or module loaded by griffe.

    Yields:
        The modules, ``module`` first.
    """
    yield module
    for member in module.members.values():
        if isinstance(member, griffe.Module):
            yield from walk_modules(member)


def check(
    package_dir: str | Path, package: str = "refineseg", modules: Sequence[str] = ()
) -> tuple[int, list[Problem]]:
    """Load ``package`` from ``package_dir`` with griffe and check its docstrings.

    Args:
        package_dir: The folder that holds the package (``src`` for a src layout).
        package: The package's import name.
        modules: Check only these modules and the modules under them (dotted names,
            ``refineseg.analysis``); all of them when empty.

    Returns:
        How many public objects were checked, and the problems, in source order.

    Raises:
        ModuleNotFoundError: If ``package`` is not in ``package_dir``.
    """
    capture = _Capture()
    # griffe's messages go to the "griffe" logger, unless a tool re-pointed them: importing
    # mkdocstrings' Python handler makes them a LoggerAdapter of mkdocs' own logger
    log = getattr(griffe.logger, "logger", None)
    if not isinstance(log, logging.Logger):
        log = logging.getLogger("griffe")
    # its own level: a library imported earlier (Lightning) may have raised the root logger's
    # level, and the warnings would be dropped before any handler saw them
    level = log.level
    log.setLevel(logging.WARNING)
    log.addHandler(capture)
    try:
        root = griffe.load(
            package,
            search_paths=[str(package_dir)],
            docstring_parser=griffe.Parser.google,
            allow_inspection=False,  # never import the package: a static reading, as the docs site's
            resolve_aliases=False,
        )
        assert isinstance(root, griffe.Module)
        checker = _Checker(capture)
        for warning in capture.take():
            checker.problems.append(Problem(str(package_dir), package, f"griffe: {warning}"))
        for module in walk_modules(root):
            if module.name.startswith("__") and module is not root:
                continue  # __main__: the ``python -m`` entry point, no API
            if modules and not any(module.path == m or module.path.startswith(m + ".") for m in modules):
                continue
            checker.module(module)
    finally:
        log.removeHandler(capture)
        log.setLevel(level)
    return checker.checked, checker.problems


def main(argv: Sequence[str] | None = None) -> int:
    """Check the docstrings and print the problems, one a line.

    Args:
        argv: The command line without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 without problems, 1 with.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules and those under them")
    parser.add_argument(
        "--package-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "src",
        help="the folder that holds the package (default: this repository's src/)",
    )
    parser.add_argument("--package", default="refineseg", help="the package's import name (default refineseg)")
    args = parser.parse_args(argv)
    checked, problems = check(args.package_dir, args.package, args.modules)
    for problem in problems:
        print(problem)
    if problems:
        print(f"docstrings: {checked} public objects checked, {len(problems)} problems")
        return 1
    print(f"docstrings: {checked} public objects checked, no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
