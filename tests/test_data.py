from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from refineseg.data import CAMVID_LABELS, IGNORE_INDEX, CamVid, DatasetError, FolderDataset, ListDataset

from .fixtures import make_camvid, write_image


def test_camvid_reads_the_segnet_layout_and_ignores_void(tmp_path):
    root = make_camvid(tmp_path / "camvid")
    ds = CamVid(root, "val")
    assert len(ds) == 2 and ds.num_classes == 11 and ds.class_names[3] == "Road"
    image, mask = ds[0]
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, 12, 16) and image.dtype == torch.uint8
    assert isinstance(mask, tv_tensors.Mask) and mask.shape == (12, 16) and mask.dtype == torch.int64
    raw = np.asarray(Image.open(root / "valannot" / ds.pairs[0][1].name))
    assert torch.equal(mask == IGNORE_INDEX, torch.from_numpy(raw == 11))
    assert torch.equal(mask[raw < 11], torch.from_numpy(raw[raw < 11]).long())
    assert len(CAMVID_LABELS.palette) == 11


def test_camvid_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="no such directory"):
        CamVid(tmp_path / "nowhere")
    root = make_camvid(tmp_path / "camvid", splits=("train",))
    with pytest.raises(DatasetError, match=r"valannot|val: no such"):
        CamVid(root, "val")
    with pytest.raises(DatasetError, match="split must be one of"):
        CamVid(root, "training")
    (root / "trainannot" / "0001TP_000001.png").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*0001TP_000001\.png"):
        CamVid(root, "train")


def test_mask_size_must_match_its_image(tmp_path):
    root = make_camvid(tmp_path / "camvid", splits=("train",))
    write_image(root / "trainannot" / "0001TP_000000.png", np.zeros((5, 5), dtype=np.uint8))
    ds = CamVid(root, "train")
    with pytest.raises(DatasetError, match=r"0001TP_000000.png: mask is 5x5, but its image .* is 16x12"):
        ds[0]


def test_unreadable_files_are_named(tmp_path):
    root = make_camvid(tmp_path / "camvid", splits=("train",))
    (root / "train" / "0001TP_000001.png").write_text("not an image")
    with pytest.raises(DatasetError, match=r"0001TP_000001\.png: not a readable image"):
        CamVid(root, "train")[1]
    colours = np.zeros((12, 16, 3), dtype=np.uint8)
    colours[..., 0] = 128
    write_image(root / "trainannot" / "0001TP_000000.png", colours)
    with pytest.raises(DatasetError, match=r"0001TP_000000.png: an RGB colour mask.*color=128,64,128"):
        CamVid(root, "train")[0]
    write_image(root / "trainannot" / "0001TP_000000.png", np.full((12, 16, 3), 3, dtype=np.uint8))
    assert (CamVid(root, "train")[0][1] == 3).all()  # grey RGB (R=G=B) index masks read as values


def test_folder_and_list_datasets(tmp_path):
    root = make_camvid(tmp_path / "d", splits=("train",))
    folder = FolderDataset(root / "train", root / "trainannot", CAMVID_LABELS)
    assert len(folder) == 2
    (tmp_path / "pairs.txt").write_text("# image mask\nd/train/0001TP_000000.png d/trainannot/0001TP_000000.png\n\n")
    listed = ListDataset(tmp_path / "pairs.txt", CAMVID_LABELS)
    assert len(listed) == 1 and torch.equal(listed[0][1], folder[0][1])
    (tmp_path / "bad.txt").write_text("only-one-field.png\n")
    with pytest.raises(DatasetError, match=r"bad.txt:1: expected 'IMAGE MASK'"):
        ListDataset(tmp_path / "bad.txt", CAMVID_LABELS)


def test_transforms_apply_to_image_and_mask_together(tmp_path):
    root = make_camvid(tmp_path / "camvid", splits=("train",))
    ds = CamVid(root, "train", transforms=v2.RandomHorizontalFlip(p=1.0))
    plain = CamVid(root, "train")
    image, mask = ds[0]
    assert torch.equal(image, plain[0][0].flip(-1)) and torch.equal(mask, plain[0][1].flip(-1))


def test_real_camvid_if_present():
    root = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "camvid"
    if not root.is_dir():
        pytest.skip("../shared/datasets/camvid not present")
    train, val = CamVid(root, "train"), CamVid(root, "val")
    assert (len(train), len(val)) == (367, 101)
    image, mask = val[0]
    assert image.shape == (3, 360, 480) and mask.shape == (360, 480)
    assert int(mask.max()) == IGNORE_INDEX or int(mask.max()) < 11


def _sample(size=(20, 30)):
    rng = np.random.default_rng(1)
    image = tv_tensors.Image(torch.from_numpy(rng.integers(0, 255, (3, *size), dtype=np.uint8)))
    mask = tv_tensors.Mask(torch.from_numpy(rng.integers(0, 11, size)).long())
    return image, mask


def test_train_transforms_scale_crop_flip_and_pad_with_mean_and_ignore():
    from refineseg.data.transforms import train_transforms

    image, mask = _sample()
    transform = train_transforms(48, scale_range=(0.5, 0.5), flip=False)
    out_image, out_mask = transform(image, mask)
    assert out_image.shape == (3, 48, 48) and out_image.dtype == torch.float32 and out_mask.shape == (48, 48)
    padded = out_mask == IGNORE_INDEX
    assert padded.float().mean() > 0.8  # a 10x15 image inside a 48x48 crop
    assert out_image[:, padded].abs().max() < 0.01  # mean colour normalises to ~0
    assert set(out_mask[~padded].unique().tolist()) <= set(range(11))  # nearest-neighbour labels


def test_train_transforms_are_reproducible_from_a_seed():
    from refineseg.data.transforms import train_transforms

    image, mask = _sample((64, 64))
    transform = train_transforms(32)
    runs = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        runs.append(transform(image, mask))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_eval_transforms_keep_size_and_labels():
    from refineseg.data.transforms import eval_transforms

    image, mask = _sample()
    out_image, out_mask = eval_transforms()(image, mask)
    assert out_image.shape == (3, 20, 30) and torch.equal(out_mask, mask)


def test_split_expressions_combine_and_select_by_prefix(tmp_path):
    from refineseg.data import get_dataset
    from refineseg.data.splits import parse_split

    root = make_camvid(tmp_path / "camvid", n=2)
    for split in ("val", "valannot"):
        for path in (root / split).iterdir():
            path.rename(path.with_name(path.name.replace("0001TP", "0006R0")))
    names = lambda d: [image.name for image, _ in d.pairs]  # noqa: E731
    assert len(get_dataset("camvid", root, "train+val")) == 4
    assert names(get_dataset("camvid", root, "train+val:0006R0")) == ["0006R0_000000.png", "0006R0_000001.png"]
    assert names(get_dataset("camvid", root, "train+val:-0006R0")) == ["0001TP_000000.png", "0001TP_000001.png"]
    assert type(get_dataset("camvid", root, "train+val")) is type(get_dataset("camvid", root, "train"))
    assert parse_split("train+val:-a,b") == parse_split("train+val:-a,b")
    assert parse_split("train+val:-a,b").prefixes == ("a", "b") and parse_split("train+val:-a,b").exclude
    for bad in ("train+", "train:", "train:-", "+val", "train:a,"):
        with pytest.raises(DatasetError, match="expected SPLIT"):
            get_dataset("camvid", root, bad)
    with pytest.raises(DatasetError, match="no image file name matches 0016E5"):
        get_dataset("camvid", root, "train:0016E5")
    with pytest.raises(DatasetError, match="not 'tset'"):
        get_dataset("camvid", root, "train+tset")


def test_color_jitter_changes_colours_not_labels_or_padding():
    from refineseg.data.transforms import train_transforms

    image = tv_tensors.Image(torch.randint(0, 256, (3, 20, 30), dtype=torch.uint8))
    mask = tv_tensors.Mask(torch.randint(0, 11, (20, 30), dtype=torch.uint8))
    # a crop larger than the image holds all of it, padded around with the mean colour and ignore
    jitter = train_transforms(
        40, scale_range=(1.0, 1.0), flip=False, color_jitter=0.4, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    )
    torch.manual_seed(3)
    x, m = jitter(image, mask)
    inside = m != IGNORE_INDEX
    assert torch.equal(m[inside], mask.flatten())  # the labels are untouched
    plain = (image.float() / 255 - 0.5) / 0.5
    assert not torch.allclose(x[:, inside].reshape(3, 20, 30), plain, atol=0.05)  # the colours changed
    assert x[:, ~inside].abs().max() < 0.01  # the padding is the mean colour, zero once normalised
