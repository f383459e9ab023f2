"""Data for training: decoded-image caching, seeded augmentation, the Lightning DataModule."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..backbones.base import IMAGENET_MEAN, IMAGENET_STD
from ..data import SegmentationDataset, eval_transforms, get_dataset, train_transforms
from ..data.datasets import as_tv_tensors
from .config import TrainConfig

__all__ = [
    "DecodedImages",
    "SeededSampler",
    "SegmentationDataModule",
    "class_pixel_counts",
    "loss_class_weights",
    "median_frequency_weights",
]


class DecodedImages(Dataset):
    """A dataset's images and masks, decoded once and kept in memory.

    PNG/JPEG decoding costs more than a RefineNet step's data work on a small CPU; for
    small datasets (CamVid: 367 images, ~190 MB decoded) decoding once pays.

    Args:
        dataset: The dataset.
        cache: Whether to decode everything now; ``False`` decodes on every access.
        progress: Whether to show a progress bar while decoding.
    """

    def __init__(self, dataset: SegmentationDataset, *, cache: bool = True, progress: bool = False) -> None:
        self.dataset = dataset
        self._cached: list[tuple[np.ndarray, np.ndarray]] | None = None
        if cache:
            indices: Any = range(len(dataset))
            if progress:
                from .._progress import progress_bar

                indices = progress_bar(indices, desc=f"decoding {dataset.name}", leave=False)
            self._cached = [dataset.read_pair(i) for i in indices]

    def __len__(self) -> int:
        return len(self.dataset)

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The decoded pair, from memory or from the files.

        Args:
            index: The pair's index.

        Returns:
            HxWx3 uint8 RGB image and HxW uint8 train-id mask.
        """
        return self._cached[index] if self._cached is not None else self.dataset.read_pair(index)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return as_tv_tensors(*self.pair(index))


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A seed for one sample's augmentation in one epoch, from those three numbers alone.

    Args:
        seed: The run's seed.
        epoch: The epoch.
        index: The sample's index.

    Returns:
        A non-negative 63-bit seed (a hash, so nearby arguments give unrelated seeds).
    """
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class SeededSampler(DistributedSampler):
    """Shuffles per epoch from ``seed`` (like DistributedSampler) and yields ``(index, sample_seed)``.

    Each sample's augmentation is seeded from (seed, epoch, index) alone, so a run is the
    same whatever the number of workers, and a resumed run sees the same crops and flips.
    """

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in super().__iter__():
            yield index, sample_seed(self.seed, self.epoch, index)


class AugmentedDataset(Dataset):
    """Decoded pairs through joint transforms; seeded items take ``(index, seed)`` keys.

    Args:
        images: The decoded pairs.
        transforms: Called as ``transforms(image, mask)``.
        seeded: Whether keys are ``(index, seed)`` from :class:`SeededSampler`, the transforms
            then drawing from a generator seeded with ``seed``; else keys are indices.
    """

    def __init__(self, images: DecodedImages, transforms: Callable[..., Any], *, seeded: bool) -> None:
        self.images = images
        self.transforms = transforms
        self.seeded = seeded

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: Any) -> tuple[Any, Any]:
        if not self.seeded:
            return self.transforms(*self.images[key])
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transforms(*self.images[index])


def class_pixel_counts(images: DecodedImages, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class: its pixels over all masks, and the pixels of the masks that contain it.

    Args:
        images: The decoded pairs.
        num_classes: Number of classes.

    Returns:
        ``(class pixels, pixels of the masks containing the class)``, float64, one entry per class.
    """
    counts = np.zeros(num_classes, dtype=np.float64)
    present_pixels = np.zeros(num_classes, dtype=np.float64)
    for i in range(len(images)):
        _, mask = images.pair(i)
        hist = np.bincount(mask.ravel(), minlength=256)[:num_classes].astype(np.float64)
        counts += hist
        present_pixels[hist > 0] += mask.size
    return counts, present_pixels


def median_frequency_weights(images: DecodedImages, num_classes: int) -> torch.Tensor:
    """Median-frequency balancing (Eigen & Fergus): freq_c = pixels of c / pixels of images containing c.

    Args:
        images: The decoded training pairs.
        num_classes: Number of classes.

    Returns:
        ``median(freq) / freq_c`` per class, float32; 0 for classes without pixels.
    """
    counts, present_pixels = class_pixel_counts(images, num_classes)
    freq = np.divide(counts, present_pixels, out=np.zeros_like(counts), where=present_pixels > 0)
    median = np.median(freq[freq > 0])
    weights = np.divide(median, freq, out=np.zeros_like(freq), where=freq > 0)
    return torch.tensor(weights, dtype=torch.float32)


class SegmentationDataModule(L.LightningDataModule):
    """Train and val loaders for a recipe.

    ``mean``/``std`` normalise the images; set them to the model's ``meta.mean``/``meta.std``
    (its encoder's pretrained normalisation) before the loaders are made.

    Args:
        config: The run's settings (dataset, splits, batch size, augmentation, workers).

    Raises:
        DatasetError: If a split cannot be built.
    """

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.mean: tuple[float, float, float] = IMAGENET_MEAN
        self.std: tuple[float, float, float] = IMAGENET_STD
        self.train_set = get_dataset(config.dataset, config.root, config.train_split)
        self.val_set = get_dataset(config.dataset, config.root, config.val_split)
        self.train_images: DecodedImages | None = None
        self.val_images: DecodedImages | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes of the training set."""
        return self.train_set.num_classes

    def setup(self, stage: str) -> None:
        """Decode the training and validation images (once).

        Args:
            stage: Lightning's stage (``"fit"``...), not used.
        """
        cache, progress = self.config.cache_images, self.config.progress
        if self.train_images is None:
            self.train_images = DecodedImages(self.train_set, cache=cache, progress=progress)
            self.val_images = DecodedImages(self.val_set, cache=cache, progress=progress)

    def train_dataloader(self) -> DataLoader:
        """Augmented, seeded, sharded training batches (full batches only).

        Returns:
            The loader.
        """
        assert self.train_images is not None
        c = self.config
        transforms = train_transforms(
            c.crop_size, scale_range=c.scale_range, color_jitter=c.color_jitter, mean=self.mean, std=self.std
        )
        dataset = AugmentedDataset(self.train_images, transforms, seeded=True)
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        sampler = SeededSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=c.seed, drop_last=True)
        return DataLoader(
            dataset,
            batch_size=c.batch_size,
            sampler=sampler,
            num_workers=c.num_workers,
            drop_last=True,
            persistent_workers=c.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        """Validation images one at a time (they may differ in size), sharded.

        Returns:
            The loader.
        """
        assert self.val_images is not None
        dataset = AugmentedDataset(self.val_images, eval_transforms(mean=self.mean, std=self.std), seeded=False)
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        sampler: DistributedSampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
        # batch 1: validation images keep their own (possibly different) sizes
        return DataLoader(dataset, batch_size=1, sampler=sampler, num_workers=self.config.num_workers)


def loss_class_weights(kind: str, images: DecodedImages, num_classes: int) -> torch.Tensor | None:
    """Cross-entropy weights for ``TrainConfig.class_weights``: none, median-frequency or its square root.

    Args:
        kind: ``"none"``, ``"median_frequency"`` or ``"sqrt_median_frequency"``.
        images: The decoded training pairs.
        num_classes: Number of classes.

    Returns:
        One weight per class, or ``None`` for ``"none"``.

    Raises:
        ValueError: For another ``kind``.
    """
    if kind == "none":
        return None
    if kind not in ("median_frequency", "sqrt_median_frequency"):
        raise ValueError(f"class_weights: expected none, median_frequency or sqrt_median_frequency, got {kind!r}")
    weights = median_frequency_weights(images, num_classes)
    return weights.sqrt() if kind == "sqrt_median_frequency" else weights
