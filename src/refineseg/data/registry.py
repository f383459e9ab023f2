"""Datasets by name, for the command line and recipes: ``get_dataset("camvid", root, "val")``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .datasets import DatasetError, SegmentationDataset

__all__ = ["DatasetSpec", "get_dataset", "list_datasets", "register_dataset"]

Factory = Callable[..., SegmentationDataset]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    factory: Factory  # factory(root, split, transforms=...) -> SegmentationDataset
    splits: tuple[str, ...]
    description: str


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, *, splits: tuple[str, ...], description: str) -> Callable[[Factory], Factory]:
    """Register ``factory(root, split, *, transforms=None)`` under ``name``."""

    def decorate(factory: Factory) -> Factory:
        _DATASETS[name] = DatasetSpec(name, factory, splits, description)
        return factory

    return decorate


def list_datasets() -> list[DatasetSpec]:
    return [_DATASETS[k] for k in sorted(_DATASETS)]


def get_dataset(name: str, root: str | os.PathLike[str], split: str, **kwargs: Any) -> SegmentationDataset:
    """Build dataset ``name`` from ``root``; ``kwargs`` (e.g. ``transforms``) go to the dataset."""
    try:
        spec = _DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(sorted(_DATASETS))}") from None
    if split not in spec.splits:
        raise DatasetError(f"{name} has splits {', '.join(spec.splits)}, not {split!r}")
    return spec.factory(root, split, **kwargs)
