"""Registry of the checkpoints published with the reference implementations.

The original host (cloudstor.aarnet.edu.au) was shut down and, as the reference author
wrote in DrSleep/light-weight-refinenet issue #80, no copies were kept; no checksums were
ever published. These entries are kept for provenance and are marked unavailable: asking for one explains how to convert a copy
you already have. An entry that is available is downloaded and converted once by
:mod:`refineseg.weights.download` (which ``load_model`` calls) and cached as a refineseg
``.safetensors`` file; this module only knows where that file is, so that reading weights by
name needs no model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._io import cache_dir
from .shipped import SHIPPED_WEIGHTS

__all__ = [
    "PUBLISHED_WEIGHTS",
    "PublishedWeights",
    "list_published_weights",
    "published_cache_path",
    "published_entry",
    "published_weights_path",
]


@dataclass(frozen=True)
class PublishedWeights:
    name: str
    arch: str  # refineseg builder
    reference_arch: str  # the reference builder the file was saved from
    dataset: str
    num_classes: int
    url: str
    sha256: str | None = None
    available: bool = False
    note: str = "the cloudstor host was shut down; the file can no longer be downloaded"


_CLOUDSTOR = "https://cloudstor.aarnet.edu.au/plus/s/{}/download"


def _entry(name: str, arch: str, ref: str, dataset: str, classes: int, token: str) -> PublishedWeights:
    return PublishedWeights(name, arch, ref, dataset, classes, _CLOUDSTOR.format(token))


PUBLISHED_WEIGHTS: dict[str, PublishedWeights] = {
    w.name: w
    for w in (
        # DrSleep/refinenet-pytorch
        _entry("refinenet_resnet101_voc", "refinenet_resnet101", "rf101", "PASCAL VOC 2012", 21, "Owmttk9bdPROwc6"),
        # best-of-acrv/refinenet (pip package "refinenet"), saved as {"model": state_dict}
        _entry("refinenet_resnet50_nyu", "refinenet_resnet50", "refinenet50", "NYUDv2", 40, "thgUqW2uRZBeEXG"),
        _entry("refinenet_resnet101_nyu", "refinenet_resnet101", "refinenet101", "NYUDv2", 40, "9wPfvg6eKqTztNy"),
        _entry("refinenet_resnet152_nyu", "refinenet_resnet152", "refinenet152", "NYUDv2", 40, "QFcL2qgNsnpSOlr"),
        _entry("refinenet_resnet50_voc", "refinenet_resnet50", "refinenet50", "PASCAL VOC 2012", 21, "YH73jIiBa8iKllX"),
        _entry(
            "refinenet_resnet101_voc_acrv",
            "refinenet_resnet101",
            "refinenet101",
            "PASCAL VOC 2012",
            21,
            "rzgoGwTb6CK7nbT",
        ),
        _entry(
            "refinenet_resnet152_voc", "refinenet_resnet152", "refinenet152", "PASCAL VOC 2012", 21, "fSsPeSsNyyHYTwC"
        ),
        # DrSleep/light-weight-refinenet
        _entry(
            "lw_refinenet_resnet50_person",
            "lw_refinenet_resnet50",
            "rf_lw50",
            "PASCAL Person-Part",
            7,
            "mLA7NxVSPjNL7Oo",
        ),
        _entry(
            "lw_refinenet_resnet101_person",
            "lw_refinenet_resnet101",
            "rf_lw101",
            "PASCAL Person-Part",
            7,
            "f1tGGpwdCnYS3xu",
        ),
        _entry(
            "lw_refinenet_resnet152_person",
            "lw_refinenet_resnet152",
            "rf_lw152",
            "PASCAL Person-Part",
            7,
            "Ql64rWqiTvWGAA0",
        ),
        _entry(
            "lw_refinenet_resnet50_voc", "lw_refinenet_resnet50", "rf_lw50", "PASCAL VOC 2012", 21, "xp7GcVKC0GbxhTv"
        ),
        _entry(
            "lw_refinenet_resnet101_voc", "lw_refinenet_resnet101", "rf_lw101", "PASCAL VOC 2012", 21, "CPRKWiaCIDRdOwF"
        ),
        _entry(
            "lw_refinenet_resnet152_voc", "lw_refinenet_resnet152", "rf_lw152", "PASCAL VOC 2012", 21, "2w8bFOd45JtPqbD"
        ),
        _entry("lw_refinenet_resnet50_nyu", "lw_refinenet_resnet50", "rf_lw50", "NYUDv2", 40, "gE8dnQmHr9svpfu"),
        _entry("lw_refinenet_resnet101_nyu", "lw_refinenet_resnet101", "rf_lw101", "NYUDv2", 40, "VnsaSUHNZkuIqeB"),
        _entry("lw_refinenet_resnet152_nyu", "lw_refinenet_resnet152", "rf_lw152", "NYUDv2", 40, "EkPQzB2KtrrDnKf"),
        _entry(
            "lw_refinenet_resnet101_context",
            "lw_refinenet_resnet101",
            "rf_lw101",
            "PASCAL-Context",
            60,
            "hqmplxWOBbOYYjN",
        ),
        _entry(
            "lw_refinenet_resnet152_context",
            "lw_refinenet_resnet152",
            "rf_lw152",
            "PASCAL-Context",
            60,
            "O84NszlYlsu00fW",
        ),
        _entry(
            "lw_refinenet_mobilenet_v2_voc",
            "lw_refinenet_mobilenet_v2",
            "mbv2",
            "PASCAL VOC 2012",
            21,
            "nQ6wDnTEFhyidot",
        ),
    )
}


def list_published_weights() -> list[PublishedWeights]:
    return list(PUBLISHED_WEIGHTS.values())


def published_weights_path(name: str) -> Path:
    """Path of the converted ``.safetensors`` file of a published checkpoint, once downloaded."""
    entry = published_entry(name)
    cached = published_cache_path(name)
    if cached.is_file():
        return cached
    if not entry.available:
        raise FileNotFoundError(
            f"published weights {name!r} ({entry.url}) are unavailable: {entry.note}. If you have the original file, "
            f"convert it: refineseg convert FILE --arch {entry.reference_arch} --num-classes {entry.num_classes} --output {cached}"
        )
    raise FileNotFoundError(
        f"published weights {name!r} are not downloaded yet: refineseg.load_model({name!r}) downloads and "
        "converts them once (needs a network)"
    )


def published_entry(name: str) -> PublishedWeights:
    """The catalogue entry of a published checkpoint; ``FileNotFoundError`` naming the known ones."""
    try:
        return PUBLISHED_WEIGHTS[name]
    except KeyError:
        raise FileNotFoundError(
            f"{name!r} is neither a weights file, nor shipped weights ({', '.join(SHIPPED_WEIGHTS)}), "
            f"nor a published checkpoint ({', '.join(PUBLISHED_WEIGHTS)})"
        ) from None


def published_cache_path(name: str) -> Path:
    """Where the converted ``.safetensors`` file of a published checkpoint is kept."""
    return cache_dir("weights") / f"{name}.safetensors"
