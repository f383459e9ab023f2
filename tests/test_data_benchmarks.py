"""The benchmark loaders on tiny trees in each dataset's distributed layout."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from refineseg.data.ade20k import ADE20K, ADE20K_LABELS
from refineseg.data.cityscapes import CITYSCAPES_LABELS, Cityscapes
from refineseg.data.datasets import IGNORE_INDEX, DatasetError
from refineseg.data.nyudv2 import NYUDV2_LABELS, NYUDv2
from refineseg.data.pascal_context import PASCAL_CONTEXT_LABELS, PascalContext
from refineseg.data.person_part import PERSON_PART_LABELS, PersonPart
from refineseg.data.registry import get_dataset, list_datasets
from refineseg.data.sunrgbd import SUNRGBD, SUNRGBD_LABELS
from refineseg.data.voc import VOC_LABELS, PascalVOC

H, W = 8, 12


def _image(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(path)


def _mask(path: Path, values: list[int] | np.ndarray, *, palette: bool = False) -> np.ndarray:
    """A mask whose pixels cycle through ``values`` (so each appears), as an L or a palette PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.resize(np.asarray(values, dtype=np.uint8), (H, W))
    im = Image.frombytes("P" if palette else "L", (W, H), mask.tobytes())
    if palette:
        im.putpalette([c for i in range(256) for c in (i, 255 - i, i // 2)])
    im.save(path)
    return mask


def _ids(path: Path, ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in ids))


def _check_item(ds, index: int = 0) -> torch.Tensor:
    image, mask = ds[index]
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, H, W) and image.dtype == torch.uint8
    assert isinstance(mask, tv_tensors.Mask) and mask.shape == (H, W) and mask.dtype == torch.int64
    return mask


def _mapped(mask: torch.Tensor, raw: np.ndarray) -> dict[int, int]:
    """raw value -> the train id it became."""
    return {int(v): int(mask[torch.from_numpy(raw == v)].unique().item()) for v in np.unique(raw)}


# --- PASCAL VOC 2012 ---------------------------------------------------------------------------------


def make_voc(root: Path) -> Path:
    """VOCdevkit/VOC2012 with 2 train, 1 val image (2008_000002..4); palette masks with 255 boundaries."""
    voc = root / "VOCdevkit" / "VOC2012"
    for n, i in enumerate(["2008_000002", "2008_000003", "2008_000004"]):
        _image(voc / "JPEGImages" / f"{i}.jpg", n)
        _mask(voc / "SegmentationClass" / f"{i}.png", [0, 15, 255, 20, n], palette=True)
    _ids(voc / "ImageSets" / "Segmentation" / "train.txt", ["2008_000002", "2008_000003"])
    _ids(voc / "ImageSets" / "Segmentation" / "val.txt", ["2008_000004"])
    _ids(voc / "ImageSets" / "Segmentation" / "trainval.txt", ["2008_000002", "2008_000003", "2008_000004"])
    return root


def make_sbd(root: Path, *, mat: bool = True) -> Path:
    """SBD's benchmark_RELEASE/dataset beside VOCdevkit: train has a VOC train and an SBD-only image,
    val has the VOC val image (which train_aug must drop) and another SBD-only one. Without ``mat`` the
    .mat files are placeholders (enough to build the pair list, which does not read them)."""
    sbd = root / "benchmark_RELEASE" / "dataset"
    (sbd / "cls").mkdir(parents=True)
    for n, i in enumerate(["2008_000002", "2008_000004", "2009_000010", "2009_000020"]):
        _image(sbd / "img" / f"{i}.jpg", 10 + n)
        if mat:
            seg = np.resize(np.array([0, 7, 12, n], dtype=np.uint8), (H, W))
            gt = {"Segmentation": seg, "Boundaries": np.zeros(1), "CategoriesPresent": np.array([7, 12])}
            pytest.importorskip("scipy.io").savemat(sbd / "cls" / f"{i}.mat", {"GTcls": gt})
        else:
            (sbd / "cls" / f"{i}.mat").write_bytes(b"placeholder")
    _ids(sbd / "train.txt", ["2008_000002", "2009_000010"])
    _ids(sbd / "val.txt", ["2008_000004", "2009_000020"])
    return sbd


def test_voc_reads_vocdevkit_splits_and_keeps_255_void(tmp_path):
    root = make_voc(tmp_path)
    train, val = PascalVOC(root, "train"), PascalVOC(root / "VOCdevkit" / "VOC2012", "val")
    assert len(train) == 2 and len(val) == 1 and len(PascalVOC(root, "trainval")) == 3
    assert train.num_classes == 21 and VOC_LABELS.class_names[15] == "person" and len(train.palette) == 21
    assert train.palette[1] == (128, 0, 0)
    mask = _check_item(train)
    raw = np.asarray(Image.open(train.pairs[0][1]))
    assert _mapped(mask, raw) == {0: 0, 15: 15, 20: 20, 255: IGNORE_INDEX}


def test_voc_train_aug_is_sbd_and_voc_train_minus_voc_val(tmp_path):
    root = make_voc(tmp_path)
    sbd = make_sbd(root, mat=False)
    voc = root / "VOCdevkit" / "VOC2012"
    ds = PascalVOC(root, "train_aug")
    assert [image.stem for image, _ in ds.pairs] == ["2008_000002", "2008_000003", "2009_000010", "2009_000020"]
    # VOC train images keep VOC's masks; SBD-only ones are read from SBD.
    assert ds.pairs[0] == (voc / "JPEGImages" / "2008_000002.jpg", voc / "SegmentationClass" / "2008_000002.png")
    assert ds.pairs[2] == (sbd / "img" / "2009_000010.jpg", sbd / "cls" / "2009_000010.mat")
    assert len(PascalVOC(voc, "train_aug", sbd_root=root / "benchmark_RELEASE")) == 4
    with pytest.raises(DatasetError, match=r"elsewhere: not the SBD root; expected cls/"):
        PascalVOC(root, "train_aug", sbd_root=tmp_path / "elsewhere")


def test_voc_train_aug_reads_sbd_mat_masks(tmp_path):
    root = make_voc(tmp_path)
    make_sbd(root)
    ds = PascalVOC(root, "train_aug")
    mask = _check_item(ds, 2)
    assert sorted(mask.unique().tolist()) == [0, 2, 7, 12]
    assert sorted(_check_item(ds, 0).unique().tolist()) == [0, 15, 20, IGNORE_INDEX]


def test_sbd_masks_without_scipy_say_what_to_install(tmp_path, monkeypatch):
    root = make_voc(tmp_path)
    make_sbd(root, mat=False)
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # makes the import fail
    with pytest.raises(DatasetError, match=r"2009_000010\.mat: reading SBD \.mat masks needs scipy"):
        PascalVOC(root, "train_aug")[2]


def test_voc_train_aug_from_segmentation_class_aug(tmp_path):
    root = make_voc(tmp_path)
    voc = root / "VOCdevkit" / "VOC2012"
    with pytest.raises(DatasetError, match=r"train_aug needs SBD's benchmark_RELEASE/dataset"):
        PascalVOC(root, "train_aug")
    for i in ["2008_000002", "2009_000010"]:
        _image(voc / "JPEGImages" / f"{i}.jpg")
        _mask(voc / "SegmentationClassAug" / f"{i}.png", [0, 3, 255])
    lines = [f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png\n" for i in ["2008_000002", "2009_000010"]]
    (voc / "ImageSets" / "Segmentation" / "train_aug.txt").write_text("".join(lines))  # DeepLab's list style
    ds = get_dataset("voc", root, "train_aug")
    assert len(ds) == 2 and ds.pairs[1] == (
        voc / "JPEGImages" / "2009_000010.jpg",
        voc / "SegmentationClassAug" / "2009_000010.png",
    )
    assert sorted(_check_item(ds).unique().tolist()) == [0, 3, IGNORE_INDEX]


def test_voc_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="no such directory"):
        PascalVOC(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"not the PASCAL VOC 2012 root; expected JPEGImages/"):
        PascalVOC(tmp_path)
    root = make_voc(tmp_path)
    with pytest.raises(DatasetError, match="split must be one of"):
        PascalVOC(root, "test")
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").unlink()
    with pytest.raises(DatasetError, match=r"val\.txt: no such split list"):
        PascalVOC(root, "val")
    (root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000003.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*2008_000003\.png"):
        PascalVOC(root, "train")


def test_sbd_mask_that_is_not_sbd_is_named(tmp_path):
    root = make_voc(tmp_path)
    sbd = make_sbd(root)
    pytest.importorskip("scipy.io").savemat(sbd / "cls" / "2009_000010.mat", {"other": np.zeros((2, 2))})
    with pytest.raises(DatasetError, match=r"2009_000010\.mat: not an SBD class mask"):
        PascalVOC(root, "train_aug")[2]


# --- Cityscapes --------------------------------------------------------------------------------------


def make_cityscapes(root: Path) -> Path:
    """leftImg8bit/ + gtFine/ with 2 train images in 2 cities and 1 val image."""
    for n, (split, city, frame) in enumerate(
        [
            ("train", "aachen", "000000_000019"),
            ("train", "bochum", "000001_000019"),
            ("val", "frankfurt", "000000_000294"),
        ]
    ):
        name = f"{city}_{frame}"
        _image(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", n)
        gt = root / "gtFine" / split / city
        _mask(gt / f"{name}_gtFine_labelIds.png", [0, 7, 8, 26, 33, 18, 4, 24])
        _mask(gt / f"{name}_gtFine_color.png", [0])  # other files of the archive are not read
    return root


def test_cityscapes_maps_label_ids_to_train_ids(tmp_path):
    root = make_cityscapes(tmp_path / "cityscapes")
    ds = Cityscapes(root, "train")
    assert len(ds) == 2 and len(Cityscapes(tmp_path, "val")) == 1
    assert ds.num_classes == 19 and ds.class_names[13] == "car" and ds.palette[0] == (128, 64, 128)
    assert [p[0].parent.name for p in ds.pairs] == ["aachen", "bochum"]
    mask = _check_item(ds)
    raw = np.asarray(Image.open(ds.pairs[0][1]))
    assert _mapped(mask, raw) == {0: 255, 4: 255, 7: 0, 8: 1, 18: 255, 24: 11, 26: 13, 33: 18}
    table = CITYSCAPES_LABELS.lookup_table()
    assert sorted(int(table[i]) for i in range(34) if table[i] != IGNORE_INDEX) == list(range(19))


def test_cityscapes_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match=r"not the Cityscapes root; expected leftImg8bit/"):
        Cityscapes(tmp_path)
    root = make_cityscapes(tmp_path)
    with pytest.raises(DatasetError, match=r"leftImg8bit/test: no such directory"):
        Cityscapes(root, "test")
    (root / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000294_gtFine_labelIds.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*frankfurt_000000_000294_gtFine_labelIds\.png"):
        Cityscapes(root, "val")


# --- NYUDv2 ------------------------------------------------------------------------------------------


def make_nyud(root: Path) -> Path:
    """Light-Weight RefineNet's layout: 2 train, 1 val image, masks with train ids and 255 void."""
    for n, (folder, name) in enumerate([("train", "000003.png"), ("train", "000004.png"), ("val", "000001.png")]):
        _image(root / f"{folder}_images" / name, n)
        _mask(root / f"{folder}_labels" / name, [0, 1, 39, 255, 20])
    return root


def test_nyudv2_reads_the_light_weight_refinenet_layout(tmp_path):
    root = make_nyud(tmp_path / "nyud")
    ds = NYUDv2(root, "train")
    assert len(ds) == 2 and len(NYUDv2(root, "val")) == 1 and len(get_dataset("nyudv2", root, "test")) == 1
    assert ds.num_classes == 40 and NYUDV2_LABELS.class_names[0] == "wall" and len(ds.palette) == 40
    raw = np.asarray(Image.open(ds.pairs[0][1]))
    assert _mapped(_check_item(ds), raw) == {0: 0, 1: 1, 20: 20, 39: 39, 255: 255}


def test_nyudv2_one_based_masks_shift_and_void_zero(tmp_path):
    root = tmp_path / "nyud"
    _image(root / "train_images" / "000003.png")
    raw = _mask(root / "train_labels" / "000003.png", [0, 1, 40, 21])
    ds = NYUDv2(root, "train", one_based_labels=True)
    assert ds.num_classes == 40 and _mapped(_check_item(ds), raw) == {0: 255, 1: 0, 21: 20, 40: 39}


def test_nyudv2_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match=r"train_images: no such directory \(NYUDv2 train images\)"):
        NYUDv2(tmp_path)
    root = make_nyud(tmp_path)
    (root / "val_labels" / "000001.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*val_labels/000001\.png"):
        NYUDv2(root, "val")


# --- PASCAL Person-Part ------------------------------------------------------------------------------


def make_person_part(root: Path, *, id_lists: bool = True) -> Path:
    """pascal_person_part/ (gt + lists) beside VOCdevkit/VOC2012/JPEGImages; 2 train, 1 val image."""
    parts = root / "pascal_person_part"
    for n, i in enumerate(["2008_000003", "2008_000008", "2008_000026"]):
        _image(root / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{i}.jpg", n)
        _mask(parts / "pascal_person_part_gt" / f"{i}.png", [0, 1, 2, 3, 4, 5, 6])
    lists = parts / "pascal_person_part_trainval_list"
    if id_lists:
        _ids(lists / "train_id.txt", ["2008_000003", "2008_000008"])
        _ids(lists / "val_id.txt", ["2008_000026"])
    else:  # DeepLab's image/mask pairs
        lists.mkdir(parents=True)
        (lists / "train.txt").write_text("/JPEGImages/2008_000003.jpg /SegmentationPart/2008_000003.png\n")
    return root


def test_person_part_reads_the_deeplab_distribution(tmp_path):
    root = make_person_part(tmp_path)
    ds = PersonPart(root, "train")
    assert len(ds) == 2 and len(PersonPart(root / "pascal_person_part", "val")) == 1
    assert ds.num_classes == 7 and PERSON_PART_LABELS.class_names[1] == "head"
    raw = np.asarray(Image.open(ds.pairs[0][1]))
    assert _mapped(_check_item(ds), raw) == {k: k for k in range(7)}
    pairs_only = make_person_part(tmp_path / "b", id_lists=False)
    assert [p[0].name for p in PersonPart(pairs_only, "train").pairs] == ["2008_000003.jpg"]


def test_person_part_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match=r"not the PASCAL Person-Part root; expected pascal_person_part_gt/"):
        PersonPart(tmp_path)
    root = make_person_part(tmp_path)
    (root / "pascal_person_part" / "pascal_person_part_trainval_list" / "val_id.txt").unlink()
    with pytest.raises(DatasetError, match=r"val_id\.txt: no such split list"):
        PersonPart(root, "val")
    (root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2008_000008.jpg").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*2008_000008\.jpg"):
        PersonPart(root, "train")


# --- PASCAL-Context ----------------------------------------------------------------------------------


def make_context(root: Path) -> Path:
    """mmsegmentation's layout: VOCdevkit/VOC2010 with SegmentationClassContext; 2 train, 1 val image."""
    voc = root / "VOCdevkit" / "VOC2010"
    for n, i in enumerate(["2008_000002", "2008_000003", "2008_000007"]):
        _image(voc / "JPEGImages" / f"{i}.jpg", n)
        _mask(voc / "SegmentationClassContext" / f"{i}.png", [0, 1, 59, 30])
    _ids(voc / "ImageSets" / "SegmentationContext" / "train.txt", ["2008_000002", "2008_000003"])
    _ids(voc / "ImageSets" / "SegmentationContext" / "val.txt", ["2008_000007"])
    return root


def test_pascal_context_reads_the_mmseg_layout(tmp_path):
    root = make_context(tmp_path)
    ds = PascalContext(root, "train")
    assert len(ds) == 2 and len(PascalContext(root / "VOCdevkit", "val")) == 1
    names = PASCAL_CONTEXT_LABELS.class_names
    assert ds.num_classes == 60 and names[0] == "background" and names[59] == "wood" and names[37] == "person"
    raw = np.asarray(Image.open(ds.pairs[0][1]))
    assert _mapped(_check_item(ds), raw) == {0: 0, 1: 1, 30: 30, 59: 59}


def test_pascal_context_errors_name_the_problem(tmp_path):
    root = make_context(tmp_path)
    (root / "VOCdevkit" / "VOC2010" / "ImageSets" / "SegmentationContext" / "val.txt").unlink()
    with pytest.raises(DatasetError, match=r"SegmentationContext/val\.txt: no such split list"):
        PascalContext(root, "val")
    (root / "VOCdevkit" / "VOC2010" / "SegmentationClassContext" / "2008_000002.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*SegmentationClassContext/2008_000002\.png"):
        PascalContext(root, "train")


# --- ADE20K ------------------------------------------------------------------------------------------


def make_ade(root: Path) -> Path:
    """ADEChallengeData2016 with 2 training, 1 validation image."""
    ade = root / "ADEChallengeData2016"
    for n, (folder, name) in enumerate(
        [("training", "ADE_train_00000001"), ("training", "ADE_train_00000002"), ("validation", "ADE_val_00000001")]
    ):
        _image(ade / "images" / folder / f"{name}.jpg", n)
        _mask(ade / "annotations" / folder / f"{name}.png", [0, 1, 150, 13])
    return root


def test_ade20k_shifts_labels_and_voids_zero(tmp_path):
    root = make_ade(tmp_path)
    ds = ADE20K(root, "train")
    assert len(ds) == 2 and len(ADE20K(root / "ADEChallengeData2016", "val")) == 1
    assert ds.num_classes == 150 and ADE20K_LABELS.class_names[0] == "wall" and ADE20K_LABELS.class_names[149] == "flag"
    raw = np.asarray(Image.open(ds.pairs[0][1]))
    assert _mapped(_check_item(ds), raw) == {0: 255, 1: 0, 13: 12, 150: 149}


def test_ade20k_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match=r"not the ADE20K root; expected images/"):
        ADE20K(tmp_path)
    root = make_ade(tmp_path)
    (root / "ADEChallengeData2016" / "annotations" / "validation" / "ADE_val_00000001.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*ADE_val_00000001\.png"):
        ADE20K(root, "val")
    with pytest.raises(DatasetError, match="split must be one of train, val"):
        ADE20K(root, "test")


# --- SUN RGB-D ---------------------------------------------------------------------------------------


def make_sun(root: Path) -> Path:
    """SUNRGBD-{train,test}_images + sunrgbd_train_test_labels: test 1..2 -> labels 1..2, train 1..2 ->
    labels 5051..5052; each mask holds its label number mod 38 so the pairing can be seen."""
    labels = root / "sunrgbd_train_test_labels"
    for split, offset in [("test", 0), ("train", 5050)]:
        for n in (1, 2):
            _image(root / f"SUNRGBD-{split}_images" / f"img-{n:06d}.jpg", n + offset)
            _mask(labels / f"img-{n + offset:06d}.png", [0, 1, 37, (n + offset) % 38])
    return root


def test_sunrgbd_pairs_train_images_with_offset_labels(tmp_path):
    root = make_sun(tmp_path)
    train, test = SUNRGBD(root, "train"), SUNRGBD(root, "test")
    assert len(train) == 2 and len(test) == 2
    assert [m.name for _, m in train.pairs] == ["img-005051.png", "img-005052.png"]
    assert [m.name for _, m in test.pairs] == ["img-000001.png", "img-000002.png"]
    assert (
        train.num_classes == 37 and SUNRGBD_LABELS.class_names[0] == "wall" and SUNRGBD_LABELS.class_names[36] == "bag"
    )
    raw = np.asarray(Image.open(train.pairs[0][1]))
    assert _mapped(_check_item(train), raw) == {0: 255, 1: 0, 37: 36, 5051 % 38: 5051 % 38 - 1}


def test_sunrgbd_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match=r"not the SUN RGB-D root; expected sunrgbd_train_test_labels/"):
        SUNRGBD(tmp_path)
    root = make_sun(tmp_path)
    (root / "sunrgbd_train_test_labels" / "img-005052.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*img-005052\.png"):
        SUNRGBD(root, "train")
    _image(root / "SUNRGBD-test_images" / "photo.jpg")
    with pytest.raises(DatasetError, match=r"photo\.jpg: expected an image named img-NNNNNN\.jpg"):
        SUNRGBD(root, "test")


# --- registry ----------------------------------------------------------------------------------------


def test_every_benchmark_is_registered_with_its_splits(tmp_path):
    specs = {spec.name: spec for spec in list_datasets()}
    assert specs["voc"].splits == ("train", "val", "trainval", "train_aug")
    assert specs["cityscapes"].splits == ("train", "val", "test")
    assert specs["nyudv2"].splits == ("train", "val", "test")
    assert specs["person_part"].splits == ("train", "val")
    assert specs["pascal_context"].splits == ("train", "val")
    assert specs["ade20k"].splits == ("train", "val")
    assert specs["sunrgbd"].splits == ("train", "test")
    assert all(specs[name].description for name in specs)
    ds = get_dataset("cityscapes", make_cityscapes(tmp_path), "val")
    assert isinstance(ds, Cityscapes) and len(ds) == 1
    with pytest.raises(DatasetError, match="ade20k has splits train, val, not 'test'"):
        get_dataset("ade20k", tmp_path, "test")
