"""Datasets by name, for the command line and recipes: ``get_dataset("camvid", root, "val")``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._registry import Registry
from .datasets import DatasetError, SegmentationDataset
from .splits import read_split

__all__ = ["DatasetSpec", "get_dataset", "list_datasets", "register_dataset"]

Factory = Callable[..., SegmentationDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes:
        name: The name :func:`get_dataset` takes.
        factory: ``factory(root, split, **kwargs)`` builds the dataset.
        splits: The splits it has.
        description: One line for ``refineseg`` listings.
    """

    name: str
    factory: Factory
    splits: tuple[str, ...]
    description: str


_DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(name: str, *, splits: tuple[str, ...], description: str) -> Callable[[Factory], Factory]:
    """Register ``factory(root, split, *, transforms=None)`` under ``name``.

    Args:
        name: The dataset's name.
        splits: The splits it has.
        description: One line for listings.

    Returns:
        A decorator that registers the factory and returns it unchanged; it raises ``ValueError``
        when a dataset is already registered under ``name``.
    """

    def decorate(factory: Factory) -> Factory:
        _DATASETS.add(name, DatasetSpec(name, factory, splits, description))
        return factory

    return decorate


def list_datasets() -> list[DatasetSpec]:
    """The registered datasets.

    Returns:
        Their specs, sorted by name.
    """
    return [_DATASETS.get(name) for name in _DATASETS.names()]


def get_dataset(name: str, root: str | os.PathLike[str], split: str, **kwargs: Any) -> SegmentationDataset:
    """Build dataset ``name`` from ``root``.

    Args:
        name: A registered dataset name (see :func:`list_datasets`).
        root: The dataset's folder.
        split: One of the dataset's splits, or an expression of them: ``train+val`` reads both,
            ``train:0006R0`` the images whose file name starts with ``0006R0``,
            ``train+val:-0006R0`` all but those (see :mod:`refineseg.data.splits`).
        **kwargs: Passed to the dataset (e.g. ``transforms``).

    Returns:
        The dataset.

    Raises:
        DatasetError: If the name or split is unknown, or the dataset's files are not as expected.
    """
    if name not in _DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(_DATASETS.names())}")
    spec = _DATASETS.get(name)

    def build(one: str) -> SegmentationDataset:
        if one not in spec.splits:
            raise DatasetError(f"{name} has splits {', '.join(spec.splits)}, not {one!r}")
        return spec.factory(root, one, **kwargs)

    return read_split(split, build)
