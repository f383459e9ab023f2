"""classes.txt mask formats: raw values, colours, declared void, and the 0/255 trap refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refineseg.data import IGNORE_INDEX, DatasetError, get_dataset, read_label_space

from .fixtures import write_image


def _labels(tmp_path: Path, text: str):
    path = tmp_path / "classes.txt"
    path.write_text(text)
    return read_label_space(path)


def test_plain_names_keep_index_masks_and_ignore_the_rest(tmp_path):
    labels = _labels(tmp_path, "# comment\nbackground\ncar 0 0 255  # trailing comment\n")
    assert labels.class_names == ("background", "car") and labels.palette[1] == (0, 0, 255)
    raw = np.array([[0, 1, 2, 255]], dtype=np.uint8)
    assert labels.to_train_ids(raw).tolist() == [[0, 1, IGNORE_INDEX, IGNORE_INDEX]]
    assert labels.raw_name(255) == "ignore (255, the default)" and labels.raw_name(2) == "ignored (not declared)"


def test_values_map_raw_mask_values_and_unlisted_values_are_ignored(tmp_path):
    labels = _labels(tmp_path, "background\ncar 0 0 255 value=255\ntruck value=7,8\n@ignore value=128\n")
    raw = np.array([[0, 255, 7, 8, 1, 2, 128]], dtype=np.uint8)
    assert labels.to_train_ids(raw).tolist() == [[0, 1, 2, 2, 255, 255, 255]]
    assert labels.ignore_declared and labels.raw_name(128) == "ignore" and labels.raw_name(255) == "car"
    assert labels.palette[0] == (0, 0, 0)  # no display colour: the default palette's for its index


def test_colours_map_rgb_masks(tmp_path):
    labels = _labels(tmp_path, "road 1 2 3 color=128,64,128\nsky color=70,130,180;70,130,181\n@ignore color=0,0,0\n")
    assert labels.colour_masks and labels.palette == ((1, 2, 3), (70, 130, 180))
    rgb = np.array([[[128, 64, 128], [70, 130, 180], [70, 130, 181], [0, 0, 0], [9, 9, 9]]], dtype=np.uint8)
    assert labels.to_train_ids(rgb).tolist() == [[0, 1, 1, 255, 255]]
    assert labels.raw_name((9, 9, 9)) == "ignored (not declared)" and labels.raw_name((0, 0, 0)) == "ignore"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a value=300\n", r"classes.txt:1: '300' is not a value 0..255"),
        ("a value=1\nb value=1\n", "mask value 1 is claimed by both 'a' and 'b'"),
        ("a\nb value=0\n", "mask value 0 is claimed by both 'a' and 'b'"),
        ("a value=4\n@ignore value=4\n", "claimed by both 'a' and @ignore"),
        ("a color=1,2,3\nb\n", r"classes.txt:2: class 'b' has no color="),
        ("a color=1,2\n", "must be R,G,B"),
        ("a color=1,2,3\nb value=3 color=4,5,6\n", "either colour .* or value"),
        ("a size=3\n", "unknown key 'size'"),
        ("a 1 2\n", "expected 'NAME"),
        ("@ignore\n", "'@ignore' takes value="),
        ("a\na\n", "class 'a' is declared twice"),
        ("# nothing\n", "no class names"),
    ],
)
def test_bad_lines_are_named(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        _labels(tmp_path, text)


def _binary_dataset(root: Path, classes: str) -> Path:
    """A generic dataset whose masks store the foreground as 255 (the usual binary export)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(3):
            mask = np.zeros((16, 20), dtype=np.uint8)
            mask[4:10, 5:15] = 255
            write_image(root / split / "images" / f"{i}.png", rng.integers(0, 255, (16, 20, 3), dtype=np.uint8))
            write_image(root / split / "masks" / f"{i}.png", mask)
    (root / "classes.txt").write_text(classes)
    return root


def test_a_0_255_export_declared_as_plain_classes_is_refused_with_the_fix(tmp_path):
    root = _binary_dataset(tmp_path / "d", "background\ncar\n")
    with pytest.raises(DatasetError) as info:
        get_dataset("generic", root, "train")
    message = str(info.value)
    assert "class 'car' has no pixels" in message and "180 pixels hold 255" in message
    assert "'car value=255'" in message and "'@ignore value=255'" in message and "\n" not in message


def test_the_same_export_with_value_255_reads_the_foreground(tmp_path):
    root = _binary_dataset(tmp_path / "d", "background\ncar value=255\n")
    _, mask = get_dataset("generic", root, "val").read_pair(0)
    assert int((mask == 1).sum()) == 60 and int((mask == 0).sum()) == 16 * 20 - 60


def test_declared_void_is_taken_as_meant(tmp_path):
    root = _binary_dataset(tmp_path / "d", "background\ncar\n@ignore value=255\n")
    _, mask = get_dataset("generic", root, "train").read_pair(0)
    assert int((mask == IGNORE_INDEX).sum()) == 60


def test_colour_mask_dataset_trains_without_preprocessing(tmp_path):
    root = tmp_path / "c"
    colours = np.zeros((8, 8, 3), dtype=np.uint8)
    colours[:4] = (128, 64, 128)
    colours[4:] = (70, 130, 180)
    for split in ("train", "val"):
        write_image(root / split / "images" / "a.jpg", np.zeros((8, 8, 3), dtype=np.uint8))
        write_image(root / split / "masks" / "a.png", colours)
    (root / "classes.txt").write_text("road color=128,64,128\nsky color=70,130,180\n")
    _, mask = get_dataset("generic", root, "train").read_pair(0)
    assert mask[:4].tolist() == [[0] * 8] * 4 and mask[4:].tolist() == [[1] * 8] * 4


def test_a_val_split_may_lack_a_class_beside_genuine_void(tmp_path):
    """Void boundaries (255) and no 'person' in a small val split is sound; in train it is refused
    (the model could not learn the class), and a binary 0/255 val split is refused too."""
    root = tmp_path / "d"
    mask = np.zeros((16, 20), dtype=np.uint8)
    mask[4:10, 5:15] = 1
    mask[4, 5:15] = 255  # a void boundary
    for split in ("train", "val"):
        write_image(root / split / "images" / "a.png", np.zeros((16, 20, 3), dtype=np.uint8))
        write_image(root / split / "masks" / "a.png", mask)
    (root / "classes.txt").write_text("background\ncar\nperson\n")
    assert len(get_dataset("generic", root, "val")) == 1
    with pytest.raises(DatasetError, match="class 'person' has no pixels"):
        get_dataset("generic", root, "train")
    binary = np.where(mask == 1, 255, 0).astype(np.uint8)
    write_image(root / "val" / "masks" / "a.png", binary)
    with pytest.raises(DatasetError, match="class 'car' has no pixels"):
        get_dataset("generic", root, "val")
