"""Segmentation datasets read in the layout they are distributed in.

Every dataset is a list of (image, mask) file pairs plus what a model needs to know about
its labels: class names, a palette, and the ``ignore_index`` (255) that void pixels are
mapped to. Files are checked when the dataset is built, so a wrong root or a missing mask
fails at once with the file's name rather than mid-epoch; sizes are checked on reading.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ..constants import IMAGE_SUFFIXES
from .labels import IGNORE_INDEX, DatasetError, LabelSpace, default_palette, read_label_space

__all__ = [
    "CAMVID_LABELS",
    "IGNORE_INDEX",
    "CamVid",
    "DatasetError",
    "FolderDataset",
    "LabelSpace",
    "ListDataset",
    "SegmentationDataset",
    "as_tv_tensors",
    "default_palette",
    "images_in",
    "read_label_space",
    "read_mask",
    "read_rgb",
    "require_dir",
]


class SegmentationDataset(Dataset):
    """(image, mask) pairs; items are ``(tv_tensors.Image uint8 3xHxW, tv_tensors.Mask int64 HxW)``.

    Args:
        pairs: ``(image file, mask file)`` pairs; every file must exist.
        labels: What the mask values mean: class names, palette, value mapping.
        transforms: Called as ``transforms(image, mask)`` on every item
            (``torchvision.transforms.v2`` transforms the two together).
        name: Names the dataset in error messages.

    Raises:
        DatasetError: If ``pairs`` is empty or a file is missing.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        labels: LabelSpace,
        *,
        transforms: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        name: str = "dataset",
    ) -> None:
        if not pairs:
            raise DatasetError(f"{name}: no images found")
        missing = [str(p) for pair in pairs for p in pair if not p.is_file()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DatasetError(f"{name}: missing file {missing[0]}{more}")
        self.pairs = list(pairs)
        self.labels = labels
        self.transforms = transforms
        self.name = name

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, in train-id order."""
        return self.labels.class_names

    @property
    def palette(self) -> tuple[tuple[int, int, int], ...]:
        """One RGB colour per class."""
        return self.labels.palette

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.labels.num_classes

    ignore_index = IGNORE_INDEX
    """The mask value of ignored (void) pixels after mapping, 255."""

    def __len__(self) -> int:
        return len(self.pairs)

    def read_raw_mask(self, index: int) -> np.ndarray:
        """The mask as stored: HxW values, or HxWx3 colours for a colour-mask label space.

        Args:
            index: The pair's index.

        Returns:
            The mask before mapping to train ids.

        Raises:
            DatasetError: If the mask cannot be read or has the wrong kind of values.
        """
        return read_mask(self.pairs[index][1], colour=self.labels.colour_masks)

    def read_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The decoded RGB image and its mask mapped to train ids, without transforms.

        Args:
            index: The pair's index.

        Returns:
            ``(image, mask)``: HxWx3 uint8 RGB and HxW uint8 train ids (255 ignored).

        Raises:
            DatasetError: If a file cannot be read or the sizes differ.
        """
        image_path, mask_path = self.pairs[index]
        image = read_rgb(image_path)
        mask = self.read_raw_mask(index)
        if image.shape[:2] != mask.shape[:2]:
            raise DatasetError(
                f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, but its image {image_path.name} is "
                f"{image.shape[1]}x{image.shape[0]} (width x height); they must match"
            )
        return image, self.labels.to_train_ids(mask)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        sample = as_tv_tensors(*self.read_pair(index))
        if self.transforms is not None:
            sample = self.transforms(*sample)
        return sample


def as_tv_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """HxWx3 uint8 image and HxW mask as the tensors ``transforms.v2`` treats jointly.

    Args:
        image: HxWx3 uint8 RGB.
        mask: HxW train ids.

    Returns:
        ``(3xHxW uint8 image, HxW int64 mask)``.
    """
    return (
        tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)),
        tv_tensors.Mask(torch.from_numpy(mask.astype(np.int64))),
    )


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image file as RGB.

    Args:
        path: The image file.

    Returns:
        HxWx3 uint8 RGB.

    Raises:
        DatasetError: If the file is not a readable image.
    """
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from None


def read_mask(path: Path, *, colour: bool = False) -> np.ndarray:
    """A label image as HxW uint8 values or, with ``colour``, HxWx3 RGB colours.

    Value masks may be grey, palette (the index is the value), 16-bit, or RGB with three
    equal channels (how some tools save index masks). An RGB mask with colours is refused
    with the ``classes.txt`` fix.

    Args:
        path: The mask file.
        colour: Whether the label space declares classes by colour.

    Returns:
        HxW uint8 values, or HxWx3 uint8 colours with ``colour``.

    Raises:
        DatasetError: If the file is unreadable, has colours without ``colour``, values above
            255 or an unsupported mode.
    """
    try:
        with Image.open(path) as im:
            if colour:
                return np.array(im.convert("RGB"))
            if im.mode in ("L", "P"):
                return np.asarray(im).astype(np.uint8)
            if im.mode in ("I;16", "I"):
                return _narrow(np.asarray(im), path)
            if im.mode in ("RGB", "RGBA"):
                rgb = np.asarray(im.convert("RGB"))
                if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                    return np.ascontiguousarray(rgb[..., 0])
                raise DatasetError(
                    f"{path}: an RGB colour mask, but the classes are not declared by colour; give each class "
                    "its mask colour in classes.txt, e.g. 'road color=128,64,128'"
                )
            raise DatasetError(f"{path}: a mask must be a single-channel label image, found mode {im.mode}")
    except (OSError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable mask ({exc})") from None


def _narrow(values: np.ndarray, path: Path) -> np.ndarray:
    if values.max(initial=0) > 255:
        raise DatasetError(f"{path}: mask values above 255 are not label ids")
    return values.astype(np.uint8)


def images_in(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, by suffix.

    Args:
        folder: The folder to list.

    Returns:
        The files with an image suffix (``IMAGE_SUFFIXES``), sorted.
    """
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def require_dir(path: Path, what: str) -> Path:
    """Check that a dataset folder exists.

    Args:
        path: The folder.
        what: What it should hold, for the error message.

    Returns:
        ``path``.

    Raises:
        DatasetError: If ``path`` is not a directory.
    """
    if not path.is_dir():
        raise DatasetError(f"{path}: no such directory ({what})")
    return path


CAMVID_LABELS = LabelSpace(
    class_names=(
        "Sky",
        "Building",
        "Pole",
        "Road",
        "Pavement",
        "Tree",
        "SignSymbol",
        "Fence",
        "Car",
        "Pedestrian",
        "Bicyclist",
    ),
    palette=(
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (60, 40, 222),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
    ),
    raw_to_train={11: IGNORE_INDEX},
)


class CamVid(SegmentationDataset):
    """CamVid, 11 classes, in the SegNet layout: ``train/``+``trainannot/``, ``val/``+``valannot/``,
    ``test/``+``testannot/``; masks share their image's file name; label 11 is void.

    Args:
        root: The folder holding the split folders.
        split: ``"train"``, ``"val"`` or ``"test"``.
        **kwargs: Passed to :class:`SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder or file is missing.
    """

    SPLITS = ("train", "val", "test")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        root = require_dir(Path(root), "CamVid root")
        if split not in self.SPLITS:
            raise DatasetError(f"CamVid split must be one of {', '.join(self.SPLITS)}, got {split!r}")
        images = require_dir(root / split, f"CamVid {split} images")
        masks = require_dir(root / f"{split}annot", f"CamVid {split} labels")
        pairs = [(p, masks / p.name) for p in images_in(images)]
        super().__init__(pairs, CAMVID_LABELS, name=f"CamVid {split} ({root})", **kwargs)


class FolderDataset(SegmentationDataset):
    """Any image folder with a mask folder beside it; a mask has its image's stem and ``mask_suffix``.

    Args:
        images: The image folder.
        masks: The mask folder.
        labels: What the mask values mean.
        mask_suffix: The masks' file suffix.
        **kwargs: Passed to :class:`SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If a folder, or an image's mask, is missing.
    """

    def __init__(
        self,
        images: str | os.PathLike[str],
        masks: str | os.PathLike[str],
        labels: LabelSpace,
        *,
        mask_suffix: str = ".png",
        **kwargs: Any,
    ) -> None:
        images_dir = require_dir(Path(images), "images")
        masks_dir = require_dir(Path(masks), "masks")
        pairs = [(p, masks_dir / f"{p.stem}{mask_suffix}") for p in images_in(images_dir)]
        super().__init__(pairs, labels, name=f"folder {images_dir}", **kwargs)


class ListDataset(SegmentationDataset):
    """A text file of ``image_path mask_path`` lines; blank lines and ``#`` comments are skipped.

    Args:
        list_file: The list file.
        labels: What the mask values mean.
        root: The folder the paths are relative to (default: the list file's folder).
        **kwargs: Passed to :class:`SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If the list file is missing, a line is malformed or a listed file is missing.
    """

    def __init__(
        self,
        list_file: str | os.PathLike[str],
        labels: LabelSpace,
        *,
        root: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        list_path = Path(list_file)
        if not list_path.is_file():
            raise DatasetError(f"{list_path}: no such list file")
        base = Path(root) if root is not None else list_path.parent
        pairs = []
        for number, line in enumerate(list_path.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields or line.lstrip().startswith("#"):
                continue
            if len(fields) != 2:
                raise DatasetError(f"{list_path}:{number}: expected 'IMAGE MASK', found {line.strip()!r}")
            pairs.append((base / fields[0], base / fields[1]))
        super().__init__(pairs, labels, name=f"list {list_path}", **kwargs)
