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
    """Make a builder reachable through :func:`get_model` under its function name."""
    _BUILDERS[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`, sorted."""
    return sorted(_BUILDERS)


def get_model(name: str, **kwargs: Any) -> SegmentationModel:
    """Build the model registered as ``name`` (see :func:`list_models`)."""
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

    ``options`` are the caller's, ``defaults`` the builder's own. With ``weights``, the file's
    architecture options and class count are used; an explicit argument that contradicts the
    file is an error rather than a silent mismatch (a builder default never is). The encoder's
    ImageNet weights are then irrelevant and not loaded.
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
