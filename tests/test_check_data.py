"""``refineseg check-data``: statistics and problems of tiny datasets written here, through the CLI."""

import json
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from refineseg._extras import install_hint
from refineseg.cli import main

from .fixtures import make_camvid, write_image

SIZE = (16, 20)  # height, width


def _generic(root: Path, classes: str, masks: dict[str, list[np.ndarray]], suffix: str = ".png") -> Path:
    """A generic folder dataset: ``masks[split]`` are its masks, each with a random image of the same size."""
    rng = np.random.default_rng(0)
    for split, arrays in masks.items():
        for i, mask in enumerate(arrays):
            image = rng.integers(0, 255, (*mask.shape[:2], 3), dtype=np.uint8)
            write_image(root / split / "images" / f"{i}.jpg", image)
            write_image(root / split / "masks" / f"{i}{suffix}", mask)
    (root / "classes.txt").write_text(classes)
    return root


def _two_class_mask(background: int = 0, foreground: int = 1) -> np.ndarray:
    mask = np.full(SIZE, background, dtype=np.uint8)
    mask[4:10, 5:15] = foreground  # 60 pixels
    return mask


def _check(capsys, root: Path, *extra: str, dataset: str = "generic") -> tuple[int, str]:
    code = main(["check-data", "--dataset", dataset, "--root", str(root), "--no-progress", *extra])
    return code, capsys.readouterr().out


def _binary(root: Path, classes: str) -> Path:
    return _generic(root, classes, {s: [_two_class_mask(0, 255)] * 3 for s in ("train", "val")})


def test_a_clean_dataset_is_ok_with_its_statistics(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {s: [_two_class_mask()] * 2 for s in ("train", "val")})
    code, out = _check(capsys, root)
    assert code == 0, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("OK: 4 images in train, val can train as declared"), last
    lines = out.splitlines()
    car = next(line for line in lines if line.strip().startswith("car"))
    # 60 of 320 pixels in each of the 2 masks: 120 pixels, 18.8%, in 2 of 2 images
    assert car.split() == ["car", "120", "18.8%", "2", "100.0%"]
    assert "problems" not in out
    write_image(root / "test" / "images" / "new.png", np.zeros((4, 4, 3), dtype=np.uint8))  # kept for predict
    code, out = _check(capsys, root)
    assert code == 0 and out.strip().splitlines()[-1].startswith("OK: 4 images in train, val"), out


def test_a_0_255_export_with_plain_classes_is_an_error_with_the_value_fix(tmp_path, capsys):
    code, out = _check(capsys, _binary(tmp_path / "d", "background\ncar\n"))
    assert code == 1
    assert "0/255 binary" in out and "'car value=255'" in out and "'@ignore value=255'" in out
    assert out.strip().splitlines()[-1].startswith("2 errors, 0 warnings: silent-ignore")


def test_the_same_export_declared_with_value_255_counts_the_foreground(tmp_path, capsys):
    code, out = _check(capsys, _binary(tmp_path / "d", "background\ncar value=255\n"))
    assert code == 0, out
    car = next(line for line in out.splitlines() if line.strip().startswith("car"))
    assert car.split()[:2] == ["car", "180"]  # 60 pixels in each of 3 masks
    assert any(line.split()[:2] == ["255", "180"] and line.split()[-1] == "car" for line in out.splitlines())


def test_rgb_colour_masks_declared_by_value_get_the_color_lines(tmp_path, capsys):
    mask = np.zeros((*SIZE, 3), dtype=np.uint8)
    mask[:8] = (128, 64, 128)
    mask[8:] = (70, 130, 180)
    root = _generic(tmp_path / "d", "road\nsky\n", {"train": [mask, mask]})
    code, out = _check(capsys, root)
    assert code == 1
    assert "RGB colour masks" in out
    assert "'NAME color=128,64,128'" in out and "'NAME color=70,130,180'" in out


def test_jpeg_masks_are_reported(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask(0, 1)] * 2}, suffix=".jpg")
    code, out = _check(capsys, root)
    assert code == 1
    assert "saved as JPEG" in out and "re-export the masks as PNG" in out and "train/masks/0.jpg" in out


def test_rare_undeclared_values_look_like_jpeg(tmp_path, capsys):
    mask = _two_class_mask()
    mask.ravel()[:12] = np.arange(20, 32)  # 12 values of one pixel each (0.08% of 1,280 pixels)
    others = [_two_class_mask()] * 3
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [mask, *others]})
    code, out = _check(capsys, root)
    assert code == 0, out
    assert "look JPEG-compressed" in out and "12 mask values that no class declares" in out


def test_images_without_masks_and_masks_without_images_are_named(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 3})
    (root / "train" / "masks" / "1.png").rename(root / "train" / "masks" / "stray.png")
    code, out = _check(capsys, root)
    assert code == 1
    assert "1 image in train/images without a mask" in out and "train/images/1.jpg" in out
    assert "1 mask in train/masks without an image" in out and "train/masks/stray.png" in out
    assert "1 error, 1 warning: missing-mask" in out.strip().splitlines()[-1]


def test_a_size_mismatch_is_named(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 2})
    write_image(root / "train" / "masks" / "1.png", np.zeros((8, 10), dtype=np.uint8))
    code, out = _check(capsys, root)
    assert code == 1
    assert "train/masks/1.png is 10x8 but train/images/1.jpg is 20x16" in out


def test_unreadable_files_are_named(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 2})
    (root / "train" / "images" / "0.jpg").write_bytes(b"not an image")
    code, out = _check(capsys, root)
    assert code == 1 and "1 image cannot be read: train/images/0.jpg" in out


def test_a_value_outside_the_classes_is_named_with_the_fix(tmp_path, capsys):
    mask = _two_class_mask()
    mask[0, :4] = 7
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [mask, _two_class_mask()]})
    code, out = _check(capsys, root)
    assert code == 0, out
    assert "1 mask value that no class declares, ignored in training: 7 (4 px in 1 mask)" in out
    assert "line 2 'car' to 'car value=1,7' if 7 is car" in out and "add the line '@ignore value=7'" in out
    seven = next(line for line in out.splitlines() if line.strip().startswith("7 "))
    assert "ignored (not declared)" in seven


def test_a_class_absent_from_train_is_an_error_and_from_val_a_warning(tmp_path, capsys):
    root = _generic(
        tmp_path / "d",
        "background\ncar\nbus\n@ignore value=255\n",
        {"train": [_two_class_mask()] * 2, "val": [_two_class_mask(0, 2)] * 2},
    )
    code, out = _check(capsys, root, "--json", str(tmp_path / "r.json"))
    assert code == 1
    assert "train: 1 class never occurs in train: 'bus'; the model cannot learn it" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["errors"], report["warnings"], report["ok"]) == (1, 1, False)
    absent = {(p["split"], p["severity"]) for p in report["problems"] if p["check"] == "class-absent"}
    assert absent == {("train", "error"), ("val", "warning")}
    train = report["splits"][0]
    assert train["split"] == "train" and train["images"] == 2 and train["pixels"] == 640
    assert [c["pixels"] for c in train["classes"]] == [520, 120, 0]
    assert train["classes"][1]["image_share"] == 1.0 and train["raw_values"][1] == {
        "value": 1,
        "pixels": 120,
        "pixel_share": 120 / 640,
        "images": 2,
        "maps_to": "car",
    }


def test_plot_writes_a_png(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {s: [_two_class_mask()] * 2 for s in ("train", "val")})
    code, _ = _check(capsys, root, "--plot", str(tmp_path / "plot.png"), "--split", "train", "val")
    assert code == 0
    assert (tmp_path / "plot.png").stat().st_size > 0
    with Image.open(tmp_path / "plot.png") as im:
        assert im.format == "PNG" and im.width > 100 and im.height > 100
    assert not list(tmp_path.glob(".plot.png.*"))  # no temporary file left behind


def test_camvid_is_ok_with_a_progress_bar(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("refineseg._progress._interactive", lambda stream: True)  # as on a terminal
    root = make_camvid(tmp_path / "camvid")
    code = main(["check-data", "--dataset", "camvid", "--root", str(root)])
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert captured.out.strip().splitlines()[-1] == "OK: 4 images in train, val can train as declared"
    assert "test: " in captured.out  # the absent test split is listed as skipped
    assert "checking train" in captured.err


def test_wrong_calls_are_one_line_errors(tmp_path, capsys):
    assert main(["check-data", "--dataset", "generic", "--root", str(tmp_path / "absent"), "--no-progress"]) == 1
    assert "no such directory" in capsys.readouterr().err
    assert main(["check-data", "--dataset", "camvid", "--root", str(tmp_path), "--split", "nope"]) == 1
    assert "not 'nope'" in capsys.readouterr().err
    code, out = _check(capsys, tmp_path)
    assert code == 1 and "no split of generic found" in out


def test_plot_without_matplotlib_is_a_one_line_error_before_reading(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()]})
    assert main(["check-data", "--dataset", "generic", "--root", str(root), "--plot", str(tmp_path / "p.png")]) == 1
    captured = capsys.readouterr()
    assert install_hint("plot") in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out == "" and not (tmp_path / "p.png").exists()


# -- every fix check-data gives for classes.txt keeps the other classes' meaning --------------

EDIT = re.compile(r"line (\d+) '([^']*)' to '([^']*)'")
ADD = re.compile(r"add the line '([^']*)'")


def _apply(classes: str, piece: str, problem) -> str | None:
    """classes.txt after doing what one alternative of a fix says (None when it names no edit)."""
    lines = classes.splitlines()
    edits, adds = EDIT.findall(piece), ADD.findall(piece)
    remove = re.search(r"remove (its|their) lines?", piece)  # the advice before issue 22
    if not (edits or adds or remove):
        return None
    for number, old, new in edits:
        assert " ".join(lines[int(number) - 1].split("#")[0].split()) == old, (lines, piece)
        lines[int(number) - 1] = new
    if remove:
        names = set(re.findall(r"'([^']+)'", problem.message))
        lines = [line for line in lines if not (line.split() and line.split()[0] in names)]
    for line in adds:
        lines.append(line.replace("NAME", "thing"))  # a new class, after the last one
    for colour in re.findall(r"'NAME color=([\d,]+)'", piece):  # colours no class shows: on the first line without
        i = next(i for i, line in enumerate(lines) if line.strip() and "color=" not in line)
        lines[i] += f" color={colour}"
    return "\n".join(lines) + "\n"


def _meaning(labels, raws) -> dict:
    return {raw: labels.class_names[t] for raw in raws if (t := labels.train_id(raw)) != 255}


def _colour(*rgb: int) -> np.ndarray:
    mask = np.zeros((*SIZE, 3), dtype=np.uint8)
    mask[:] = rgb
    return mask


def _with(mask: np.ndarray, value, rows=slice(0, 4)) -> np.ndarray:
    mask = mask.copy()
    mask[rows] = value
    return mask


VALUES = list(range(256))
ROAD, SKY, CAR = (128, 64, 128), (70, 130, 180), (64, 0, 128)
ADVICE_CASES = {
    # VOC-like plain classes; aeroplane, bird, boat and bus never occur: dropping their lines relabels
    "plain": (
        "background\naeroplane\nbicycle\nbird\nboat\nbottle\nbus\ncar\n",
        {
            s: [_with(_two_class_mask(0, 2), 5), _with(_two_class_mask(0, 7), 5, slice(12, 16))]
            for s in ("train", "val")
        },
        VALUES,
    ),
    # some classes declare their values, one (car) has its line index; bus never occurs
    "values": (
        "background\nbus value=3\ncar\nperson value=7   # walkers\n",
        {"train": [_with(_two_class_mask(0, 2), 7)] * 2},
        VALUES,
    ),
    "colours": (
        f"road color={','.join(map(str, ROAD))}\nsky color={','.join(map(str, SKY))}\ncar color={','.join(map(str, CAR))}\n",
        {"train": [_with(_colour(*ROAD), SKY)] * 2},
        [ROAD, SKY, CAR],
    ),
    "binary": ("background\ncar\n", {"train": [_two_class_mask(0, 255)] * 2}, VALUES),
    "binary one class": ("background\n", {"train": [_two_class_mask(0, 255)] * 2}, VALUES),
    "undeclared": (
        "background\ncar\nbus\n",
        {"train": [_with(_two_class_mask(0, 1), 2), _with(_two_class_mask(), 7)]},
        VALUES,
    ),
    "rgb by value": ("road 128 64 128\nsky\n", {"train": [_with(_colour(*ROAD), SKY)] * 2}, [ROAD, SKY]),
}


def test_every_classes_txt_fix_keeps_the_other_classes_meaning(tmp_path):
    from refineseg.data import read_label_space
    from refineseg.data.check import check_dataset

    applied = set()
    for case, (classes, masks, raws) in ADVICE_CASES.items():
        root = _generic(tmp_path / case.replace(" ", "_"), classes, masks)
        report = check_dataset("generic", root)
        assert report.problems, case
        before = read_label_space(root / "classes.txt") if case != "rgb by value" else None
        for problem in report.problems:
            for piece in problem.fix.split(", or "):
                edited = _apply(classes, piece, problem)
                if edited is None:
                    continue
                applied.add((case, problem.check))
                (tmp_path / "edited.txt").write_text(edited)
                after = read_label_space(tmp_path / "edited.txt")
                where = f"{case}: {problem.check}: {piece}\n{edited}"
                if before is None:  # the masks could not be read before: the classes keep their order
                    assert after.class_names == before_names(classes), where
                    assert after.train_id(ROAD) == 0, where
                    continue
                old, new = _meaning(before, raws), _meaning(after, raws)
                # the silent ignore's fix gives the empty class (no pixels) the ignored value instead of its own
                empty = re.findall(r"class '([^']+)' has no pixels", problem.message)
                for raw, name in old.items():
                    if name in after.class_names and name not in empty:
                        assert new.get(raw) == name, f"{raw} was {name}, now {new.get(raw)}; {where}"
                if empty and "@ignore" not in piece:
                    assert new[255] == empty[0], where
                if problem.check == "class-absent":
                    (root / "classes.txt").write_text(edited)  # the dropped classes: the data now trains
                    again = check_dataset("generic", root, splits=["train"])
                    assert not [p for p in again.problems if p.check == "class-absent"], again.problems
                    (root / "classes.txt").write_text(classes)
    assert applied >= {
        ("plain", "class-absent"),
        ("values", "class-absent"),
        ("colours", "class-absent"),
        ("binary", "silent-ignore"),
        ("binary one class", "silent-ignore"),
        ("undeclared", "undeclared-values"),
        ("rgb by value", "colour-masks"),
    }, applied


def before_names(classes: str) -> tuple[str, ...]:
    return tuple(line.split()[0] for line in classes.splitlines() if line.strip())
