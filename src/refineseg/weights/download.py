"""Download a published reference checkpoint once and convert it to a refineseg weights file.

Above the models (conversion builds one), unlike the catalogue in :mod:`.published`, which
only says where the converted file is kept.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .convert import convert_checkpoint
from .published import published_cache_path, published_entry, published_weights_path

__all__ = ["fetch_published_weights"]


def fetch_published_weights(name: str) -> Path:
    """The converted file of the published checkpoint ``name``, downloaded (checked against its
    sha256 when the catalogue has one) and converted on first use, then read from the cache."""
    entry = published_entry(name)
    cached = published_cache_path(name)
    if cached.is_file() or not entry.available:
        return published_weights_path(name)  # the cached file, or the error that explains what to do
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
