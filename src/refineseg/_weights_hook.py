"""How a builder's ``weights=`` reaches :mod:`refineseg.weights` although models never import it.

Imports run one way: :mod:`refineseg.weights` (reading, resolving, downloading and applying
weights files) sits above :mod:`refineseg.models` and imports it, never the reverse. A builder
given ``weights=`` must still have them applied, so it calls the :class:`WeightsApplier` kept
here, as it would call a function passed in as an argument.

``refineseg/__init__.py`` installs the one applier, a function that imports
:func:`refineseg.weights.loading.apply_weights` on its first call. Installing it there, not when
``refineseg.weights`` is imported, means it is always in place: Python runs a package's
``__init__`` before any of its modules, so a builder finds it even when nothing has imported
``refineseg.weights`` yet; and installing imports nothing, so ``import refineseg`` stays light.

A leaf module (nothing of refineseg is imported at run time), so ``refineseg.models`` may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models.base import SegmentationModel

__all__ = ["WeightsApplier", "get_applier", "install_applier"]


class WeightsApplier(Protocol):
    """Builds the model ``arch`` for weights: their class count and options, their tensors loaded."""

    def __call__(
        self,
        arch: str,
        weights: Any,
        *,
        num_classes: int | None,
        options: dict[str, Any],
        build: Callable[[int, dict[str, Any]], SegmentationModel],
    ) -> SegmentationModel:
        """Read ``weights``, check they fit ``arch`` and the explicit arguments, build and load.

        Args:
            arch: The builder's registered name, which the weights must have been saved from.
            weights: A weights file, a weights name, or a file already read.
            num_classes: The caller's class count, or ``None`` for the file's.
            options: The caller's explicit architecture options.
            build: ``build(num_classes, options)`` builds the model (random encoder) with the
                builder's defaults under ``options``.

        Returns:
            The model, with the weights' tensors and meta loaded.
        """
        ...


_applier: WeightsApplier | None = None


def install_applier(applier: WeightsApplier) -> None:
    """Install the applier that builders call for ``weights=``; ``refineseg/__init__.py`` does.

    Args:
        applier: The function that applies weights.
    """
    global _applier
    _applier = applier


def get_applier() -> WeightsApplier:
    """The installed applier.

    Returns:
        The function that applies weights.

    Raises:
        RuntimeError: None is installed (only possible if ``refineseg/__init__.py`` did not run).
    """
    if _applier is None:
        raise RuntimeError("no weights applier installed; refineseg/__init__.py installs it")
    return _applier
