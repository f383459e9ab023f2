"""`refineseg import-annotations`: COCO, LabelMe, CVAT and VOC exports -> the generic layout."""

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refineseg.cli import main
from refineseg.data import DatasetError, default_palette, get_dataset
from refineseg.data.importers import AnnotationImportError, import_annotations

pycocotools_mask = pytest.importorskip("pycocotools.mask")

W, H = 20, 16  # every fixture image is 20x16


def write_image(path: Path, size: tuple[int, int] = (W, H), value: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value // 2, 30)).save(path)
    return path


def mask_of(root: Path, split: str, stem: str) -> np.ndarray:
    with Image.open(root / split / "masks" / f"{stem}.png") as im:
        assert im.mode == "P"
        return np.asarray(im).copy()


def box(y0: int, y1: int, x0: int, x1: int, value: int, base: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((H, W), dtype=np.uint8) if base is None else base.copy()
    out[y0:y1, x0:x1] = value
    return out


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


# -- COCO -------------------------------------------------------------------------------------


def make_coco(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "coco_images"
    for name in ("a.jpg", "b.png", "c.jpg"):
        write_image(images / name)
    cat_region = box(4, 10, 3, 9, 1)  # compressed RLE in b.png
    rle = pycocotools_mask.encode(np.asfortranarray(cat_region))
    crowd = box(0, 16, 6, 20, 1)  # uncompressed RLE (column-major runs), overlapping the cat
    flat = crowd.flatten(order="F")
    runs, value, count = [], 0, 0
    for v in flat:
        if v != value:
            runs.append(count)
            value, count = v, 0
        count += 1
    runs.append(count)

    def poly(x0, y0, x1, y1):
        return [[x0, y0, x1, y0, x1, y1, x0, y1]]

    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": W, "height": H},
            {"id": 2, "file_name": "b.png", "width": W, "height": H},
            {"id": 3, "file_name": "c.jpg", "width": W, "height": H},
            {"id": 4, "file_name": "missing.jpg", "width": W, "height": H},
        ],
        # category ids out of order: classes follow the ids (3 cat -> 1, 7 dog -> 2)
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": [
            # a.jpg: the small cat comes first in the file, the big dog later; the cat must stay visible
            {"id": 10, "image_id": 1, "category_id": 3, "segmentation": poly(4, 4, 8, 8), "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 7, "segmentation": poly(2, 2, 14, 12), "iscrowd": 0},
            {"id": 12, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 2, 2]], "iscrowd": 0},  # degenerate
            # b.png: a compressed RLE cat, under a crowd of dogs (ignore)
            {
                "id": 20,
                "image_id": 2,
                "category_id": 3,
                "segmentation": {"size": [H, W], "counts": rle["counts"].decode()},
                "iscrowd": 0,
            },
            {"id": 21, "image_id": 2, "category_id": 7, "segmentation": {"size": [H, W], "counts": runs}, "iscrowd": 1},
            # c.jpg: a dog polygon reaching outside the image (clipped) and an unknown category
            {"id": 30, "image_id": 3, "category_id": 7, "segmentation": poly(-5, -5, 6, 6), "iscrowd": 0},
            {"id": 31, "image_id": 3, "category_id": 99, "segmentation": poly(10, 10, 12, 12), "iscrowd": 0},
            {"id": 40, "image_id": 4, "category_id": 7, "segmentation": poly(1, 1, 3, 3), "iscrowd": 0},
        ],
    }
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(data))
    return source, images


COCO_EXPECTED = {
    "a": box(4, 8, 4, 8, 1, box(2, 12, 2, 14, 2)),
    "b": box(0, 16, 6, 20, 255, box(4, 10, 3, 9, 1)),
    "c": box(0, 6, 0, 6, 2),
}


def test_coco_masks_follow_the_overlap_rule_and_problems_are_listed(tmp_path):
    source, images = make_coco(tmp_path)
    before = digest(images)
    root = tmp_path / "out"
    report = import_annotations("coco", source, images=images, output=root)

    assert (report.train, report.val, report.skipped, report.written) == (3, 0, 1, True)
    assert (root / "classes.txt").read_text() == "background 0 0 0\ncat 128 0 0\ndog 0 128 0\n@ignore value=255\n"
    for stem, expected in COCO_EXPECTED.items():
        np.testing.assert_array_equal(mask_of(root, "train", stem), expected, err_msg=stem)
    assert sorted(p.name for p in (root / "train" / "images").iterdir()) == ["a.jpg", "b.png", "c.jpg"]
    assert (root / "train" / "images" / "b.png").read_bytes() == (images / "b.png").read_bytes()
    assert digest(images) == before  # sources untouched
    assert not (root / "val").exists()
    assert not list(tmp_path.glob("*.partial-*"))

    problems = "\n".join(report.problems)
    assert len(report.problems) == 4, problems
    assert all(line.startswith(str(source)) for line in report.problems)
    assert "missing.jpg" in problems and "not found" in problems
    assert "annotation 31" in problems and "unknown category id 99" in problems
    assert "annotation 30" in problems and "outside the 20x16 image; clipped" in problems
    assert "annotation 12" in problems and "degenerate" in problems

    ds = get_dataset("generic", root, "train")
    assert ds.class_names == ("background", "cat", "dog")
    for index, (image_path, _) in enumerate(ds.pairs):
        image, labels = ds.read_pair(index)
        assert image.shape == (H, W, 3)
        np.testing.assert_array_equal(labels, COCO_EXPECTED[image_path.stem])


def test_strict_writes_nothing_and_exits_1(tmp_path, capsys):
    source, images = make_coco(tmp_path)
    root = tmp_path / "out"
    with pytest.raises(AnnotationImportError, match="4 problems") as info:
        import_annotations("coco", source, images=images, output=root, strict=True)
    assert len(info.value.report.problems) == 4
    assert not root.exists() and not list(tmp_path.glob("*.partial-*"))

    code = main(["import-annotations", "coco", str(source), "--images", str(images), "--output", str(root), "--strict"])
    err = capsys.readouterr().err
    assert code == 1 and not root.exists() and not list(tmp_path.glob("*.partial-*"))
    assert "unknown category id 99" in err and "missing.jpg" in err
    assert err.strip().splitlines()[-1].startswith("refineseg import-annotations: error: 4 problems")


def test_a_non_empty_output_is_refused_and_left_alone(tmp_path, capsys):
    source, images = make_coco(tmp_path)
    root = tmp_path / "out"
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="exists and is not empty"):
        import_annotations("coco", source, images=images, output=root)
    assert main(["import-annotations", "coco", str(source), "--images", str(images), "--output", str(root)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(root) in err and "not empty" in err
    assert [p.name for p in root.iterdir()] == ["keep.txt"] and (root / "keep.txt").read_text() == "mine"
    assert not list(tmp_path.glob("*.partial-*"))
    (root / "keep.txt").unlink()  # an empty folder is fine
    assert import_annotations("coco", source, images=images, output=root).train == 3


def test_bad_coco_input_is_one_line_naming_the_file(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DatasetError, match=r"broken\.json: not readable as JSON"):
        import_annotations("coco", broken, images=images, output=tmp_path / "o")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"shapes": []}))
    with pytest.raises(DatasetError, match=r"other\.json: not a COCO instances file"):
        import_annotations("coco", other, images=images, output=tmp_path / "o")
    code = main(["import-annotations", "coco", str(tmp_path / "nope.json"), "--images", str(images), "--output", "x"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "nope.json: no such file" in err
    assert not (tmp_path / "o").exists()


def test_malformed_rles_are_problems_not_crashes(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.jpg")
    bad = [
        {"size": [H, W], "counts": "zzzz"},  # compressed, does not cover the image
        {"size": [H, W], "counts": [5, 3]},  # uncompressed, too short
        {"size": [H + 1, W], "counts": [W * (H + 1)]},  # another image's size
    ]
    anns = [{"id": i, "image_id": 1, "category_id": 1, "segmentation": seg, "iscrowd": 0} for i, seg in enumerate(bad)]
    data = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "x"}], "annotations": anns}
    (tmp_path / "c.json").write_text(json.dumps(data))
    report = import_annotations("coco", tmp_path / "c.json", images=images, output=tmp_path / "out")
    assert report.train == 1 and len(report.problems) == 3
    assert "compressed RLE does not decode" in report.problems[0] and "uncompressed RLE" in report.problems[1]
    assert "RLE size [17, 20]" in report.problems[2]
    assert not mask_of(tmp_path / "out", "train", "a").any()


# -- LabelMe ----------------------------------------------------------------------------------


def labelme_file(folder: Path, name: str, image_path: str, shapes: list, size=(W, H)) -> None:
    doc = {"version": "5.4.1", "shapes": shapes, "imagePath": image_path, "imageData": None}
    doc.update(imageWidth=size[0], imageHeight=size[1])
    (folder / f"{name}.json").write_text(json.dumps(doc))


def shape(label: str, kind: str, points: list) -> dict:
    return {"label": label, "points": points, "shape_type": kind, "group_id": None, "flags": {}}


def make_labelme(tmp_path: Path) -> Path:
    folder = tmp_path / "labelme"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "d.jpg")
    labelme_file(
        folder,
        "a",
        "a.png",
        [
            shape("road", "rectangle", [[19, 15], [0, 8]]),  # corners in any order
            shape("car", "polygon", [[4, 4], [12, 4], [12, 11], [4, 11]]),  # on top of the road
            shape("person", "rectangle", [[10, 2], [15, 9]]),  # on top of the car
            shape("person", "point", [[1, 1]]),  # no area: skipped
            shape("road", "linestrip", [[0, 0], [5, 5]]),  # no area: skipped
            shape("car", "polygon", [[17, -3], [25, -3], [25, 3], [17, 3]]),  # outside: clipped
            shape("road", "polygon", [[1, 1], [2, 2]]),  # degenerate
        ],
    )
    labelme_file(folder, "b", "missing.png", [shape("car", "polygon", [[0, 0], [4, 0], [4, 4]])])
    (folder / "c.json").write_text("{broken")
    labelme_file(folder, "d", "d.jpg", [])  # nothing drawn: all background
    return folder


def labelme_expected(car: int, person: int, road: int) -> np.ndarray:
    expected = box(8, 16, 0, 20, road)
    expected = box(4, 12, 4, 13, car, expected)
    expected = box(2, 10, 10, 16, person, expected)
    return box(0, 4, 17, 20, car, expected)


def test_labelme_paints_in_file_order_and_reports_problems(tmp_path, capsys):
    folder = make_labelme(tmp_path)
    root = tmp_path / "out"
    assert main(["import-annotations", "labelme", str(folder), "--output", str(root)]) == 0
    out = capsys.readouterr().out
    assert "train 2 images" in out and "4 classes (background, car, person, road)" in out and "4 problems" in out
    lines = out.strip().splitlines()
    assert lines[-5] == "problems (4):"
    problem_lines = [line.strip() for line in lines[-4:]]
    assert any(
        "a.json: shape 5 ('car', polygon)" in p and "outside the 20x16 image; clipped" in p for p in problem_lines
    )
    assert any("a.json: shape 6 ('road', polygon)" in p and "degenerate" in p for p in problem_lines)
    assert any("b.json: image missing.png not found" in p for p in problem_lines)
    assert any("c.json: not readable as JSON" in p for p in problem_lines)

    assert (root / "classes.txt").read_text().splitlines()[0] == "background 0 0 0"
    np.testing.assert_array_equal(mask_of(root, "train", "a"), labelme_expected(car=1, person=2, road=3))
    np.testing.assert_array_equal(mask_of(root, "train", "d"), np.zeros((H, W), dtype=np.uint8))
    ds = get_dataset("generic", root, "train")
    assert ds.class_names == ("background", "car", "person", "road")
    np.testing.assert_array_equal(ds.read_pair(0)[1], labelme_expected(car=1, person=2, road=3))


def test_labelme_classes_file_sets_the_order_and_ignore(tmp_path):
    folder = make_labelme(tmp_path)
    (folder / "b.json").unlink()
    (folder / "c.json").unlink()
    write_image(folder / "e.png")
    ignore = shape("__ignore__", "rectangle", [[0, 0], [3, 3]])
    labelme_file(folder, "e", "e.png", [shape("road", "rectangle", [[0, 0], [9, 9]]), ignore])
    (folder / "sub").mkdir()
    labelme_file(folder / "sub", "again", "../a.png", [])  # a.png again: the same mask name, so skipped
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\nroad\ncar\nperson\n")  # LabelMe's labels.txt
    root = tmp_path / "out"
    report = import_annotations("labelme", folder, images=None, output=root, classes=labels)
    assert report.class_names == ("background", "road", "car", "person") and report.train == 3
    assert len(report.problems) == 3
    assert "again.json: image a.png has the same name stem as a.png" in report.problems[-1]
    np.testing.assert_array_equal(mask_of(root, "train", "a"), labelme_expected(car=2, person=3, road=1))
    np.testing.assert_array_equal(mask_of(root, "train", "e"), box(0, 4, 0, 4, 255, box(0, 10, 0, 10, 1)))
    assert (root / "classes.txt").read_text().splitlines()[1:] == [
        "road 128 0 0",
        "car 0 128 0",
        "person 128 128 0",
        "@ignore value=255",
    ]


# -- CVAT -------------------------------------------------------------------------------------


def test_cvat_colours_map_to_labelmap_order(tmp_path):
    source = tmp_path / "cvat"
    (source / "SegmentationClass").mkdir(parents=True)
    (source / "ImageSets" / "Segmentation").mkdir(parents=True)
    (source / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncat:250,50,83::\ndog:51,221,255::\n"
    )
    (source / "ImageSets" / "Segmentation" / "default.txt").write_text("x\ny\nz\n")
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    rgb[2:6, 3:9] = (250, 50, 83)
    rgb[8:12, 10:18] = (51, 221, 255)
    rgb[0, 0] = (0, 255, 0)  # a colour the labelmap does not know
    Image.fromarray(rgb).save(source / "SegmentationClass" / "x.png")
    Image.fromarray(np.zeros((H, W, 3), dtype=np.uint8)).save(source / "SegmentationClass" / "y.png")
    write_image(source / "JPEGImages" / "x.jpg")
    write_image(source / "JPEGImages" / "y.jpg")

    root = tmp_path / "out"
    report = import_annotations("cvat", source, images=None, output=root)
    assert (root / "classes.txt").read_text() == "background 0 0 0\ncat 250 50 83\ndog 51 221 255\n@ignore value=255\n"
    expected = box(8, 12, 10, 18, 2, box(2, 6, 3, 9, 1))
    expected[0, 0] = 255
    np.testing.assert_array_equal(mask_of(root, "train", "x"), expected)
    assert report.train == 2 and len(report.problems) == 2
    assert any("x.png: 1 pixels of colours not in labelmap.txt: (0,255,0); set to ignore" in p for p in report.problems)
    assert any("z.png: missing" in p for p in report.problems)
    with Image.open(root / "train" / "masks" / "x.png") as im:
        assert im.getpalette()[:9] == [0, 0, 0, 250, 50, 83, 51, 221, 255]


# -- VOC and the split ------------------------------------------------------------------------


def make_voc(tmp_path: Path, n: int = 10) -> Path:
    source = tmp_path / "VOC" / "SegmentationClass"
    source.mkdir(parents=True)
    palette = [v for colour in default_palette(256) for v in colour]
    for i in range(n):
        values = box(0, 4, 0, 4, 15, box(5, 16, 0, 20, i % 3))
        values[:, 19] = 255
        im = Image.frombytes("P", (W, H), values.tobytes())
        im.putpalette(palette)
        im.save(source / f"2007_{i:06d}.png")
        write_image(tmp_path / "VOC" / "JPEGImages" / f"2007_{i:06d}.jpg", value=10 * i)
    return source


def test_voc_masks_keep_their_values_and_the_split_is_deterministic(tmp_path):
    source = make_voc(tmp_path)
    runs = {}
    for name, seed in (("one", 1), ("again", 1), ("other", 2)):
        report = import_annotations("voc", source, images=None, output=tmp_path / name, val_fraction=0.3, seed=seed)
        assert (report.train, report.val, report.problems) == (7, 3, [])
        train = {p.stem for p in (tmp_path / name / "train" / "masks").iterdir()}
        val = {p.stem for p in (tmp_path / name / "val" / "images").iterdir()}
        assert not train & val and len(train | val) == 10
        runs[name] = val
    assert runs["one"] == runs["again"] and runs["one"] != runs["other"]

    root = tmp_path / "one"
    classes = (root / "classes.txt").read_text().splitlines()
    assert (
        len(classes) == 22
        and classes[-1] == "@ignore value=255"
        and classes[0] == "background 0 0 0"
        and classes[15] == "person 192 128 128"
    )
    val_ds = get_dataset("generic", root, "val")
    for index, (image_path, _) in enumerate(val_ds.pairs):
        i = int(image_path.stem.split("_")[1])
        expected = box(0, 4, 0, 4, 15, box(5, 16, 0, 20, i % 3))
        expected[:, 19] = 255
        np.testing.assert_array_equal(val_ds.read_pair(index)[1], expected)


def test_voc_classes_file_and_stray_values(tmp_path):
    source = make_voc(tmp_path, n=2)
    (tmp_path / "VOC" / "JPEGImages" / "2007_000001.jpg").unlink()
    names = tmp_path / "names.txt"
    names.write_text("background\naeroplane\nbicycle\n")
    report = import_annotations(
        "voc", source, images=tmp_path / "VOC" / "JPEGImages", output=tmp_path / "o", classes=names
    )
    assert report.class_names == ("background", "aeroplane", "bicycle") and report.train == 1
    assert any("2007_000000.png: values 15 are not class ids" in p for p in report.problems)
    assert any("2007_000001.png: image 2007_000001 not found" in p for p in report.problems)
    assert mask_of(tmp_path / "o", "train", "2007_000000")[0, 0] == 255
    assert (
        tmp_path / "o" / "classes.txt"
    ).read_text() == "background 0 0 0\naeroplane 128 0 0\nbicycle 0 128 0\n@ignore value=255\n"


def test_help_documents_the_overlap_rule(capsys):
    with pytest.raises(SystemExit):
        main(["import-annotations", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "later shapes on top" in out and "decreasing area" in out and "iscrowd regions are painted last" in out


def test_voc_refuses_binary_0_255_masks_with_the_generic_fix(tmp_path):
    source = tmp_path / "SegmentationClass"
    source.mkdir()
    Image.fromarray(box(2, 8, 2, 8, 255)).save(source / "a.png")
    write_image(tmp_path / "JPEGImages" / "a.jpg")
    with pytest.raises(DatasetError, match=r"only 0 and 255: binary masks.*'NAME value=255'"):
        import_annotations("voc", source, images=None, output=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- one class name everywhere ----------------------------------------------------------------


def test_a_class_name_with_a_space_is_spelt_one_way_everywhere(tmp_path, capsys):
    # labelme's own labels.txt says "potted plant"; classes.txt cannot hold a space in a name
    folder = tmp_path / "labelme"
    folder.mkdir()
    write_image(folder / "a.png")
    labelme_file(folder, "a", "a.png", [shape("potted plant", "rectangle", [[2, 2], [9, 9]])])
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\npotted plant\n")
    for name, extra in (("found", []), ("listed", ["--classes", str(labels)])):
        root = tmp_path / name
        assert main(["import-annotations", "labelme", str(folder), "--output", str(root), *extra]) == 0
        out = capsys.readouterr().out
        assert "2 classes (background, potted_plant)" in out, out
        assert "potted plant" not in out
        written = [line.split()[0] for line in (root / "classes.txt").read_text().splitlines()]
        assert written == ["background", "potted_plant", "@ignore"]
        assert get_dataset("generic", root, "train").class_names == ("background", "potted_plant")
        report = import_annotations(
            "labelme", folder, images=None, output=tmp_path / f"{name}_api", classes=extra[-1] if extra else None
        )
        assert report.class_names == ("background", "potted_plant")


def test_coco_background_category_of_labelme2coco_is_background(tmp_path):
    # labelme2coco writes labels.txt's _background_ as category 0 and __ignore__ not at all
    images = tmp_path / "images"
    write_image(images / "a.jpg")

    def poly(x0, y0, x1, y1):
        return [[x0, y0, x1, y0, x1, y1, x0, y1]]

    data = {
        "images": [{"id": 0, "file_name": "a.jpg", "width": W, "height": H}],
        "categories": [{"id": 0, "name": "_background_"}, {"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "annotations": [
            {"id": 0, "image_id": 0, "category_id": 1, "segmentation": poly(0, 0, 20, 16), "iscrowd": 0},
            # a background region: a hole in the car (smaller, so painted later)
            {"id": 1, "image_id": 0, "category_id": 0, "segmentation": poly(2, 2, 6, 6), "iscrowd": 0},
            {"id": 2, "image_id": 0, "category_id": 2, "segmentation": poly(10, 4, 14, 12), "iscrowd": 0},
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(data))
    root = tmp_path / "out"
    report = import_annotations("coco", tmp_path / "c.json", images=images, output=root)
    assert report.class_names == ("background", "car", "person") and report.problems == []
    assert (root / "classes.txt").read_text().splitlines()[:3] == ["background 0 0 0", "car 128 0 0", "person 0 128 0"]
    np.testing.assert_array_equal(
        mask_of(root, "train", "a"), box(4, 12, 10, 14, 2, box(2, 6, 2, 6, 0, box(0, 16, 0, 20, 1)))
    )


def test_labelme_classes_found_only_in_skipped_files_are_not_classes(tmp_path, capsys):
    folder = tmp_path / "labelme"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "small.png", size=(10, 8))
    labelme_file(
        folder,
        "a",
        "a.png",
        [shape("car", "rectangle", [[2, 2], [9, 9]]), shape("zebra", "rectangle", [[12, 2], [18, 9]])],
    )
    labelme_file(folder, "b", "missing.png", [shape("bus", "rectangle", [[0, 0], [4, 4]])])  # image missing
    labelme_file(folder, "small", "small.png", [shape("cat", "rectangle", [[0, 0], [4, 4]])])  # annotated for 20x16
    labelme_file(folder, "c", "a.png", [shape("dog", "polygon", [[1, 1], [2, 2]])])  # a.png again: skipped
    root = tmp_path / "out"
    assert main(["import-annotations", "labelme", str(folder), "--output", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 classes (background, car, zebra)" in out, out
    assert "not classes: 'bus', 'cat', 'dog'" in out
    assert (root / "classes.txt").read_text() == "background 0 0 0\ncar 128 0 0\nzebra 0 128 0\n@ignore value=255\n"
    np.testing.assert_array_equal(mask_of(root, "train", "a"), box(2, 10, 12, 19, 2, box(2, 10, 2, 10, 1)))
    assert get_dataset("generic", root, "train").class_names == ("background", "car", "zebra")
    with Image.open(root / "train" / "masks" / "a.png") as im:
        assert im.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]

    # a class file declares the classes: all of them are kept, in its order
    labels = tmp_path / "labels.txt"
    labels.write_text("_background_\nbus\ncar\nzebra\n")
    report = import_annotations("labelme", folder, images=None, output=tmp_path / "listed", classes=labels)
    assert report.class_names == ("background", "bus", "car", "zebra")


def _embedded(image: Image.Image, fmt: str) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii"), buffer.getvalue()


def test_labelme_embedded_image_data_stands_in_for_a_missing_image(tmp_path):
    folder = tmp_path / "labelme"
    folder.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    car = [shape("car", "rectangle", [[2, 2], [9, 9]])]
    encoded = {}
    for stem, fmt in (("png_inside", "PNG"), ("jpeg_inside", "JPEG")):
        text, raw = _embedded(Image.fromarray(pixels), fmt)
        encoded[stem] = raw
        labelme_file(folder, stem, f"gone/{stem}.jpg", car)  # the image file is not there
        doc = json.loads((folder / f"{stem}.json").read_text())
        doc["imageData"] = text
        (folder / f"{stem}.json").write_text(json.dumps(doc))
    # labelme's own tutorial/apc2016_obj3.json names itself as imagePath: the embedded image is the image
    labelme_file(folder, "itself", "itself.json", car)
    doc = json.loads((folder / "itself.json").read_text())
    doc["imageData"], encoded["itself"] = _embedded(Image.fromarray(pixels), "PNG")
    (folder / "itself.json").write_text(json.dumps(doc))
    labelme_file(folder, "broken", "gone/broken.png", car)
    doc = json.loads((folder / "broken.json").read_text())
    doc["imageData"] = base64.b64encode(b"not an image").decode("ascii")
    (folder / "broken.json").write_text(json.dumps(doc))

    root = tmp_path / "out"
    report = import_annotations("labelme", folder, images=None, output=root)
    assert report.train == 3 and report.skipped == 1, report.problems
    assert (
        len(report.problems) == 1
        and "broken.json: the embedded imageData is not a readable image" in report.problems[0]
    )
    images = root / "train" / "images"
    assert sorted(p.name for p in images.iterdir()) == ["itself.png", "jpeg_inside.jpg", "png_inside.png"]
    for stem, raw in encoded.items():
        path = next(images.glob(f"{stem}.*"))
        assert path.read_bytes() == raw  # the embedded image itself, not a re-encoding
        with Image.open(path) as im, Image.open(io.BytesIO(raw)) as embedded:
            np.testing.assert_array_equal(np.asarray(im), np.asarray(embedded))
        np.testing.assert_array_equal(mask_of(root, "train", stem), box(2, 10, 2, 10, 1))


def test_labelme_oriented_rectangles_are_filled(tmp_path):
    folder = tmp_path / "labelme"
    folder.mkdir()
    write_image(folder / "a.png")
    rotated = [[10, 2], [15, 7], [10, 12], [5, 7]]  # a square turned by 45 degrees
    labelme_file(
        folder,
        "a",
        "a.png",
        [
            shape("box", "oriented_rectangle", [[1, 1], [4, 1], [4, 3], [1, 3]]),
            shape("diamond", "oriented_rectangle", rotated),
            shape("box", "oriented_rectangle", [[1, 1], [4, 1], [4, 3]]),  # three points: not one
        ],
    )
    root = tmp_path / "out"
    report = import_annotations("labelme", folder, images=None, output=root)
    assert report.class_names == ("background", "box", "diamond")
    assert len(report.problems) == 1 and "shape 2 ('box', oriented_rectangle): needs 4 points" in report.problems[0]
    expected = box(1, 4, 1, 5, 1)
    for y in range(H):
        for x in range(W):
            if abs(x - 10) + abs(y - 7) <= 5:
                expected[y, x] = 2
    np.testing.assert_array_equal(mask_of(root, "train", "a"), expected)


def test_strict_clips_sub_pixel_overshoot_and_refuses_real_out_of_image_shapes(tmp_path):
    # labelme's examples/semantic_segmentation/2011_000006.json has a vertex 0.77 px outside its image
    folder = tmp_path / "labelme"
    folder.mkdir()
    write_image(folder / "a.png")
    near = [[W - 5, 3], [W + 0.77, 3], [W + 0.77, 9], [W - 5, 9]]
    labelme_file(
        folder,
        "a",
        "a.png",
        [shape("car", "polygon", near), shape("car", "polygon", [[-0.5, -0.99], [4, -0.2], [3, 5]])],
    )
    root = tmp_path / "ok"
    report = import_annotations("labelme", folder, images=None, output=root, strict=True)
    assert report.problems == [] and report.written
    assert mask_of(root, "train", "a")[3:10, W - 5 :].all()

    labelme_file(folder, "a", "a.png", [shape("car", "polygon", [[W - 5, 3], [W + 1, 3], [W + 1, 9]])])
    with pytest.raises(AnnotationImportError, match="1 problem"):
        import_annotations("labelme", folder, images=None, output=tmp_path / "refused", strict=True)
    assert not (tmp_path / "refused").exists()

    images = tmp_path / "coco_images"
    write_image(images / "a.jpg")
    for name, x in (("near", W + 0.77), ("far", W + 1.5)):
        data = {
            "images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "car"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[W - 5, 3, x, 3, x, 9]], "iscrowd": 0}
            ],
        }
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    report = import_annotations("coco", tmp_path / "near.json", images=images, output=tmp_path / "coco", strict=True)
    assert report.problems == []
    with pytest.raises(AnnotationImportError, match="1 problem"):
        import_annotations("coco", tmp_path / "far.json", images=images, output=tmp_path / "coco_far", strict=True)


# -- CVAT for images 1.1 (annotations.xml) ----------------------------------------------------

CVAT_META = """<meta><task><id>1</id><name>t</name><labels>
  <label><name>car</name><color>#fa3253</color><type>any</type><attributes/></label>
  <label><name>person</name><color>#33ddff</color><type>any</type><attributes/></label>
  <label><name>road</name><color>#3d3df5</color><type>any</type><attributes/></label>
  <label><name>tree</name><color>#24b353</color><type>any</type><attributes/></label>
</labels></task></meta>"""


def cvat_xml(folder: Path, images: str, meta: str = CVAT_META) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "annotations.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>{meta}{images}</annotations>'
    )
    return path


def make_cvat_xml(tmp_path: Path) -> Path:
    source = tmp_path / "cvat_images"
    for name in ("a.jpg", "b.png", "c.jpg"):
        write_image(source / "images" / name)
    cvat_xml(
        source,
        f"""
  <image id="0" name="a.jpg" width="{W}" height="{H}">
    <box label="road" source="manual" occluded="0" xtl="0.00" ytl="8.00" xbr="20.00" ybr="16.00" z_order="0"/>
    <polygon label="car" source="manual" occluded="0" points="4.00,4.00;12.00,4.00;12.00,11.00;4.00,11.00" z_order="1"/>
    <mask label="person" source="manual" occluded="0" rle="6, 36, 1, 5" left="10" top="2" width="6" height="8" z_order="2"/>
    <polyline label="car" source="manual" occluded="0" points="0.00,0.00;5.00,5.00" z_order="3"/>
    <points label="person" source="manual" occluded="0" points="1.00,1.00" z_order="3"/>
    <tag label="car" source="manual"/>
    <polygon label="tree" source="manual" occluded="0" points="0.00,0.00;20.00,0.00;20.00,16.00;0.00,16.00" z_order="-1"/>
  </image>
  <image id="1" name="b.png" width="{W}" height="{H}">
    <polygon label="car" source="manual" occluded="0" points="15.00,-5.00;30.00,-5.00;30.00,4.00;15.00,4.00" z_order="0"/>
    <box label="bus" source="manual" occluded="0" xtl="0.00" ytl="0.00" xbr="4.00" ybr="4.00" z_order="0"/>
  </image>
  <image id="2" name="missing.jpg" width="{W}" height="{H}"/>
  <image id="3" name="c.jpg" width="{W}" height="{H}">
    <mask label="person" source="manual" occluded="0" rle="3, 4" left="0" top="0" width="3" height="3" z_order="0"/>
    <box label="car" source="manual" occluded="0" xtl="2.00" ytl="2.00" xbr="6.00" ybr="6.00" rotation="45.0" z_order="0"/>
    <ellipse label="road" source="manual" occluded="0" cx="14.00" cy="8.00" rx="4.00" ry="2.00" rotation="90.0" z_order="0"/>
  </image>""",
    )
    return source


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools.decode, NumPy 2
def test_cvat_for_images_xml_paints_by_z_order(tmp_path, capsys):
    source = make_cvat_xml(tmp_path)
    root = tmp_path / "out"
    assert main(["import-annotations", "cvat", str(source), "--output", str(root)]) == 0
    out = capsys.readouterr().out
    assert "train 3 images" in out and "5 classes (background, car, person, road, tree)" in out, out
    assert "1 polyline, 1 points and 1 tag elements have no area; left out" in out
    assert (root / "classes.txt").read_text() == (
        "background 0 0 0\ncar 250 50 83\nperson 51 221 255\nroad 61 61 245\ntree 36 179 83\n@ignore value=255\n"
    )
    # tree (z_order -1, last in the file) under everything; road; car over road; person (an RLE mask) on top
    person = np.zeros((H, W), dtype=bool)
    runs = np.repeat([False, True, False, True], [6, 36, 1, 5]).reshape(8, 6)  # its 6x8 box at (10, 2)
    person[2:10, 10:16] = runs
    expected = box(8, 16, 0, 20, 3, box(0, 16, 0, 20, 4))
    expected = box(4, 11, 4, 12, 1, expected)
    expected[person] = 2
    np.testing.assert_array_equal(mask_of(root, "train", "a"), expected)
    np.testing.assert_array_equal(mask_of(root, "train", "b"), box(0, 4, 15, 20, 1))

    # a 4x4 box turned by 45 degrees about its centre (4, 4): a diamond, as pycocotools fills it
    rotated = [4 - 2 * np.sqrt(2), 4, 4, 4 - 2 * np.sqrt(2), 4 + 2 * np.sqrt(2), 4, 4, 4 + 2 * np.sqrt(2)]
    diamond = pycocotools_mask.decode(pycocotools_mask.frPyObjects([rotated], H, W)[0]).astype(bool)
    np.testing.assert_array_equal(mask_of(root, "train", "c") == 1, diamond)
    # an ellipse 4 wide and 2 high, turned upright: about pi * 4 * 2 pixels, in columns 12..15
    road = mask_of(root, "train", "c") == 3
    assert 20 <= road.sum() <= 30 and road[4:12, 14].all() and not road[:, :12].any() and not road[:, 16:].any()

    problems = out.split("problems (4):")[1].strip().splitlines()
    assert len(problems) == 4, out
    assert any(
        "annotations.xml: image 1 (b.png): polygon 0 ('car')" in p and "outside the 20x16 image; clipped" in p
        for p in problems
    )
    assert any("image 1 (b.png): box 1 ('bus'): label not in the task's labels; skipped" in p for p in problems)
    assert any("image 2 (missing.jpg): image not found in" in p for p in problems)
    assert any(
        "image 3 (c.jpg): mask 0 ('person'): rle covers 7 pixels, not its 3x3 box; skipped" in p for p in problems
    )


def test_cvat_xml_strict_and_fatal_errors_write_nothing(tmp_path, capsys):
    source = make_cvat_xml(tmp_path)
    root = tmp_path / "out"
    assert main(["import-annotations", "cvat", str(source / "annotations.xml"), "--output", str(root), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "error: 4 problems" in err.strip().splitlines()[-1] and not root.exists()
    assert not list(tmp_path.glob("*.partial-*"))

    broken = cvat_xml(tmp_path / "broken", '<image id="0" name="a.jpg"')
    video = cvat_xml(
        tmp_path / "video", '<track id="0" label="car"><box frame="0" xtl="0" ytl="0" xbr="1" ybr="1"/></track>'
    )
    no_labels = cvat_xml(tmp_path / "nolabels", '<image id="0" name="a.jpg" width="20" height="16"/>', meta="<meta/>")
    for path, message in (
        (broken, "not readable as XML"),
        (video, "a 'CVAT for video 1.1' export; export the task as 'CVAT for images 1.1'"),
        (no_labels, "no labels in <meta>"),
    ):
        code = main(
            ["import-annotations", "cvat", str(path), "--images", str(source / "images"), "--output", str(root)]
        )
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and message in err and str(path) in err, err
        assert not root.exists() and not list(tmp_path.glob("*.partial-*"))


def test_cvat_project_xml_finds_images_by_subset(tmp_path):
    meta = CVAT_META.replace("<task>", "<project>").replace("</task>", "</project>")
    meta = meta.replace(
        "<label><name>car</name><color>#fa3253</color>",
        "<label><name>background</name><color>#101010</color><type>any</type></label><label><name>car</name><color>#fa3253</color>",
    )
    source = tmp_path / "project"
    write_image(source / "images" / "Train" / "a.jpg")
    write_image(source / "images" / "Validation" / "a.jpg", value=200)  # the same name in another subset
    cvat_xml(
        source,
        f"""<image id="0" name="a.jpg" subset="Validation" width="{W}" height="{H}">
    <polygon label="background" points="0,0;4,0;4,4;0,4" z_order="1"/>
    <polygon label="car" points="0,0;10,0;10,10;0,10" z_order="0"/>
  </image>""",
        meta=meta,
    )
    root = tmp_path / "out"
    report = import_annotations("cvat", source, images=None, output=root)
    assert report.class_names == ("background", "car", "person", "road", "tree") and report.problems == []
    assert (root / "classes.txt").read_text().splitlines()[0] == "background 16 16 16"
    assert (root / "train" / "images" / "a.jpg").read_bytes() == (
        source / "images" / "Validation" / "a.jpg"
    ).read_bytes()
    np.testing.assert_array_equal(mask_of(root, "train", "a"), box(0, 4, 0, 4, 0, box(0, 10, 0, 10, 1)))
