"""Tiny dataset trees in their on-disk layouts, written by the tests themselves."""

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import refineseg
import refineseg.models


def write_image(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def make_camvid(root: Path, splits=("train", "val"), n=2, size=(12, 16)) -> Path:
    """A CamVid tree in the SegNet layout, with labels 0..11 (11 = void)."""
    rng = np.random.default_rng(0)
    for split in splits:
        for i in range(n):
            name = f"0001TP_{i:06d}.png"
            write_image(root / split / name, rng.integers(0, 255, (*size, 3), dtype=np.uint8))
            write_image(root / f"{split}annot" / name, rng.integers(0, 12, size, dtype=np.uint8))
    return root


def randomize_batch_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Random running statistics and affine parameters, so that folding batch norms is not a no-op."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


# a tiny served model and picture (tests of serve and of the Label Studio backend)
CLASS_NAMES = ["sky", "road", "car"]
PALETTE = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
WIDTH, HEIGHT = 56, 40


def tiny_model() -> refineseg.models.SegmentationModel:
    """A 3-class Light-Weight RefineNet with random (seeded) weights: fast, and its classes are known.

    The classifier gets larger weights than its initialisation gives, so that the sample image
    comes out as several classes rather than one, and the legend has rows to check.
    """
    torch.manual_seed(0)
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    with torch.no_grad():
        classifier = model.head.classifier
        classifier.weight.copy_(torch.randn(classifier.weight.shape, generator=torch.Generator().manual_seed(2)))
        classifier.bias.zero_()
    model.meta.class_names = list(CLASS_NAMES)
    model.meta.palette = list(PALETTE)
    return model


def sample_image(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A small RGB picture with some structure (sky-ish top, grey bottom, a dark block)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    rgb[..., 1] = np.where(y < height // 2, 180, 90)
    rgb[..., 2] = np.where(y < height // 2, 230, 90)
    rgb[height // 2 :, width // 3 : width // 2] = 20
    return Image.fromarray(rgb)


def png_bytes(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()
