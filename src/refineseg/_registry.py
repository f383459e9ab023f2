"""One registry style for whatever is chosen by name: add once, look up with a helpful error.

A second entry under a name is an error, as in torchvision's ``register_model``: silently
replacing a builder would change what ``get_model(name)`` builds depending on import order.
A leaf module (it imports nothing of refineseg), so any layer may keep a registry:
:mod:`refineseg.models.registry` keeps the models', :mod:`refineseg.data.registry` the datasets',
:mod:`refineseg.data.importers` the annotation readers', :mod:`refineseg.training.losses` the
losses' and :mod:`refineseg.weights.catalogue` the named weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, each added once.

    Args:
        kind: What the entries are, for error messages (``"model"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``.

        Args:
            name: Its name, unique in this registry.
            entry: What the name stands for.

        Returns:
            ``entry``, unchanged.

        Raises:
            ValueError: ``name`` is taken.
        """
        if name in self._entries:
            article = "an" if self.kind[:1] in ("a", "e", "i", "o", "u") else "a"
            raise ValueError(f"{article} {self.kind} named {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name``.

        Args:
            name: A registered name.

        Returns:
            Its entry.

        Raises:
            ValueError: No entry has that name; the message lists the names.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """The registered names, sorted.

        Returns:
            The names.
        """
        return sorted(self._entries)

    def entries(self) -> list[T]:
        """The entries, in the order they were added.

        Returns:
            The entries.
        """
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        """The names, in the order they were added."""
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
