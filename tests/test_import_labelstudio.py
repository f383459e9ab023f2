"""`refineseg import-annotations label-studio`: Label Studio's JSON export -> the generic layout."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from refineseg.cli import main
from refineseg.data import DatasetError, get_dataset
from refineseg.data.importers import AnnotationImportError, import_annotations

brush_sdk = pytest.importorskip("label_studio_sdk.converter.brush")

from refineseg.labelstudio import encode_mask  # noqa: E402  (needs the SDK)

W, H = 16, 12  # every fixture image is 16x12 unless said otherwise


def write_image(path: Path, size: tuple[int, int] = (W, H), exif: Image.Exif | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, (90, 45, 30))
    if exif is None:
        im.save(path)
    else:
        im.save(path, exif=exif)
    return path


def box(y0: int, y1: int, x0: int, x1: int, value: int, base: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((H, W), dtype=np.uint8) if base is None else base.copy()
    out[y0:y1, x0:x1] = value
    return out


def brush(region_id: str, label: str | list, mask: np.ndarray | None = None, *, rle=None, size=(W, H), **extra):
    labels = label if isinstance(label, list) else [label]
    value = {"format": "rle", "rle": encode_mask(mask) if rle is None else rle, "brushlabels": labels}
    return {
        "id": region_id,
        "type": "brushlabels",
        "from_name": "tag",
        "to_name": "image",
        "original_width": size[0],
        "original_height": size[1],
        "image_rotation": 0,
        "value": value,
        **extra,
    }


def polygon(region_id: str, label: str, pixels: list[tuple[float, float]], *, size=(W, H), **extra):
    points = [[x / size[0] * 100, y / size[1] * 100] for x, y in pixels]
    return {
        "id": region_id,
        "type": "polygonlabels",
        "from_name": "poly",
        "to_name": "image",
        "original_width": size[0],
        "original_height": size[1],
        "image_rotation": 0,
        "value": {"points": points, "polygonlabels": [label], "closed": True},
        **extra,
    }


def annotation(ann_id: int, result: list, *, updated: str | None = "2026-01-02T10:05:00Z", **extra) -> dict:
    out = {"id": ann_id, "completed_by": 1, "was_cancelled": False, "ground_truth": False}
    out.update({"created_at": "2026-01-02T10:00:00Z", "result": result})
    if updated is not None:
        out["updated_at"] = updated
    out.update(extra)
    return out


def task(task_id: int, image: str, annotations: list, **extra) -> dict:
    return {"id": task_id, "data": {"image": image}, "annotations": annotations, "predictions": [], **extra}


def write_export(tmp_path: Path, tasks, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks))
    return path


def mask_of(root: Path, stem: str, split: str = "train") -> np.ndarray:
    with Image.open(root / split / "masks" / f"{stem}.png") as im:
        assert im.mode == "P"
        return np.asarray(im).copy()


ROAD = box(1, 6, 0, 8, 1)  # the brush region of the round trip
CAR = [(4, 3), (12, 3), (12, 9), (4, 9)]  # a polygon filling x 4..12, y 3..9 (edges included)


def test_brush_and_polygon_round_trip_to_the_exact_mask(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.jpg")
    write_image(images / "b.png")
    tasks = [
        # a: brush first, polygon on top
        task(
            1, "/data/upload/3/5d2a3f1c-a.jpg", [annotation(11, [brush("r1", "road", ROAD), polygon("p1", "car", CAR)])]
        ),
        # b: polygon first, brush on top
        task(
            2, "/data/upload/3/0badf00d-b.png", [annotation(12, [polygon("p2", "car", CAR), brush("r2", "road", ROAD)])]
        ),
    ]
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)

    assert (report.train, report.val, report.skipped, report.written) == (2, 0, 0, True)
    assert report.problems == [] and report.notes == []
    # no --classes: background, then the labels found, sorted
    assert (root / "classes.txt").read_text() == "background 0 0 0\ncar 128 0 0\nroad 0 128 0\n@ignore value=255\n"
    car = box(3, 10, 4, 13, 1)
    expected_a = box(3, 10, 4, 13, 1, box(1, 6, 0, 8, 2))
    expected_b = box(1, 6, 0, 8, 2, car)
    np.testing.assert_array_equal(mask_of(root, "a"), expected_a)
    np.testing.assert_array_equal(mask_of(root, "b"), expected_b)
    assert sorted(p.name for p in (root / "train" / "images").iterdir()) == ["a.jpg", "b.png"]
    assert (root / "train" / "images" / "b.png").read_bytes() == (images / "b.png").read_bytes()
    assert not list(tmp_path.glob("*.partial-*"))

    ds = get_dataset("generic", root, "train")
    assert ds.class_names == ("background", "car", "road")
    for index, (image_path, _) in enumerate(ds.pairs):
        image, labels = ds.read_pair(index)
        assert image.shape == (H, W, 3)
        np.testing.assert_array_equal(labels, {"a": expected_a, "b": expected_b}[image_path.stem])


def test_the_sdk_decoder_agrees(tmp_path):
    """Label Studio's own decoding of a brush region, encoded by the SDK from a PNG, is the oracle."""
    rng = np.random.default_rng(0)
    width, height = 37, 23
    blob = (rng.random((height, width)) > 0.6).astype(np.uint8) * 255
    png = tmp_path / "region.png"
    Image.fromarray(blob).save(png)
    rle, w, h = brush_sdk.image2rle(str(png))
    assert (w, h) == (width, height)
    images = tmp_path / "images"
    write_image(images / "x.png", (width, height))
    region = brush("r", "road", rle=[int(v) for v in rle], size=(width, height))
    source = write_export(tmp_path, [task(1, "/data/upload/1/abcdef01-x.png", [annotation(1, [region])])])
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)
    assert report.problems == [] and report.train == 1

    flat = {"type": "brushlabels", "rle": region["value"]["rle"], "brushlabels": ["road"]}
    flat.update(original_width=width, original_height=height)
    oracle = brush_sdk.decode_from_annotation("tag", [flat])["tag-road-0"] >= 128
    np.testing.assert_array_equal(mask_of(root, "x"), oracle.astype(np.uint8))  # road is class 1
    assert oracle.any() and not oracle.all()


def test_the_latest_annotation_that_is_not_cancelled_wins(tmp_path, capsys):
    images = tmp_path / "images"
    for name in ("a.png", "b.png", "c.png", "d.png", "e.png"):
        write_image(images / name)
    everything = np.ones((H, W), dtype=bool)
    road, car = brush("road", "road", everything), brush("car", "car", everything)
    tasks = [
        task(
            1,
            "/data/upload/1/00000001-a.png",
            [
                annotation(3, [road], updated="2026-01-01T09:00:00Z"),  # older
                annotation(1, [car], updated="2026-01-03T09:00:00+00:00"),  # newer: wins although a lower id
                annotation(5, [road], updated="2026-01-05T09:00:00Z", was_cancelled=True),  # newest, cancelled
            ],
        ),
        # equal times: the greater id; without updated_at, created_at counts
        task(2, "/data/upload/1/00000002-b.png", [annotation(7, [road]), annotation(8, [car])]),
        task(
            3,
            "/data/upload/1/00000003-c.png",
            [
                annotation(1, [road], updated=None, created_at="2026-02-01T00:00:00Z"),
                annotation(2, [car], updated=None, created_at="2026-01-01T00:00:00Z"),
            ],
        ),
        # not labelled yet: every annotation cancelled, or only predictions
        task(4, "/data/upload/1/00000004-d.png", [annotation(1, [car], was_cancelled=True)]),
        task(5, "/data/upload/1/00000005-e.png", [], predictions=[{"id": 1, "result": [road]}]),
    ]
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)
    assert report.problems == []
    assert report.train == 3
    assert (root / "classes.txt").read_text().splitlines()[:3] == ["background 0 0 0", "car 128 0 0", "road 0 128 0"]
    assert (mask_of(root, "a") == 1).all()  # car
    assert (mask_of(root, "b") == 1).all()  # car (id 8)
    assert (mask_of(root, "c") == 2).all()  # road (created later)
    assert not (root / "train" / "masks" / "d.png").exists()
    (note,) = report.notes
    assert note.startswith("2 tasks without an annotation") and note.endswith(
        "left out: 4, 5 (predictions are never imported)"
    )

    o2 = tmp_path / "o2"
    args = ["import-annotations", "label-studio", str(source), "--images", str(images), "--output", str(o2)]
    code = main([*args, "--val-fraction", "0.4", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 0
    summary = f"wrote {o2}: train 2 images, val 1 image; 3 classes (background, car, road); 0 problems"
    assert out.splitlines()[0] == summary
    assert "notes (1):" in out and "2 tasks without an annotation" in out
    assert len(list((o2 / "val" / "masks").iterdir())) == 1


def test_image_url_forms(tmp_path):
    images = tmp_path / "images"
    for name in (
        "up.png",
        "storage.png",
        "sub/dir/local.png",
        "flat.png",
        "remote.jpg",
        "9a8b7c6d-kept.png",
        "own.png",
    ):
        write_image(images / name)
    mark = box(0, 2, 0, 2, 1).astype(bool)
    region = brush("r", "road", mark)
    tasks = [
        task(1, "/data/upload/4/5d2a3f1c-up.png", [annotation(1, [region])]),
        task(2, "/storage-data/uploaded/?filepath=upload/4/deadbeef-storage.png", [annotation(1, [region])]),
        task(3, "/data/local-files/?d=sub/dir/local.png", [annotation(1, [region])]),
        task(4, "/data/local-files/?d=elsewhere%2Fflat.png", [annotation(1, [region])]),  # found by its name
        task(5, "https://bucket.example.com/x/remote.jpg?X-Amz-Signature=abc", [annotation(1, [region])]),
        task(6, "/data/upload/4/9a8b7c6d-kept.png", [annotation(1, [region])]),  # stored with the prefix
        # no 'image' key: the one value that is an image URL; the upload's file_upload names it too
        {
            "id": 7,
            "data": {"photo": "/data/upload/4/1234abcd-own.png", "note": "x"},
            "annotations": [annotation(1, [region])],
        },
        # a local path that climbs out of --images is looked up by its name only
        task(8, "/data/local-files/?d=../../images/nothing.png", [annotation(1, [region])]),
    ]
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)
    names = sorted(p.name for p in (root / "train" / "images").iterdir())
    assert names == ["9a8b7c6d-kept.png", "flat.png", "local.png", "own.png", "remote.jpg", "storage.png", "up.png"]
    (problem,) = report.problems
    assert problem.startswith(f"{source}: task 8: image 'nothing.png'") and "not found" in problem
    for name in names:
        np.testing.assert_array_equal(mask_of(root, Path(name).stem), mark.astype(np.uint8))


def test_a_single_task_object_is_read(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.png")
    one = task(9, "/data/upload/1/abcdef12-a.png", [annotation(1, [polygon("p", "car", CAR)])])
    report = import_annotations("label-studio", write_export(tmp_path, one), images=images, output=tmp_path / "out")
    assert report.train == 1 and report.problems == []


def test_problems_name_the_task_and_the_rest_is_imported(tmp_path):
    images = tmp_path / "images"
    for name in ("good.png", "big.png", "turned.png", "two.png", "open.png", "flat.png", "far.png"):
        write_image(images / name)
    region = brush("r", "road", ROAD)
    open_polygon = {
        **polygon("open", "car", CAR),
        "value": {"points": [[1, 1], [50, 1], [50, 50]], "polygonlabels": ["car"], "closed": False},
    }
    rectangles = [{"id": f"rect{i}", "type": "rectanglelabels", "value": {"rectanglelabels": ["car"]}} for i in (1, 2)]
    tasks = [
        task(1, "/data/upload/1/00000001-good.png", [annotation(1, [region, {"id": "k", "type": "keypointlabels"}])]),
        task(2, "/data/upload/1/00000002-missing.png", [annotation(1, [region])]),
        task(
            3,
            "/data/upload/1/00000003-big.png",
            [annotation(1, [brush("s", "road", np.ones((H, W + 4), bool), size=(W + 4, H))])],
        ),
        task(4, "/data/upload/1/00000004-turned.png", [annotation(1, [brush("t", "road", ROAD, image_rotation=90)])]),
        # a region that cannot be painted leaves its whole task out, not its pixels as background
        task(5, "/data/upload/1/00000005-two.png", [annotation(1, [region, brush("two", ["road", "car"], ROAD)])]),
        task(6, "/data/upload/1/00000006-open.png", [annotation(1, [open_polygon])]),
        task(
            7, "/data/upload/1/00000007-flat.png", [annotation(1, [polygon("flat", "car", [(1, 1), (5, 1), (9, 1)])])]
        ),
        # clipped: a problem, but the polygon is painted
        task(
            8,
            "/data/upload/1/00000008-far.png",
            [annotation(1, [polygon("far", "car", [(-4, -4), (8, -4), (8, 8), (-4, 8)]), *rectangles])],
        ),
    ]
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)
    assert (report.train, report.skipped) == (2, 6)
    assert all(line.startswith(f"{source}: task ") for line in report.problems)
    by_task = {line.split(": ")[1]: line for line in report.problems}
    assert len(report.problems) == len(by_task) == 7, report.problems
    assert "image 'missing.png' (/data/upload/1/00000002-missing.png) not found" in by_task["task 2"]
    assert (
        "region s (brushlabels): annotated for 20x12 but the image is 16x12; task skipped"
        in by_task["task 3 (big.png)"]
    )
    assert "region t (brushlabels): image_rotation 90" in by_task["task 4 (turned.png)"]
    assert "region two (brushlabels): 2 labels" in by_task["task 5 (two.png)"]
    assert "region open (polygonlabels): the polygon is not closed" in by_task["task 6 (open.png)"]
    assert "region flat (polygonlabels): empty or degenerate polygon" in by_task["task 7 (flat.png)"]
    assert "region far (polygonlabels): extends outside the 16x12 image; clipped" in by_task["task 8 (far.png)"]
    assert all(
        by_task[f"task {n} ({name}.png)"].endswith("; task skipped")
        for n, name in ((5, "two"), (6, "open"), (7, "flat"))
    )
    np.testing.assert_array_equal(mask_of(root, "good"), ROAD.astype(np.uint8) * 2)  # background, car, road
    np.testing.assert_array_equal(mask_of(root, "far"), box(0, 9, 0, 9, 1))  # the clipped polygon
    assert sorted(report.notes) == [
        "1 keypointlabels region left out: only brushlabels and polygonlabels regions are painted",
        "2 rectanglelabels regions left out: only brushlabels and polygonlabels regions are painted",
    ]


def _word_overflow_rle(width: int, height: int) -> list[int]:
    """A stream with a valid header whose 9-bit word holds 300: too big for a byte."""
    bits = format(width * height * 4, "032b") + format(8, "05b") + format(3, "04b") * 4
    bits += "1" + "00" + format(15, "04b") + format(300, "09b")
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


def test_malformed_rles_are_one_problem_each(tmp_path):
    images = tmp_path / "images"
    good = encode_mask(ROAD.astype(bool))
    bad = {
        "truncated": good[: len(good) // 2],
        "header": encode_mask(np.ones((8, 8), bool)),  # 256 values, not 16x12x4
        "huge": [255, 255, 255, 255, *good[4:]],  # a count of 2**32 - 1
        "byte": [*good, 300],
        "string": "not a list",
        "words": _word_overflow_rle(W, H),
        "empty": [],
    }
    tasks = [task(1, "/data/upload/1/00000000-ok.png", [annotation(1, [brush("fine", "road", ROAD)])])]
    for number, (name, rle) in enumerate(bad.items(), start=2):
        write_image(images / f"{name}.png")
        tasks.append(
            task(number, f"/data/upload/1/0000000{number}-{name}.png", [annotation(1, [brush(name, "road", rle=rle)])])
        )
    write_image(images / "ok.png")
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    report = import_annotations("label-studio", source, images=images, output=root)
    assert len(report.problems) == len(bad), report.problems
    for number, name in enumerate(bad, start=2):
        (line,) = [p for p in report.problems if p.startswith(f"{source}: task {number} ({name}.png): region {name} ")]
        assert "malformed brush RLE" in line and line.endswith("; task skipped") and "\n" not in line
    assert "4294967295" in next(p for p in report.problems if "region huge" in p)
    # a task with a bad region is left out whole (its pixels would be background), the good one is written
    assert report.train == 1
    np.testing.assert_array_equal(mask_of(root, "ok"), ROAD.astype(np.uint8))


def test_strict_writes_nothing_and_exits_1(tmp_path, capsys):
    images = tmp_path / "images"
    write_image(images / "a.png")
    tasks = [
        task(1, "/data/upload/1/00000001-a.png", [annotation(1, [brush("r", "road", ROAD)])]),
        task(2, "/data/upload/1/00000002-gone.png", [annotation(1, [brush("r", "road", ROAD)])]),
    ]
    source = write_export(tmp_path, tasks)
    root = tmp_path / "out"
    with pytest.raises(AnnotationImportError, match="1 problem") as info:
        import_annotations("label-studio", source, images=images, output=root, strict=True)
    assert "gone.png" in info.value.report.problems[0]
    assert not root.exists() and not list(tmp_path.glob("*.partial-*"))
    args = ["import-annotations", "label-studio", str(source), "--images", str(images), "--output", str(root)]
    assert main([*args, "--strict"]) == 1
    err = capsys.readouterr().err
    assert "gone.png" in err and err.strip().splitlines()[-1].startswith(
        "refineseg import-annotations: error: 1 problem"
    )
    assert not root.exists() and not list(tmp_path.glob("*.partial-*"))


def test_classes_file_unknown_labels_and_unpainted_pixels(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.png")
    write_image(images / "b.png")
    road_and_background = [brush("r", "road", ROAD), polygon("b", "background", [(0, 0), (2, 0), (2, 2), (0, 2)])]
    tasks = [
        task(1, "/data/upload/1/00000001-a.png", [annotation(1, road_and_background)]),
        task(2, "/data/upload/1/00000002-b.png", [annotation(1, [brush("r", "road", ROAD), polygon("c", "car", CAR)])]),
    ]
    source = write_export(tmp_path, tasks)

    # classes with a background (not first): unpainted pixels and 'background' regions are it; an
    # unknown label leaves its task out
    names = tmp_path / "names.txt"
    names.write_text("road 10 20 30\nBackground 0 0 0\nsky 1 2 3\n")
    report = import_annotations("label-studio", source, images=images, output=tmp_path / "o1", classes=names)
    (problem,) = report.problems
    assert problem.startswith(f"{source}: task 2 (b.png): region c (polygonlabels): label 'car' not in {names}")
    assert problem.endswith("; task skipped") and (report.train, report.skipped) == (1, 1)
    assert (
        tmp_path / "o1" / "classes.txt"
    ).read_text() == "road 10 20 30\nBackground 0 0 0\nsky 1 2 3\n@ignore value=255\n"
    expected = box(0, 3, 0, 3, 1, np.where(ROAD > 0, 0, 1).astype(np.uint8))
    np.testing.assert_array_equal(mask_of(tmp_path / "o1", "a"), expected)

    # classes without a background: unpainted pixels are ignore (255), a 'background' region is unknown
    names.write_text("car\nroad\n")
    report = import_annotations("label-studio", source, images=images, output=tmp_path / "o2", classes=names)
    assert len(report.problems) == 1 and "task 1 (a.png)" in report.problems[0]
    assert "label 'background' not in" in report.problems[0]
    expected = box(3, 10, 4, 13, 0, np.where(ROAD > 0, 1, 255).astype(np.uint8))
    np.testing.assert_array_equal(mask_of(tmp_path / "o2", "b"), expected)


def test_labels_only_in_skipped_tasks_are_no_class(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.png")
    tasks = [
        task(1, "/data/upload/1/00000001-a.png", [annotation(1, [brush("r", "road", ROAD)])]),
        task(2, "/data/upload/1/00000002-gone.png", [annotation(1, [polygon("p", "car", CAR)])]),
    ]
    report = import_annotations("label-studio", write_export(tmp_path, tasks), images=images, output=tmp_path / "o")
    assert report.class_names == ("background", "road")
    assert any("'car'" in note for note in report.notes)


def test_exif_orientation_the_mask_follows_the_stored_image(tmp_path):
    """Label Studio shows (and sizes) the image upright; the copied file keeps its stored
    orientation, so the mask is turned back to it."""
    images = tmp_path / "images"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 16x12, shown rotated a quarter turn clockwise: 12x16
    write_image(images / "turned.jpg", (W, H), exif=exif)
    write_image(images / "turned2.jpg", (W, H), exif=exif)
    shown = np.zeros((W, H), dtype=bool)  # 16 high, 12 wide
    shown[0:3, 0:5] = True
    tasks = [
        task(1, "/data/upload/1/00000001-turned.jpg", [annotation(1, [brush("r", "road", shown, size=(H, W))])]),
        task(2, "/data/upload/1/00000002-turned2.jpg", [annotation(1, [brush("r", "road", ROAD, size=(W, H))])]),
    ]
    root = tmp_path / "out"
    report = import_annotations("label-studio", write_export(tmp_path, tasks), images=images, output=root)
    assert report.train == 1
    (problem,) = report.problems
    assert (
        "task 2 (turned2.jpg): region r (brushlabels): annotated for 16x12 but the image is 12x16 (after its EXIF orientation)"
        in problem
    )
    mask = mask_of(root, "turned")
    assert mask.shape == (H, W)
    upright = ImageOps.exif_transpose(Image.open(root / "train" / "images" / "turned.jpg"))
    assert upright.size == (H, W)
    # the mask, turned as the image is shown, is what was painted
    np.testing.assert_array_equal(np.rot90(mask, k=-1), shown.astype(np.uint8))


def test_bad_exports_fail_with_one_line(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    broken = tmp_path / "broken.json"
    broken.write_text("[{not json")
    with pytest.raises(DatasetError, match=r"broken\.json: not readable as JSON"):
        import_annotations("label-studio", broken, images=images, output=tmp_path / "o")
    minimal = write_export(tmp_path, [{"image": "/data/upload/1/a.png", "tag": []}], "min.json")
    with pytest.raises(DatasetError, match=r"min\.json: not a Label Studio JSON export"):
        import_annotations("label-studio", minimal, images=images, output=tmp_path / "o")
    with pytest.raises(ValueError, match="give --images"):
        import_annotations("label-studio", minimal, images=None, output=tmp_path / "o")

    code = main(
        ["import-annotations", "label-studio", str(tmp_path / "nope.json"), "--images", str(images), "--output", "x"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "nope.json: no such file" in err
    code = main(["import-annotations", "label-studio", str(minimal), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "give --images" in err
    assert not (tmp_path / "o").exists() and not Path("x").exists()


def test_help_mentions_label_studio(capsys):
    with pytest.raises(SystemExit):
        main(["import-annotations", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "label-studio" in out and "later regions on top" in out and "8-hex prefix" in out


def test_annotations_without_a_readable_mask_are_left_out_with_a_problem(tmp_path):
    images = tmp_path / "images"
    for name in ("a.png", "rect.png", "bitmask.png", "empty.png"):
        write_image(images / name)
    rectangle = {"id": "q", "type": "rectanglelabels", "value": {"rectanglelabels": ["car"]}}
    bitmask = {
        "id": "m",
        "type": "bitmasklabels",
        "value": {"imageDataURL": "data:image/png;base64,", "bitmasklabels": ["car"]},
    }
    tasks = [
        task(1, "/data/upload/1/00000001-a.png", [annotation(1, [brush("r", "road", ROAD)])]),
        task(2, "/data/upload/1/00000002-rect.png", [annotation(1, [rectangle])]),
        task(3, "/data/upload/1/00000003-bitmask.png", [annotation(1, [brush("r", "road", ROAD), bitmask])]),
        task(4, "/data/upload/1/00000004-empty.png", [annotation(1, [])]),  # submitted empty: all background
    ]
    root = tmp_path / "o"
    report = import_annotations("label-studio", write_export(tmp_path, tasks), images=images, output=root)
    by_task = {line.split(": ")[1]: line for line in report.problems}
    assert set(by_task) == {"task 2", "task 3"}, report.problems
    assert "has no brush or polygon region (only rectanglelabels); task skipped" in by_task["task 2"]
    assert "bitmasklabels regions are not read" in by_task["task 3"]
    assert report.train == 2
    assert not mask_of(root, "empty").any()
