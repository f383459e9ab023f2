"""Cityscapes fine annotations, 19 evaluation classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._layout import check_split, locate
from .datasets import IGNORE_INDEX, LabelSpace, SegmentationDataset, require_dir
from .registry import register_dataset

__all__ = ["CITYSCAPES_LABELS", "Cityscapes"]

# The 19 classes evaluated on the benchmark, in train-id order, with the official colours.
_CLASSES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)),
    ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)),
    ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)),
    ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)),
    ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)),
    ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)
# labelId -> trainId of the evaluated labels (cityscapesScripts' labels.py): road, sidewalk, building, wall,
# fence, pole, traffic light, traffic sign, vegetation, terrain, sky, person, rider, car, truck, bus, train,
# motorcycle, bicycle. The other 15 of the 34 label ids (unlabeled, ego vehicle, ..., parking, rail track,
# guard rail, bridge, tunnel, polegroup, caravan, trailer) are not evaluated and become 255.
_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
NUM_LABEL_IDS = 34

CITYSCAPES_LABELS = LabelSpace(
    class_names=tuple(name for name, _ in _CLASSES),
    palette=tuple(colour for _, colour in _CLASSES),
    raw_to_train={label: _TRAIN_IDS.get(label, IGNORE_INDEX) for label in range(NUM_LABEL_IDS)},
)


class Cityscapes(SegmentationDataset):
    """Cityscapes as unpacked from ``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip`` into one
    ``root``: ``leftImg8bit/SPLIT/CITY/NAME_leftImg8bit.png`` with ``gtFine/SPLIT/CITY/NAME_gtFine_labelIds.png``
    (2,975 train, 500 val, 1,525 test images; test masks are all void). The 34 label ids are mapped to the 19
    train ids, the rest to 255.

    Args:
        root: The folder holding ``leftImg8bit/`` and ``gtFine/``, or the one holding ``cityscapes/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder or file is missing.
    """

    SPLITS = ("train", "val", "test")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        check_split("Cityscapes", split, self.SPLITS)
        base = locate(root, ("cityscapes",), "leftImg8bit", "Cityscapes")
        images = require_dir(base / "leftImg8bit" / split, f"Cityscapes {split} images")
        labels = require_dir(base / "gtFine" / split, f"Cityscapes {split} fine annotations")
        pairs: list[tuple[Path, Path]] = []
        for city in sorted(p for p in images.iterdir() if p.is_dir()):
            for image in sorted(city.glob("*_leftImg8bit.png")):
                name = image.name.removesuffix("_leftImg8bit.png")
                pairs.append((image, labels / city.name / f"{name}_gtFine_labelIds.png"))
        super().__init__(pairs, CITYSCAPES_LABELS, name=f"Cityscapes {split} ({base})", **kwargs)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "cityscapes",
    splits=Cityscapes.SPLITS,
    description="Cityscapes fine, 19 classes: leftImg8bit/SPLIT/CITY + gtFine/SPLIT/CITY (*_gtFine_labelIds.png)",
)(Cityscapes)
