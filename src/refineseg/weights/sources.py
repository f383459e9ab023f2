"""What a weights argument names, as a local file: one resolver behind every way to get a model.

:func:`~refineseg.weights.loading.load_model`, the builders' and ``get_model``'s ``weights=``,
and ``Segmenter.from_pretrained`` all read weights through :func:`resolve_weights`, so a name
means the same, and fails with the same error, wherever it is given:

* ``hf://ORG/NAME[@REVISION]``: the Hub repository's ``model.safetensors``, downloaded into (or
  read from) the Hub's cache (:mod:`.hub`);
* a bare name in the catalogue (:mod:`.catalogue`): shipped weights inside the package, or a
  published checkpoint's converted file in the cache. A name wins over a file or folder of that
  name in the working directory (a dataset folder called ``camvid``, say): it means the same
  wherever it runs;
* anything else is a path: an ``os.PathLike``, or a string with a suffix or a separator.

A published checkpoint that is not converted yet is downloaded and converted only where the
caller allows it (``download=True``): ``load_model`` and ``Segmenter.from_pretrained``, which
promise a ready model, do; the builders and :func:`read_weights` only read, and the error says
how to download.
"""

from __future__ import annotations

import os
from pathlib import Path

from .catalogue import CATALOGUE, PublishedWeights, weights_path
from .hub import hub_weights_path, is_hub_spec
from .io import WeightsFile, read_weights_file

__all__ = ["read_weights", "resolve_weights"]


def resolve_weights(weights: str | os.PathLike[str], *, download: bool = False) -> Path:
    """The local file a weights argument names.

    Args:
        weights: A path, a catalogue name or an ``hf://`` repository.
        download: Download and convert a published checkpoint that is not in the cache yet.

    Returns:
        The file's path (a path given is returned as it is, whether it exists or not).

    Raises:
        FileNotFoundError: An unknown name, catalogue weights that are not here (and, without
            ``download``, may not be fetched), or a Hub file that cannot be had.
    """
    if is_hub_spec(weights):
        return hub_weights_path(str(weights))
    name = weights if isinstance(weights, str) else None
    bare = name is not None and not Path(name).suffix and os.sep not in name and "/" not in name
    if name is not None and bare and (name in CATALOGUE or not Path(name).exists()):
        if download and name in CATALOGUE and isinstance(CATALOGUE.get(name), PublishedWeights):
            from .download import fetch_published_weights  # converting builds a model: only for a download

            return fetch_published_weights(name)
        return weights_path(name)  # the file, or an error that names the known weights
    return Path(weights)


def read_weights(weights: str | os.PathLike[str] | WeightsFile, *, download: bool = False) -> WeightsFile:
    """Read and validate a weights file, or shipped weights or a published checkpoint by name.

    Args:
        weights: A ``.safetensors`` path, a catalogue name (which wins over a file or folder of
            that name in the working directory), an ``hf://`` repository, or an already read
            file (returned as is).
        download: Download and convert a published checkpoint that is not in the cache yet.

    Returns:
        The file's architecture, meta and tensors.

    Raises:
        WeightsError: No such file, not a readable safetensors file, not a refineseg weights
            file, another format version, or corrupt metadata.
        FileNotFoundError: An unknown name, or catalogue weights not on this machine.
    """
    if isinstance(weights, WeightsFile):
        return weights
    return read_weights_file(resolve_weights(weights, download=download))
