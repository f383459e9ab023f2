"""Model registry: ``register_model``, ``get_model(name, **kwargs)`` and ``list_models()``.

Names only: building (and applying weights) is :mod:`.build`'s job, as timm keeps ``_registry``
apart from ``_builder``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .._registry import Registry
from .base import SegmentationModel

__all__ = ["get_model", "list_models", "register_model"]

_BUILDERS: Registry[Callable[..., SegmentationModel]] = Registry("model")

B = TypeVar("B", bound=Callable[..., SegmentationModel])


def register_model(builder: B) -> B:
    """Make a builder reachable through :func:`get_model` under its function name.

    Args:
        builder: A function returning a model; usable as a decorator.

    Returns:
        ``builder`` itself, unchanged.

    Raises:
        ValueError: A builder is already registered under that name.
    """
    _BUILDERS.add(builder.__name__, builder)
    return builder


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`, sorted.

    Returns:
        The registered builder names.
    """
    return _BUILDERS.names()


def get_model(name: str, **kwargs: Any) -> SegmentationModel:
    """Build the model registered as ``name`` (see :func:`list_models`).

    Args:
        name: A registered builder name, e.g. ``"lw_refinenet_resnet50"``.
        **kwargs: The builder's keyword arguments (``num_classes``, ``weights``, ...).

    Returns:
        The built model.

    Raises:
        ValueError: If no builder is registered under ``name``.
    """
    return _BUILDERS.get(name)(**kwargs)
