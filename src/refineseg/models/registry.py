"""Model registry: ``get_model(name, **kwargs)``, ``list_models()``, and weight loading."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .base import SegmentationModel

__all__ = ["build_model", "get_model", "list_models", "register_model"]

DEFAULT_NUM_CLASSES = 21  # PASCAL VOC, like the published checkpoints

_BUILDERS: dict[str, Callable[..., SegmentationModel]] = {}

B = TypeVar("B", bound=Callable[..., SegmentationModel])


def register_model(builder: B) -> B:
    """Make a builder reachable through :func:`get_model` under its function name.

    Args:
        builder: A function returning a model; used as a decorator.

    Returns:
        ``builder`` itself, unchanged.
    """
    _BUILDERS[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`, sorted.

    Returns:
        The registered builder names.
    """
    return sorted(_BUILDERS)


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
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None
    return builder(**kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def build_model(
    name: str,
    make: Callable[..., SegmentationModel],
    *,
    num_classes: int | None,
    weights: str | os.PathLike[str] | None,
    weights_backbone: Any,
    options: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> SegmentationModel:
    """Shared tail of every builder: apply a weights file, record how to rebuild the model.

    With ``weights``, the file's architecture options and class count are used; an explicit
    argument that contradicts the file is an error rather than a silent mismatch (a builder
    default never is). The encoder's ImageNet weights are then irrelevant and not loaded.

    Args:
        name: The builder's registered name, recorded as the model's ``arch``.
        make: ``make(num_classes=..., weights_backbone=..., **options)`` builds the model.
        num_classes: The caller's class count, or ``None`` for the file's or the default (21).
        weights: A refineseg weights file or published name to load, or ``None``.
        weights_backbone: The encoder's initial weights, passed to ``make`` without ``weights``.
        options: The caller's architecture options.
        defaults: The builder's own option defaults, below the caller's and the file's.

    Returns:
        The model, with ``arch`` and ``arch_kwargs`` set and the weights loaded.

    Raises:
        ValueError: If the file holds another architecture or contradicts an explicit option.
    """
    options = {k: _jsonable(v) for k, v in options.items()}
    defaults = {k: _jsonable(v) for k, v in (defaults or {}).items()}
    file = None
    if weights is not None:
        from ..weights.io import read_weights

        file = read_weights(weights)
        if file.arch != name:
            raise ValueError(f"{file.source}: holds a {file.arch!r} model, not {name!r}")
        saved = dict(file.arch_kwargs)
        saved_classes = saved.pop("num_classes")
        conflicts = [k for k, v in options.items() if k in saved and saved[k] != v]
        if num_classes is not None and num_classes != saved_classes:
            conflicts.append("num_classes")
        if conflicts:
            raise ValueError(f"{file.source}: saved with different {', '.join(sorted(conflicts))}")
        options = {**defaults, **saved, **options}
        num_classes = saved_classes
        weights_backbone = None
    else:
        options = {**defaults, **options}
    if num_classes is None:
        num_classes = DEFAULT_NUM_CLASSES
    model = make(num_classes=num_classes, weights_backbone=weights_backbone, **options)
    model.arch = name
    model.arch_kwargs = {"num_classes": num_classes, **options}
    if file is not None:
        file.load_into(model)
    return model
