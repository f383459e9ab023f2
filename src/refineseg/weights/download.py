"""Download a published reference checkpoint once and convert it to a refineseg weights file.

Above the models (conversion builds one), unlike the catalogue in :mod:`.catalogue`, which
only says where the converted file is kept.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .catalogue import PublishedWeights, get_entry, weights_path
from .convert import convert_checkpoint

__all__ = ["fetch_published_weights"]


def fetch_published_weights(name: str) -> Path:
    """The converted file of the published checkpoint ``name``, downloaded and converted on first use.

    The download is checked against the catalogue's sha256 when it has one; later calls read the cache.

    Args:
        name: A published checkpoint's name in the catalogue.

    Returns:
        The path of the converted refineseg ``.safetensors`` file.

    Raises:
        FileNotFoundError: ``name`` is not a published checkpoint, or it can no longer be downloaded
            (the message says how to convert a copy you have).
    """
    entry = get_entry(name)
    if not isinstance(entry, PublishedWeights):
        raise FileNotFoundError(f"{name!r} is not a published checkpoint")
    cached = entry.path
    if cached.is_file() or not entry.available:
        return weights_path(name)  # the cached file, or the error that explains what to do
    from torch.hub import download_url_to_file

    cached.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: two processes fetching at once must not share (and delete) one download
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".download", dir=cached.parent)
    os.close(fd)
    raw = Path(tmp)
    try:
        download_url_to_file(entry.url, str(raw), hash_prefix=entry.sha256, progress=True)
        convert_checkpoint(raw, arch=entry.reference_arch, num_classes=entry.num_classes, output=cached)
    finally:
        raw.unlink(missing_ok=True)
    return cached
