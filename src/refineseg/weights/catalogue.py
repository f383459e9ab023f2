"""The one catalogue of weights known by name: shipped with the package, or published with the
reference implementations.

Each entry is typed and says where its ``.safetensors`` file lives, so reading weights by name
(:func:`weights_path`) needs no model code and never guesses against files in the working
directory. Downloading and converting a published checkpoint builds a model, so it lives above,
in :mod:`refineseg.weights.download`.

The published checkpoints' original host (cloudstor.aarnet.edu.au) was shut down and, as the
reference author wrote in DrSleep/light-weight-refinenet issue #80, no copies were kept; no
checksums were ever published. Those entries stay for provenance and are marked unavailable:
asking for one explains how to convert a copy you already have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from .._io import cache_dir
from .._registry import Registry
from .._suggest import did_you_mean

__all__ = [
    "CATALOGUE",
    "DEFAULT_WEIGHTS",
    "PublishedWeights",
    "ShippedWeights",
    "WeightsEntry",
    "get_entry",
    "list_weights",
    "weights_path",
]

_FILES = Path(__file__).with_name("files")

# what `refineseg predict`, `evaluate` and `serve` use when no --weights is given
DEFAULT_WEIGHTS = "camvid"


@dataclass(frozen=True, kw_only=True)
class WeightsEntry:
    """What every named set of weights declares.

    Attributes:
        name: The name that ``load_model``, ``Segmenter.from_pretrained`` and ``--weights`` accept.
        arch: The refineseg builder the weights fit (``refinenet_resnet101``, ...).
        dataset: The dataset the model was trained on, as a human-readable description.
        num_classes: The number of classes the model predicts.
    """

    kind: ClassVar[Literal["shipped", "published"]]

    name: str
    arch: str
    dataset: str
    num_classes: int

    @property
    def path(self) -> Path:
        """Where the refineseg ``.safetensors`` file of these weights is (or will be) kept."""
        raise NotImplementedError

    @property
    def installed(self) -> bool:
        """Whether the file is on this machine, so that loading needs no network."""
        return self.path.is_file()


@dataclass(frozen=True, kw_only=True)
class ShippedWeights(WeightsEntry):
    """Weights trained by this project that ship inside the package, so they load with no network.

    Attributes:
        filename: The file's name in the package's ``weights/files`` folder.
        card: The model card in the repository: recipe, command, metrics.
    """

    kind: ClassVar[Literal["shipped", "published"]] = "shipped"

    filename: str
    card: str

    @property
    def path(self) -> Path:
        """The file inside the installed package."""
        return _FILES / self.filename


@dataclass(frozen=True, kw_only=True)
class PublishedWeights(WeightsEntry):
    """A checkpoint published with a reference implementation, converted on first use.

    Attributes:
        reference_arch: The reference builder the file was saved from (``refineseg convert --arch``).
        url: Where the original file was published.
        sha256: Its checksum, when one was published.
        available: Whether ``url`` can still be downloaded.
        note: Why it cannot, when it cannot.
    """

    kind: ClassVar[Literal["shipped", "published"]] = "published"

    reference_arch: str
    url: str
    sha256: str | None = None
    available: bool = False
    note: str = "the cloudstor host was shut down; the file can no longer be downloaded"

    @property
    def path(self) -> Path:
        """The converted file in the cache (``$REFINESEG_HOME/weights``)."""
        return cache_dir("weights") / f"{self.name}.safetensors"


_CLOUDSTOR = "https://cloudstor.aarnet.edu.au/plus/s/{}/download"


def _published(name: str, arch: str, ref: str, dataset: str, classes: int, token: str) -> PublishedWeights:
    return PublishedWeights(
        name=name, arch=arch, reference_arch=ref, dataset=dataset, num_classes=classes, url=_CLOUDSTOR.format(token)
    )


_VOC, _NYU, _PERSON, _CONTEXT = "PASCAL VOC 2012", "NYUDv2", "PASCAL Person-Part", "PASCAL-Context"

_ENTRIES: tuple[WeightsEntry, ...] = (
    ShippedWeights(
        name="camvid",
        arch="refinenet_efficientnet_lite2",
        dataset="CamVid (SegNet split, 360x480)",
        num_classes=11,
        filename="camvid_refinenet_efficientnet_lite2.safetensors",
        card="docs/MODEL_CARD_CAMVID.md",
    ),
    # DrSleep/refinenet-pytorch
    _published("refinenet_resnet101_voc", "refinenet_resnet101", "rf101", _VOC, 21, "Owmttk9bdPROwc6"),
    # best-of-acrv/refinenet (pip package "refinenet"), saved as {"model": state_dict}
    _published("refinenet_resnet50_nyu", "refinenet_resnet50", "refinenet50", _NYU, 40, "thgUqW2uRZBeEXG"),
    _published("refinenet_resnet101_nyu", "refinenet_resnet101", "refinenet101", _NYU, 40, "9wPfvg6eKqTztNy"),
    _published("refinenet_resnet152_nyu", "refinenet_resnet152", "refinenet152", _NYU, 40, "QFcL2qgNsnpSOlr"),
    _published("refinenet_resnet50_voc", "refinenet_resnet50", "refinenet50", _VOC, 21, "YH73jIiBa8iKllX"),
    _published("refinenet_resnet101_voc_acrv", "refinenet_resnet101", "refinenet101", _VOC, 21, "rzgoGwTb6CK7nbT"),
    _published("refinenet_resnet152_voc", "refinenet_resnet152", "refinenet152", _VOC, 21, "fSsPeSsNyyHYTwC"),
    # DrSleep/light-weight-refinenet
    _published("lw_refinenet_resnet50_person", "lw_refinenet_resnet50", "rf_lw50", _PERSON, 7, "mLA7NxVSPjNL7Oo"),
    _published("lw_refinenet_resnet101_person", "lw_refinenet_resnet101", "rf_lw101", _PERSON, 7, "f1tGGpwdCnYS3xu"),
    _published("lw_refinenet_resnet152_person", "lw_refinenet_resnet152", "rf_lw152", _PERSON, 7, "Ql64rWqiTvWGAA0"),
    _published("lw_refinenet_resnet50_voc", "lw_refinenet_resnet50", "rf_lw50", _VOC, 21, "xp7GcVKC0GbxhTv"),
    _published("lw_refinenet_resnet101_voc", "lw_refinenet_resnet101", "rf_lw101", _VOC, 21, "CPRKWiaCIDRdOwF"),
    _published("lw_refinenet_resnet152_voc", "lw_refinenet_resnet152", "rf_lw152", _VOC, 21, "2w8bFOd45JtPqbD"),
    _published("lw_refinenet_resnet50_nyu", "lw_refinenet_resnet50", "rf_lw50", _NYU, 40, "gE8dnQmHr9svpfu"),
    _published("lw_refinenet_resnet101_nyu", "lw_refinenet_resnet101", "rf_lw101", _NYU, 40, "VnsaSUHNZkuIqeB"),
    _published("lw_refinenet_resnet152_nyu", "lw_refinenet_resnet152", "rf_lw152", _NYU, 40, "EkPQzB2KtrrDnKf"),
    _published("lw_refinenet_resnet101_context", "lw_refinenet_resnet101", "rf_lw101", _CONTEXT, 60, "hqmplxWOBbOYYjN"),
    _published("lw_refinenet_resnet152_context", "lw_refinenet_resnet152", "rf_lw152", _CONTEXT, 60, "O84NszlYlsu00fW"),
    _published("lw_refinenet_mobilenet_v2_voc", "lw_refinenet_mobilenet_v2", "mbv2", _VOC, 21, "nQ6wDnTEFhyidot"),
)


def _registry(entries: tuple[WeightsEntry, ...]) -> Registry[WeightsEntry]:
    registry: Registry[WeightsEntry] = Registry("weights entry")
    for entry in entries:
        registry.add(entry.name, entry)  # a second entry under a name is an error
    return registry


CATALOGUE: Registry[WeightsEntry] = _registry(_ENTRIES)


def list_weights(kind: Literal["shipped", "published"] | None = None) -> list[WeightsEntry]:
    """The catalogue's entries, shipped ones first.

    Args:
        kind: Only entries of this kind; ``None`` lists all.

    Returns:
        The entries in catalogue order.
    """
    return [entry for entry in CATALOGUE.entries() if kind is None or entry.kind == kind]


def get_entry(name: str) -> WeightsEntry:
    """The catalogue entry called ``name``.

    Args:
        name: A shipped or published weights name.

    Returns:
        Its entry.

    Raises:
        FileNotFoundError: ``name`` is not in the catalogue; the message suggests the closest
            known name and where the names are listed (not all of them: most are unavailable).
    """
    if name not in CATALOGUE:
        hint = did_you_mean(name, CATALOGUE)
        raise FileNotFoundError(
            f"{name!r} is neither a weights file nor a weights name{'; ' + hint if hint else ''} "
            "(`refineseg models` lists the names)"
        )
    return CATALOGUE.get(name)


def weights_path(name: str) -> Path:
    """The ``.safetensors`` file of the catalogue entry ``name``, which must be on this machine.

    Args:
        name: A shipped or published weights name.

    Returns:
        The path of its refineseg weights file.

    Raises:
        FileNotFoundError: The name is unknown, shipped weights are missing from the installation,
            or a published checkpoint has not been downloaded (the message says how to get it).
    """
    entry = get_entry(name)
    if entry.installed:
        return entry.path
    if isinstance(entry, ShippedWeights):
        raise FileNotFoundError(
            f"the shipped weights {name!r} are missing from this installation ({entry.path}); reinstall refineseg"
        )
    assert isinstance(entry, PublishedWeights)
    if not entry.available:
        raise FileNotFoundError(
            f"published weights {name!r} ({entry.url}) are unavailable: {entry.note}. If you have the original file, "
            f"convert it: refineseg convert FILE --arch {entry.reference_arch} --num-classes {entry.num_classes} "
            f"--output {entry.path}"
        )
    raise FileNotFoundError(
        f"published weights {name!r} are not downloaded yet: refineseg.load_model({name!r}) downloads and "
        "converts them once (needs a network)"
    )
