"""``refineseg check-data``: statistics and problems of tiny datasets written here.

Which problems a dataset has is asserted on :func:`~refineseg.data.check.check_dataset`'s report,
by check id; a few tests run the CLI end to end for its printed report and exit status.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from refineseg._extras import install_hint
from refineseg.cli import main
from refineseg.data.check import CHECKS, ERROR, WARNING, DataReport, Problem, check_dataset

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


def _report(root: Path, *splits: str, dataset: str = "generic") -> DataReport:
    report = check_dataset(dataset, root, splits=list(splits) or None, workers=1)
    assert {p.check for p in report.problems} <= CHECKS.keys(), report.problems
    return report


def _found(report: DataReport) -> list[tuple[str, str | None, str]]:
    """(check id, split, severity) of each problem, in the order found."""
    return [(p.check, p.split, p.severity) for p in report.problems]


def _one(report: DataReport, check: str, split: str | None = "train") -> Problem:
    """The one problem ``check`` found in ``split``."""
    found = [p for p in report.problems if p.check == check and p.split == split]
    assert len(found) == 1, _found(report)
    return found[0]


def _binary(root: Path, classes: str) -> Path:
    return _generic(root, classes, {s: [_two_class_mask(0, 255)] * 3 for s in ("train", "val")})


# -- the CLI end to end: the printed report and the exit status, one test per severity ---------


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


def test_an_error_is_printed_with_its_fix_and_exits_1(tmp_path, capsys):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 3})
    (root / "train" / "masks" / "1.png").rename(root / "train" / "masks" / "stray.png")
    code, out = _check(capsys, root)
    assert code == 1
    lines = out.strip().splitlines()
    assert "problems (1 error, 1 warning):" in lines
    error = lines.index(
        "  ERROR    train: 1 image in train/images without a mask train/masks/STEM.png: train/images/1.jpg"
    )
    fix = "fix: add each image's mask as train/masks/STEM.png, or move those images out of train/images"
    assert lines[error + 1] == " " * 11 + fix
    assert lines[error + 2].startswith("  WARNING  train: 1 mask in train/masks without an image (not used)")
    assert lines[-1] == "1 error, 1 warning: missing-mask; fix the errors above to train"


def test_a_warning_is_printed_with_its_fix_and_exits_0(tmp_path, capsys):
    mask = _two_class_mask()
    mask[0, :4] = 7
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [mask, _two_class_mask()]})
    code, out = _check(capsys, root)
    assert code == 0, out
    assert "  WARNING  train: 1 mask value that no class declares, ignored in training: 7 (4 px in 1 mask)" in out
    assert "  fix: declare each in classes.txt on the line of the class it belongs to" in out
    assert out.strip().splitlines()[-1] == "OK: 2 images in train can train as declared (1 warning above)"


# -- which problems check_dataset finds, by check id ---------------------------------------------


def test_a_0_255_export_with_plain_classes_is_an_error_with_the_value_fix(tmp_path):
    report = _report(_binary(tmp_path / "d", "background\ncar\n"))
    assert _found(report) == [("silent-ignore", "train", ERROR), ("silent-ignore", "val", ERROR)]
    problem = _one(report, "silent-ignore")
    assert "0/255 binary" in problem.message
    assert "'car value=255'" in problem.fix and "'@ignore value=255'" in problem.fix
    assert report.checks(ERROR) == ["silent-ignore"] and not report.ok


def test_a_0_255_export_with_one_class_is_a_warning(tmp_path):
    root = _generic(tmp_path / "d", "background\n", {"train": [_two_class_mask(0, 255)] * 2})
    report = _report(root)
    assert _found(report) == [("silent-ignore", "train", WARNING)] and report.ok


def test_the_same_export_declared_with_value_255_counts_the_foreground(tmp_path):
    report = _report(_binary(tmp_path / "d", "background\ncar value=255\n"))
    assert report.problems == [] and report.ok
    train = report.splits[0]
    assert train.classes[1].name == "car" and train.classes[1].pixels == 180  # 60 pixels in each of 3 masks
    assert any(v.value == 255 and v.pixels == 180 and v.maps_to == "car" for v in train.raw_values)


def test_rgb_colour_masks_declared_by_value_get_the_color_lines(tmp_path):
    mask = np.zeros((*SIZE, 3), dtype=np.uint8)
    mask[:8] = (128, 64, 128)
    mask[8:] = (70, 130, 180)
    report = _report(_generic(tmp_path / "d", "road\nsky\n", {"train": [mask, mask]}))
    assert _found(report) == [("colour-masks", "train", ERROR)]
    fix = _one(report, "colour-masks").fix
    assert "'NAME color=128,64,128'" in fix and "'NAME color=70,130,180'" in fix


def test_jpeg_masks_are_reported(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask(0, 1)] * 2}, suffix=".jpg")
    report = _report(root)
    assert ("jpeg-masks", "train", ERROR) in _found(report) and "jpeg-like" not in report.checks()
    problem = _one(report, "jpeg-masks")
    assert problem.files == [str(root / "train" / "masks" / f"{i}.jpg") for i in range(2)]
    assert "re-export the masks as PNG" in problem.fix


def test_rare_undeclared_values_look_like_jpeg(tmp_path):
    mask = _two_class_mask()
    mask.ravel()[:12] = np.arange(20, 32)  # 12 values of one pixel each (0.08% of 1,280 pixels)
    others = [_two_class_mask()] * 3
    report = _report(_generic(tmp_path / "d", "background\ncar\n", {"train": [mask, *others]}))
    assert _found(report) == [("jpeg-like", "train", WARNING), ("undeclared-values", "train", WARNING)]
    assert report.ok
    assert _one(report, "undeclared-values").message.startswith("12 mask values that no class declares")


def test_images_without_masks_and_masks_without_images_are_named(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 3})
    (root / "train" / "masks" / "1.png").rename(root / "train" / "masks" / "stray.png")
    report = _report(root)
    assert _found(report) == [("missing-mask", "train", ERROR), ("missing-image", "train", WARNING)]
    assert _one(report, "missing-mask").files == [str(root / "train" / "images" / "1.jpg")]
    assert _one(report, "missing-image").files == [str(root / "train" / "masks" / "stray.png")]


def test_masks_not_named_stem_png_are_named(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 3})
    (root / "train" / "masks" / "1.png").rename(root / "train" / "masks" / "1.bmp")
    (root / "train" / "masks" / "2.png").rename(root / "train" / "masks" / "2.jpg")
    report = _report(root)
    assert _found(report) == [("mask-not-png", "train", ERROR), ("jpeg-masks", "train", ERROR)]
    assert _one(report, "mask-not-png").files == [str(root / "train" / "masks" / "1.bmp")]
    assert _one(report, "jpeg-masks").files == [str(root / "train" / "masks" / "2.jpg")]


def test_a_size_mismatch_is_named(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 2})
    write_image(root / "train" / "masks" / "1.png", np.zeros((8, 10), dtype=np.uint8))
    report = _report(root)
    assert ("size-mismatch", "train", ERROR) in _found(report)
    problem = _one(report, "size-mismatch")
    assert problem.files == [str(root / "train" / "masks" / "1.png")]
    assert "train/masks/1.png is 10x8 but train/images/1.jpg is 20x16" in problem.message


def test_unreadable_files_are_named(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar\n", {"train": [_two_class_mask()] * 3})
    (root / "train" / "images" / "0.jpg").write_bytes(b"not an image")
    (root / "train" / "masks" / "1.png").write_bytes(b"not a mask")
    report = _report(root)
    assert _found(report)[:2] == [("unreadable-image", "train", ERROR), ("unreadable-mask", "train", ERROR)]
    assert _one(report, "unreadable-image").files == [str(root / "train" / "images" / "0.jpg")]
    assert _one(report, "unreadable-mask").files == [str(root / "train" / "masks" / "1.png")]


def test_a_broken_classes_txt_is_one_build_error(tmp_path):
    root = _generic(tmp_path / "d", "background\ncar value=x\n", {s: [_two_class_mask()] for s in ("train", "val")})
    report = _report(root)
    assert _found(report) == [("build", "train", ERROR)]  # not once per split
    assert _one(report, "build").fix.startswith("correct classes.txt")


def test_a_value_outside_the_classes_is_named_with_the_fix(tmp_path):
    mask = _two_class_mask()
    mask[0, :4] = 7
    report = _report(_generic(tmp_path / "d", "background\ncar\n", {"train": [mask, _two_class_mask()]}))
    assert _found(report) == [("undeclared-values", "train", WARNING)] and report.ok
    problem = _one(report, "undeclared-values")
    assert problem.message.endswith("1 mask value that no class declares, ignored in training: 7 (4 px in 1 mask)")
    assert "line 2 'car' to 'car value=1,7' if 7 is car" in problem.fix
    assert "add the line '@ignore value=7'" in problem.fix
    seven = next(v for v in report.splits[0].raw_values if v.value == 7)
    assert seven.maps_to == "ignored (not declared)"


def test_a_class_absent_from_train_is_an_error_and_from_val_a_warning(tmp_path, capsys):
    root = _generic(
        tmp_path / "d",
        "background\ncar\nbus\n@ignore value=255\n",
        {"train": [_two_class_mask()] * 2, "val": [_two_class_mask(0, 2)] * 2},
    )
    report = _report(root)
    assert _found(report) == [("class-absent", "train", ERROR), ("class-absent", "val", WARNING)]
    assert "'bus'" in _one(report, "class-absent").message
    # the same through the CLI's --json
    code, _ = _check(capsys, root, "--json", str(tmp_path / "r.json"))
    assert code == 1
    data = json.loads((tmp_path / "r.json").read_text())
    assert (data["errors"], data["warnings"], data["ok"]) == (1, 1, False)
    absent = {(p["split"], p["severity"]) for p in data["problems"] if p["check"] == "class-absent"}
    assert absent == {("train", "error"), ("val", "warning")}
    train = data["splits"][0]
    assert train["split"] == "train" and train["images"] == 2 and train["pixels"] == 640
    assert [c["pixels"] for c in train["classes"]] == [520, 120, 0]
    assert train["classes"][1]["image_share"] == 1.0 and train["raw_values"][1] == {
        "value": 1,
        "pixels": 120,
        "pixel_share": 120 / 640,
        "images": 2,
        "maps_to": "car",
    }


def test_no_split_under_the_root_is_an_error(tmp_path):
    report = _report(tmp_path)
    assert _found(report) == [("no-split", None, ERROR)]
    assert "no split of generic found" in report.problems[0].message


# -- the CLI's other options and wrong calls --------------------------------------------------


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
