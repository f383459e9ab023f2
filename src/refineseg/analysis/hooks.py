"""Forward hooks that are always removed: the summary and the activation capture both need them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch.utils.hooks import RemovableHandle

__all__ = ["removing_hooks"]


@contextmanager
def removing_hooks() -> Iterator[list[RemovableHandle]]:
    """A list to put hook handles in; every one is removed on exit, also after an error.

    Yields:
        The list of handles, empty at first; append each hook's handle to it.
    """
    handles: list[RemovableHandle] = []
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()
