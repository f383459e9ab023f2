"""Publish a refineseg weights file to the Hugging Face Hub, with a generated model card.

The repository gets the weights file as ``model.safetensors`` (byte for byte) and a
``README.md`` model card (:mod:`.model_card`) in one commit, so that
``refineseg.load_model("hf://ORG/NAME")``, ``Segmenter.from_pretrained("hf://ORG/NAME")``
and ``--weights hf://ORG/NAME`` load it anywhere. Everything the card says is read from the
weights file's metadata: no model is built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import one_line
from .hub import HF_PREFIX, WEIGHTS_FILENAME, parse_repo_id, require_huggingface_hub
from .io import WeightsFile
from .model_card import DEFAULT_LICENSE, check_card, model_card, read_evaluation
from .sources import read_weights

__all__ = ["CARD_FILENAME", "HubUpload", "prepare_upload", "push_to_hub"]

CARD_FILENAME = "README.md"


@dataclass(frozen=True)
class HubUpload:
    """What :func:`push_to_hub` commits: the weights file and the model card.

    Attributes:
        repo_id: The repository, ``ORG/NAME``.
        weights_path: The weights file, uploaded as ``model.safetensors``.
        card: The model card, uploaded as ``README.md``.
        arch: The weights' architecture, for the default commit message.
    """

    repo_id: str
    weights_path: Path
    card: str
    arch: str

    @property
    def files(self) -> list[tuple[str, int]]:
        """The files of the commit: ``(path in the repository, size in bytes)``."""
        return [
            (WEIGHTS_FILENAME, self.weights_path.stat().st_size),
            (CARD_FILENAME, len(self.card.encode("utf-8"))),
        ]

    def write(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the files of the commit into ``folder``, as the repository will hold them.

        Args:
            folder: Where to write them (created if needed).

        Returns:
            The written files.
        """
        import shutil

        from .._io import atomic_write

        folder = Path(folder)
        weights = atomic_write(folder / WEIGHTS_FILENAME, lambda tmp: shutil.copyfile(self.weights_path, tmp))
        card = atomic_write(folder / CARD_FILENAME, lambda tmp: Path(tmp).write_text(self.card, encoding="utf-8"))
        return [weights, card]


def _repo_id(repo_id: str) -> str:
    name = repo_id.removeprefix(HF_PREFIX)
    if "@" in name:
        raise ValueError(f"{repo_id}: push to a repository ORG/NAME (a revision cannot be given)")
    return parse_repo_id(name, what=repo_id)


def prepare_upload(
    weights: str | os.PathLike[str] | WeightsFile,
    repo_id: str,
    *,
    evaluation: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    license: str = DEFAULT_LICENSE,
) -> HubUpload:
    """Read the weights, write the model card and check it, without the network.

    Args:
        weights: A refineseg ``.safetensors`` file, a catalogue name, an ``hf://`` name or an
            already read file.
        repo_id: The repository, ``ORG/NAME`` (``hf://ORG/NAME`` is accepted too).
        evaluation: The metrics JSON of ``refineseg evaluate --output metrics.json`` (its path,
            or its content as a dict), for the card's ``model-index`` and metrics tables.
        license: The weights' licence, as a Hub licence identifier.

    Returns:
        The files to commit.

    Raises:
        ValueError: A malformed repository id, metrics that are not ``refineseg evaluate``'s
            (or are for other classes), or a card the Hub library cannot parse.
        FileNotFoundError: No such weights or metrics file.
        WeightsError: Not a refineseg weights file.
        ImportError: ``huggingface_hub`` is not installed.
    """
    repo_id = _repo_id(repo_id)
    require_huggingface_hub("publishing to the Hugging Face Hub")
    file = read_weights(weights)
    path = Path(file.source)
    if not path.is_file():
        raise FileNotFoundError(f"{file.source}: the weights must be a file to upload")
    metrics = evaluation if isinstance(evaluation, Mapping) or evaluation is None else read_evaluation(evaluation)
    card = model_card(file, repo_id, evaluation=metrics, license=license)
    check_card(card)
    return HubUpload(repo_id, path, card, file.arch)


@contextlib.contextmanager
def _hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """The Hub's errors (several lines, or an HTTP client's exceptions) as one-line ``OSError``s."""
    from huggingface_hub.utils import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            hint = "log in with hf auth login, set HF_TOKEN or pass a write token (--token)"
            raise OSError(f"{repo_id}: the Hub at {endpoint} refused the upload ({status}): {hint}") from None
        raise OSError(f"{repo_id}: the Hub at {endpoint} refused the upload: {one_line(exc)}") from None
    except Exception as exc:
        client = type(exc).__module__.split(".")[0]
        if isinstance(exc, ConnectionError) or client in ("httpx", "httpx2", "httpcore", "requests", "urllib3"):
            raise OSError(f"{repo_id}: cannot reach the Hub at {endpoint}: {one_line(exc)}") from None
        raise


def push_to_hub(
    weights: str | os.PathLike[str] | WeightsFile,
    repo_id: str,
    *,
    evaluation: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    license: str = DEFAULT_LICENSE,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Publish a weights file on the Hugging Face Hub with a generated model card.

    Creates the model repository if it does not exist, then commits ``model.safetensors`` (the
    weights file, byte for byte) and ``README.md`` (:func:`~refineseg.weights.model_card.model_card`)
    in one commit. Load it back with ``refineseg.load_model("hf://ORG/NAME")``.

    Args:
        weights: A refineseg ``.safetensors`` file, a catalogue name, an ``hf://`` name or an
            already read file.
        repo_id: The repository, ``ORG/NAME`` (``hf://ORG/NAME`` is accepted too).
        evaluation: The metrics JSON of ``refineseg evaluate --output metrics.json`` (its path,
            or its content as a dict), for the card's ``model-index`` and metrics tables.
        license: The weights' licence, as a Hub licence identifier (``apache-2.0``, ``mit``, ...).
        private: Create the repository private (an existing repository keeps its visibility).
        token: A Hub token with write access; default: the Hub's login (``hf auth login``) or
            ``HF_TOKEN``.
        endpoint: The Hub's URL; default: ``HF_ENDPOINT`` or https://huggingface.co.
        commit_message: The commit's message; default: ``Upload refineseg ARCH weights``.

    Returns:
        The URL of the commit.

    Raises:
        ValueError: A malformed repository id, metrics that are not ``refineseg evaluate``'s,
            or an invalid model card.
        FileNotFoundError: No such weights or metrics file.
        WeightsError: Not a refineseg weights file.
        ImportError: ``huggingface_hub`` is not installed.
        OSError: The Hub refused the upload (no or wrong token, no write access) or cannot be
            reached, or offline mode is on (``HF_HUB_OFFLINE=1``); in one line.
    """
    upload = prepare_upload(weights, repo_id, evaluation=evaluation, license=license)
    from huggingface_hub import CommitOperationAdd, HfApi, constants

    from .._version import __version__

    url = (endpoint or constants.ENDPOINT).rstrip("/")
    if constants.HF_HUB_OFFLINE:
        raise OSError(f"{upload.repo_id}: offline mode is on (HF_HUB_OFFLINE=1); publishing needs the network")
    api = HfApi(endpoint=url, token=token, library_name="refineseg", library_version=__version__)
    operations = [
        CommitOperationAdd(path_in_repo=WEIGHTS_FILENAME, path_or_fileobj=str(upload.weights_path)),
        CommitOperationAdd(path_in_repo=CARD_FILENAME, path_or_fileobj=upload.card.encode("utf-8")),
    ]
    with _hub_errors(upload.repo_id, url):
        api.create_repo(upload.repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.create_commit(
            upload.repo_id,
            operations,
            commit_message=commit_message or f"Upload refineseg {upload.arch} weights",
            repo_type="model",
        )
    return str(info.commit_url)
