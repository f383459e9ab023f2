"""Weights on the Hugging Face Hub: ``hf://ORG/NAME`` and ``hf://ORG/NAME@REVISION``.

A refineseg model repository holds its weights file as ``model.safetensors`` (and a model
card, ``README.md``; ``refineseg push-to-hub`` writes both). :func:`hub_weights_path`
downloads that file with ``huggingface_hub.hf_hub_download`` into the Hub's own cache
(``HF_HUB_CACHE``, ``~/.cache/huggingface/hub`` by default) and answers from the cache when
the Hub cannot be reached or ``HF_HUB_OFFLINE=1``. ``huggingface_hub`` is imported only for an
``hf://`` name (the ``[hub]`` extra); this module imports neither it nor PyTorch.

``huggingface_hub`` reads ``HF_HUB_CACHE``, ``HF_HOME``, ``HF_HUB_OFFLINE`` and ``HF_ENDPOINT``
once, when it is imported; ``_hub_settings`` reads them each time a download is made and
hands them to it, so a change of the environment after that import (a test, a long-lived
process) still applies.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .._errors import one_line
from .._extras import require

__all__ = [
    "HF_PREFIX",
    "WEIGHTS_FILENAME",
    "HubSpec",
    "hub_weights_path",
    "is_hub_spec",
    "parse_hub_spec",
    "parse_repo_id",
    "require_huggingface_hub",
]

HF_PREFIX = "hf://"
# the weights file's name in a refineseg model repository
WEIGHTS_FILENAME = "model.safetensors"

# the Hub's rule for a namespace or a repository name: letters, digits, '-', '_', '.', at most
# 96 characters, not starting or ending with '-' or '.', no '--' or '..'
_NAME = re.compile(r"[A-Za-z0-9_](?:[\w.-]{0,94}[A-Za-z0-9_])?", re.ASCII)


@dataclass(frozen=True)
class HubSpec:
    """A model repository on the Hugging Face Hub, and optionally a revision of it.

    Attributes:
        repo_id: ``ORG/NAME``.
        revision: A branch, tag or commit hash; ``None`` for the default branch (``main``).
    """

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return HF_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")


def is_hub_spec(weights: object) -> bool:
    """Whether a weights argument names a Hugging Face Hub repository (a string ``hf://...``).

    Args:
        weights: A weights argument: a name, a path or anything else.

    Returns:
        ``True`` for a string that starts with ``hf://``.
    """
    return isinstance(weights, str) and weights.startswith(HF_PREFIX)


def parse_repo_id(repo_id: str, *, what: str | None = None) -> str:
    """Check a Hub repository id, ``ORG/NAME``.

    Args:
        repo_id: The id to check.
        what: How error messages name it (default: the id itself).

    Returns:
        ``repo_id`` unchanged.

    Raises:
        ValueError: Not ``ORG/NAME`` with Hub-valid names.
    """
    parts = repo_id.split("/")
    valid = len(parts) == 2 and all(_NAME.fullmatch(part) and "--" not in part and ".." not in part for part in parts)
    if not valid:
        raise ValueError(
            f"{what or repo_id}: expected a Hugging Face Hub repository ORG/NAME (letters, digits, '-', '_', '.')"
        )
    return repo_id


def parse_hub_spec(spec: str) -> HubSpec:
    """Split ``hf://ORG/NAME[@REVISION]`` into the repository and the revision.

    Args:
        spec: The weights argument, ``hf://ORG/NAME`` or ``hf://ORG/NAME@REVISION`` (a branch,
            tag or commit hash; a revision may hold ``/``, as in ``refs/pr/1``).

    Returns:
        The repository id and the revision (``None`` when not given).

    Raises:
        ValueError: ``spec`` does not have that form.
    """
    if not spec.startswith(HF_PREFIX):
        raise ValueError(f"{spec}: a Hugging Face Hub name starts with {HF_PREFIX}")
    repo_id, at, revision = spec[len(HF_PREFIX) :].partition("@")
    usage = f"{spec}: expected hf://ORG/NAME or hf://ORG/NAME@REVISION (a model repository on the Hugging Face Hub)"
    if at and not revision.strip():
        raise ValueError(usage)
    try:
        parse_repo_id(repo_id)
    except ValueError:
        raise ValueError(usage) from None
    return HubSpec(repo_id, revision or None)


def require_huggingface_hub(purpose: str) -> ModuleType:
    """Import ``huggingface_hub``, or say in one line what to install.

    Args:
        purpose: What needs it, to start the error message (``"hf://org/name: loading ..."``).

    Returns:
        The ``huggingface_hub`` module.

    Raises:
        MissingExtraError: ``huggingface_hub`` is not installed (an ``ImportError``; the ``[hub]`` extra).
    """
    return require("huggingface_hub", "hub", purpose=purpose)


@dataclass(frozen=True)
class _HubSettings:
    """Where and how ``hf://`` weights are downloaded, from the environment at the time of asking.

    Attributes:
        cache_dir: The Hub's cache folder.
        offline: Whether only the cache is read (``HF_HUB_OFFLINE``).
        endpoint: The Hub's address (``HF_ENDPOINT``).
    """

    cache_dir: str
    offline: bool
    endpoint: str


def _is_true(value: str) -> bool:
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")  # huggingface_hub's own reading


def _hub_settings() -> _HubSettings:
    """The Hub's cache, offline mode and endpoint, read from the environment now.

    ``HF_HUB_CACHE``, else ``HF_HOME``/hub; ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``);
    ``HF_ENDPOINT``. A variable that is not set leaves huggingface_hub's own value (what it read
    at import, or its default).

    Returns:
        The settings :func:`hub_weights_path` downloads with.

    Raises:
        ImportError: ``huggingface_hub`` is not installed (the message says what to install).
    """
    require_huggingface_hub("reading the Hugging Face Hub's settings")
    from huggingface_hub import constants

    env = os.environ
    if env.get("HF_HUB_CACHE"):
        cache = env["HF_HUB_CACHE"]
    elif env.get("HF_HOME"):
        cache = os.path.join(env["HF_HOME"], "hub")
    else:
        cache = constants.HF_HUB_CACHE
    flags = [env[name] for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if name in env]
    offline = any(_is_true(flag) for flag in flags) if flags else bool(constants.HF_HUB_OFFLINE)
    endpoint = (env.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    return _HubSettings(os.path.expandvars(os.path.expanduser(cache)), offline, endpoint)


def hub_weights_path(spec: str | HubSpec) -> Path:
    """The local file of a refineseg model on the Hugging Face Hub, downloaded on first use.

    ``model.safetensors`` of the repository is fetched with ``huggingface_hub.hf_hub_download``
    into the Hub's cache (``HF_HUB_CACHE`` or ``HF_HOME``); later calls check the Hub for a newer
    revision of a branch and otherwise read the cache, which is all they read when the Hub cannot
    be reached or offline mode is on (``HF_HUB_OFFLINE=1``). Private and gated repositories use
    the Hub's login (``hf auth login`` or ``HF_TOKEN``).

    Args:
        spec: ``hf://ORG/NAME``, ``hf://ORG/NAME@REVISION`` or an already parsed spec.

    Returns:
        The path of the weights file in the Hub's cache.

    Raises:
        ValueError: ``spec`` is not ``hf://ORG/NAME[@REVISION]``.
        ImportError: ``huggingface_hub`` is not installed (the message says what to install).
        FileNotFoundError: No such repository (or a private or gated one without access), no
            such revision, no ``model.safetensors`` in it, or the Hub cannot be reached (or
            offline mode is on) and the file is not in the cache; each in one line that names
            the repository and what to do.
    """
    parsed = parse_hub_spec(spec) if isinstance(spec, str) else spec
    name = str(parsed)
    hub = require_huggingface_hub(f"{name}: loading weights from the Hugging Face Hub")
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from .._version import __version__

    repo = parsed.repo_id
    settings = _hub_settings()
    try:
        path = hub.hf_hub_download(
            repo,
            WEIGHTS_FILENAME,
            revision=parsed.revision,
            cache_dir=settings.cache_dir,
            local_files_only=settings.offline,
            endpoint=settings.endpoint,
            library_name="refineseg",
            library_version=__version__,
        )
    except GatedRepoError:  # before RepositoryNotFoundError, which it extends
        raise FileNotFoundError(
            f"{name}: {repo} is a gated repository on the Hugging Face Hub: accept its conditions on its page "
            "and log in (hf auth login, or set HF_TOKEN)"
        ) from None
    except RepositoryNotFoundError:
        raise FileNotFoundError(
            f"{name}: no model repository {repo} on the Hugging Face Hub (check the name; "
            "for a private repository log in with hf auth login, or set HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise FileNotFoundError(
            f"{name}: the repository {repo} has no revision {parsed.revision!r} (a branch, tag or commit hash)"
        ) from None
    except LocalEntryNotFoundError:  # before EntryNotFoundError, which it extends in recent huggingface_hub
        cache = settings.cache_dir
        if settings.offline:
            reason = "offline mode is on (HF_HUB_OFFLINE=1); load it once with the network on to cache it"
        else:
            reason = "the Hugging Face Hub cannot be reached; check the network (and HF_ENDPOINT if set)"
        raise FileNotFoundError(
            f"{name}: {WEIGHTS_FILENAME} of {repo} is not in the Hub cache ({cache}) and {reason}"
        ) from None
    except EntryNotFoundError:
        raise FileNotFoundError(
            f"{name}: the repository {repo} has no {WEIGHTS_FILENAME}; a refineseg model repository holds its "
            "weights file under that name (refineseg push-to-hub puts it there)"
        ) from None
    except HfHubHTTPError as exc:
        raise FileNotFoundError(f"{name}: the Hugging Face Hub refused the download: {one_line(exc)}") from None
    except HFValidationError as exc:
        raise ValueError(f"{name}: {one_line(exc)}") from None
    return Path(path)
