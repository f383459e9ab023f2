"""ADE20K as released for the MIT Scene Parsing Benchmark (ADEChallengeData2016), 150 classes."""

from __future__ import annotations

import os
from typing import Any

from ._layout import check_split, locate, shifted_labels
from .datasets import LabelSpace, SegmentationDataset, default_palette, require_dir
from .registry import register_dataset

__all__ = ["ADE20K", "ADE20K_CLASSES", "ADE20K_LABELS"]

# objectInfo150.txt's first names, in label order (label 1 = wall).
ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel",
    "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool",
    "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball",
    "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
ADE20K_LABELS = LabelSpace(ADE20K_CLASSES, default_palette(len(ADE20K_CLASSES)), shifted_labels(len(ADE20K_CLASSES)))

_FOLDERS = {"train": "training", "val": "validation"}


class ADE20K(SegmentationDataset):
    """``ADEChallengeData2016.zip`` unpacked: ``images/{training,validation}/NAME.jpg`` with
    ``annotations/{training,validation}/NAME.png`` (20,210 train, 2,000 val images); ``root`` is that folder
    or the one holding it. Masks: 0 "other" (void), 1..150 the classes.

    Args:
        root: ``ADEChallengeData2016`` or the folder holding it.
        split: ``"train"`` or ``"val"``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder or file is missing.
    """

    SPLITS = ("train", "val")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        check_split("ADE20K", split, self.SPLITS)
        base = locate(root, ("ADEChallengeData2016",), "images", "ADE20K")
        folder = _FOLDERS[split]
        images = require_dir(base / "images" / folder, f"ADE20K {split} images")
        masks = require_dir(base / "annotations" / folder, f"ADE20K {split} annotations")
        pairs = [(p, masks / f"{p.stem}.png") for p in sorted(images.glob("*.jpg"))]
        super().__init__(pairs, ADE20K_LABELS, name=f"ADE20K {split} ({base})", **kwargs)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "ade20k",
    splits=ADE20K.SPLITS,
    description="ADE20K 150 classes: ADEChallengeData2016/images/{training,validation} + annotations/",
)(ADE20K)
