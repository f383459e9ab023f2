"""The tail every builder shares: build the model, record how to rebuild it, hand weights up.

A model records its builder's name (``arch``) and keyword arguments (``arch_kwargs``), which is
all a weights file needs to rebuild it. Given ``weights``, a builder hands over to the
:class:`~refineseg._weights_hook.WeightsApplier` (:func:`refineseg.weights.loading.apply_weights`),
which reads them, checks them against the arguments and calls back here to build; this package
never imports :mod:`refineseg.weights`, which sits above it (see :mod:`refineseg._weights_hook`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._weights_hook import get_applier
from ..backbones.base import WeightsArg
from .base import SegmentationModel

__all__ = ["DEFAULT_NUM_CLASSES", "build_model"]

DEFAULT_NUM_CLASSES = 21  # PASCAL VOC, like the published checkpoints


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def build_model(
    name: str,
    make: Callable[..., SegmentationModel],
    *,
    num_classes: int | None,
    weights: WeightsArg | object,
    weights_backbone: Any,
    options: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> SegmentationModel:
    """Build ``name``'s model: from ``make`` alone, or from ``weights`` through the applier.

    With ``weights``, the file's architecture options and class count are used; an explicit
    argument that contradicts the file is an error rather than a silent mismatch (a builder
    default never is). The encoder's ImageNet weights are then irrelevant and not loaded.

    Args:
        name: The builder's registered name, recorded as the model's ``arch``.
        make: ``make(num_classes=..., weights_backbone=..., **options)`` builds the model.
        num_classes: The caller's class count, or ``None`` for the file's or the default (21).
        weights: A refineseg weights file or name to load, a file already read, or ``None``.
        weights_backbone: The encoder's initial weights, passed to ``make`` without ``weights``.
        options: The caller's architecture options.
        defaults: The builder's own option defaults, below the caller's and the file's.

    Returns:
        The model, with ``arch`` and ``arch_kwargs`` set (and the weights loaded).

    Raises:
        ValueError: If the file holds another architecture or contradicts an explicit option.
    """
    options = {k: _jsonable(v) for k, v in options.items()}
    base = {k: _jsonable(v) for k, v in (defaults or {}).items()}

    def build(classes: int, given: dict[str, Any], backbone: Any = None) -> SegmentationModel:
        merged = {**base, **given}
        model = make(num_classes=classes, weights_backbone=backbone, **merged)
        model.arch = name
        model.arch_kwargs = {"num_classes": classes, **merged}
        return model

    if weights is None:
        return build(DEFAULT_NUM_CLASSES if num_classes is None else num_classes, options, weights_backbone)
    return get_applier()(name, weights, num_classes=num_classes, options=options, build=build)
