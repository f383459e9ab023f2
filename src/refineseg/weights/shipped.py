"""Weights trained by this project that ship inside the package, so they load with no network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_WEIGHTS", "SHIPPED_WEIGHTS", "ShippedWeights", "list_shipped_weights", "shipped_weights_path"]

_FILES = Path(__file__).with_name("files")


@dataclass(frozen=True)
class ShippedWeights:
    name: str
    arch: str
    dataset: str
    num_classes: int
    filename: str
    card: str  # the model card in the repository: recipe, command, metrics

    @property
    def path(self) -> Path:
        return _FILES / self.filename


SHIPPED_WEIGHTS: dict[str, ShippedWeights] = {
    w.name: w
    for w in (
        ShippedWeights(
            name="camvid",
            arch="refinenet_efficientnet_lite0",
            dataset="CamVid (SegNet split, 360x480)",
            num_classes=11,
            filename="camvid_refinenet_efficientnet_lite0.safetensors",
            card="docs/MODEL_CARD_CAMVID.md",
        ),
    )
}

# what `refineseg predict`, `evaluate` and `serve` use when no --weights is given
DEFAULT_WEIGHTS = "camvid"


def list_shipped_weights() -> list[ShippedWeights]:
    return list(SHIPPED_WEIGHTS.values())


def shipped_weights_path(name: str) -> Path:
    entry = SHIPPED_WEIGHTS[name]
    if not entry.path.is_file():
        raise FileNotFoundError(
            f"the shipped weights {name!r} are missing from this installation ({entry.path}); reinstall refineseg"
        )
    return entry.path
