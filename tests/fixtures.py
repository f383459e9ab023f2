"""Tiny dataset trees in their on-disk layouts, written by the tests themselves."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image


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
