"""Optional dependencies: import one, or fail with one line that says what to install.

Every optional dependency of refineseg (the extras in ``pyproject.toml``: ``[onnx]``, ``[plot]``,
``[serve]``, ...) is imported through :func:`require` or :func:`require_all`, when it is needed
and not before, so the message and its install command are written once, here. The command is
right for how refineseg was installed (:func:`install_hint`): from a source checkout, installing
``refineseg[onnx]`` from the package index would fetch another copy, so the hint names the
checkout's folder instead. A leaf module: it imports nothing of refineseg and nothing heavy.
"""

from __future__ import annotations

import importlib
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["MissingExtraError", "available", "index_install_command", "install_hint", "require", "require_all"]

DISTRIBUTION = "refineseg"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message is one line ending in the pip command.

    Args:
        message: The whole message.
        extra: The extra that installs the dependency (``"onnx"``).
        modules: The modules that are missing.

    Attributes:
        extra: The extra that installs the dependency.
        modules: The modules that are missing.
    """

    def __init__(self, message: str, *, extra: str, modules: Sequence[str]) -> None:
        super().__init__(message, name=modules[0] if modules else None)
        self.extra = extra
        self.modules = tuple(modules)


def _local_source() -> tuple[Path, bool] | None:
    """The folder refineseg was installed from and whether editably, or ``None`` (an index or archive).

    Read from the installation's PEP 610 ``direct_url.json``; when refineseg is not installed
    at all but imported from a source tree (``PYTHONPATH=src``), that tree's root.
    """
    from importlib import metadata

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        root = Path(__file__).resolve().parents[2]  # src/refineseg/_extras.py -> the checkout
        return (root, False) if (root / "pyproject.toml").is_file() else None
    if not text:
        return None  # installed from an index: no direct URL
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = info.get("url", "") if isinstance(info, dict) else ""
    dir_info = info.get("dir_info") if isinstance(info, dict) else None
    if not url.startswith("file:") or not isinstance(dir_info, dict):
        return None  # a VCS or archive (wheel, sdist) install: its folder is gone
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    return Path(url2pathname(unquote(urlparse(url).path))), bool(dir_info.get("editable"))


def index_install_command(extra: str) -> str:
    """The pip command that installs ``extra`` of refineseg from the package index.

    For readers elsewhere (a model card on the Hub), whose refineseg comes from the index
    whatever this installation's does; errors here use :func:`install_hint`.

    Args:
        extra: The extra's name in ``pyproject.toml`` (``"hub"``).

    Returns:
        ``pip install 'refineseg[extra]'``, quoted for a POSIX shell.
    """
    return f"pip install {shlex.quote(f'{DISTRIBUTION}[{extra}]')}"


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra`` for this installation of refineseg.

    Installed from a local folder (``pip install .``, ``pip install -e .``; PEP 610's
    ``direct_url.json`` says so): ``pip install '<that folder>[extra]'``, with ``-e`` when it was
    editable, so the checkout's code stays the one installed. Otherwise (the package index, a
    wheel, a VCS URL): ``pip install 'refineseg[extra]'``.

    Args:
        extra: The extra's name in ``pyproject.toml`` (``"onnx"``).

    Returns:
        The command, quoted for a POSIX shell.
    """
    source = _local_source()
    if source is None:
        return index_install_command(extra)
    folder, editable = source
    return f"pip install {'-e ' if editable else ''}{shlex.quote(f'{folder}[{extra}]')}"


def _missing(message_start: str, extra: str, names: Sequence[str], modules: Sequence[str]) -> MissingExtraError:
    return MissingExtraError(
        f"{message_start} needs {', '.join(names)}: {install_hint(extra)}", extra=extra, modules=modules
    )


def available(module: str) -> bool:
    """Whether ``module`` is installed, without importing it (nor raising): for listing what an
    optional dependency adds when it is there; code that needs the module uses :func:`require`.

    Args:
        module: A module name (``"timm"``, ``"scipy.io"``: a dotted name imports its parents).

    Returns:
        ``True`` if it can be found.
    """
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package; a module whose __spec__ is None
        return False


def require(module: str, extra: str, *, purpose: str, name: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying what to install.

    Call it where the dependency is needed (inside the function that uses it), so importing
    refineseg never imports an optional dependency.

    Args:
        module: The module to import (``"onnxruntime"``, ``"scipy.io"``).
        extra: The extra that installs it (``"onnx"``).
        purpose: What needs it, the start of the message (``"running ONNX models"``).
        name: The dependency as users know it, in the message (``"PyAV"``); default ``module``.

    Returns:
        The imported module.

    Raises:
        MissingExtraError: The module cannot be imported; the message reads
            ``"{purpose} needs {name}: pip install ..."``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise _missing(purpose, extra, [name or module], [module]) from None


def require_all(modules: Mapping[str, str | Sequence[str]], extra: str, *, purpose: str) -> None:
    """Import each of ``modules``, or raise one :class:`MissingExtraError` naming every missing one.

    Args:
        modules: The dependencies as users know them -> the module to import, or alternatives
            of which one is enough (``{"python-multipart": ("python_multipart", "multipart")}``).
        extra: The extra that installs them.
        purpose: What needs them, the start of the message (``"serving"``).

    Raises:
        MissingExtraError: Some cannot be imported; the message names all of them.
    """
    missing: dict[str, str] = {}
    for name, choices in modules.items():
        alternatives = [choices] if isinstance(choices, str) else list(choices)
        for module in alternatives:
            try:
                importlib.import_module(module)
                break
            except ImportError:
                continue
        else:
            missing[name] = alternatives[0]
    if missing:
        raise _missing(purpose, extra, list(missing), list(missing.values()))
