"""``refineseg rank`` and ``refineseg.inference.uncertainty``: per-pixel uncertainty, confidence, ranking, CSV."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg
from refineseg.cli import main
from refineseg.cli import rank as rank_command
from refineseg.inference import (
    MEASURES,
    ImageReadError,
    RankedImage,
    Segmenter,
    confidence,
    rank_images,
    uncertainty_map,
    write_ranking_csv,
)

from .fixtures import CLASS_NAMES as CLASSES
from .fixtures import tiny_model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(refineseg.save_model(tiny_model(), tmp_path_factory.mktemp("w") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def segmenter(weights):
    return Segmenter.from_pretrained(weights, precision="fp32")


def _image(path, size=(30, 44), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _pixels(*columns, height=1):
    """``CxHxW`` probabilities from per-pixel columns: ``_pixels([0.75, 0.25], [1, 0])`` is 2x1x2."""
    return torch.tensor(columns, dtype=torch.float32).T[:, None, :].expand(-1, height, -1).contiguous()


# -- uncertainty_map and confidence -----------------------------------------------------------


@pytest.mark.parametrize("by", MEASURES)
def test_uniform_is_one_and_one_hot_is_zero(by):
    for classes in (2, 3, 11):
        uniform = torch.full((classes, 4, 5), 1.0 / classes)
        one_hot = torch.zeros(classes, 4, 5)
        one_hot[classes - 1] = 1.0
        assert torch.allclose(uncertainty_map(uniform, by), torch.ones(4, 5), atol=1e-6)
        assert torch.equal(uncertainty_map(one_hot, by), torch.zeros(4, 5))  # p = 0: no nan from 0 * log 0
        assert confidence(one_hot, by) == 1.0 and confidence(uniform, by) == pytest.approx(0.0, abs=1e-6)


def test_a_two_class_pixel_by_hand():
    probs = _pixels([0.75, 0.25])
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)  # 0.811278
    assert uncertainty_map(probs, "entropy").item() == pytest.approx(entropy, abs=1e-6)
    assert uncertainty_map(probs, "margin").item() == pytest.approx(0.5, abs=1e-6)  # 1 - (0.75 - 0.25)
    assert entropy == pytest.approx(0.811278, abs=1e-6)


def test_margin_looks_at_the_top_two_only_and_entropy_at_all():
    spread = _pixels([0.5, 0.3, 0.2])
    concentrated = _pixels([0.5, 0.5, 0.0])
    assert uncertainty_map(spread, "margin").item() == pytest.approx(0.8)
    assert uncertainty_map(concentrated, "margin").item() == pytest.approx(1.0)
    assert uncertainty_map(concentrated, "entropy").item() == pytest.approx(math.log(2) / math.log(3))
    assert uncertainty_map(spread, "entropy").item() > uncertainty_map(concentrated, "entropy").item()


def test_confidence_is_one_minus_the_mean_and_batches_keep_their_shapes():
    single = _pixels([0.75, 0.25], [1.0, 0.0], [0.5, 0.5], height=2)  # 2x2x3
    batch = torch.stack([single, single.flip(0), torch.full_like(single, 0.5)])
    for by in MEASURES:
        per_pixel = uncertainty_map(single, by)
        assert per_pixel.shape == (2, 3) and per_pixel.dtype == torch.float32
        value = confidence(single, by)
        assert isinstance(value, float) and value == pytest.approx(1.0 - float(per_pixel.mean()))
        maps = uncertainty_map(batch, by)
        assert maps.shape == (3, 2, 3) and torch.allclose(maps[0], per_pixel)
        scores = confidence(batch, by)
        assert isinstance(scores, torch.Tensor) and scores.shape == (3,)
        assert torch.allclose(scores, 1.0 - maps.flatten(1).mean(1))
        assert scores[0].item() == pytest.approx(value) and scores[2].item() == pytest.approx(0.0, abs=1e-6)
    expected = 1.0 - (0.5 + 0.0 + 1.0) / 3  # margin of the columns 0.75/0.25, 1/0, 0.5/0.5
    assert confidence(single, "margin") == pytest.approx(expected)


def test_arrays_float64_inference_tensors_and_one_class():
    probs = np.array([[[0.75]], [[0.25]]])  # float64 CxHxW
    result = uncertainty_map(probs, "entropy")
    assert result.dtype == torch.float64 and result.item() == pytest.approx(0.811278, abs=1e-6)
    with torch.inference_mode():
        frozen = _pixels([0.75, 0.25])
    assert uncertainty_map(frozen, "margin").item() == pytest.approx(0.5)
    one_class = torch.ones(2, 1, 3, 4)
    for by in MEASURES:
        assert torch.equal(uncertainty_map(one_class, by), torch.zeros(2, 3, 4))
    slightly_off = _pixels([1e-9, 1.0 + 1e-6])  # rounding never leaves [0, 1]
    assert 0.0 <= uncertainty_map(slightly_off, "entropy").item() <= 1.0


def test_a_bad_measure_or_shape_is_refused():
    probs = torch.full((2, 3, 3), 0.5)
    for call in (uncertainty_map, confidence):
        with pytest.raises(ValueError, match="entropy, margin"):
            call(probs, "variance")
    with pytest.raises(ValueError, match="CxHxW"):
        uncertainty_map(torch.ones(2, 3))
    assert rank_command.MEASURES == MEASURES  # the CLI's copy, kept to not import torch for --help


# -- rank_images and write_ranking_csv --------------------------------------------------------


def _ranked(name, score, shares=None):
    return RankedImage(
        path=Path(name),
        score=score,
        mean_entropy=score,
        mean_margin=1 - score,
        class_shares=shares or {c: 1 / 3 for c in CLASSES},
    )


def test_ranking_is_by_score_and_matches_the_probabilities(tmp_path, segmenter):
    paths = [_image(tmp_path / f"{name}.png", seed=i) for i, name in enumerate("cab")]
    paths.append(_image(tmp_path / "d.png", size=(17, 23), seed=9))  # another size: its own batch
    for by in MEASURES:
        ranking = rank_images(segmenter, paths, by=by, batch_size=2, progress=False)
        assert [r.score for r in ranking] == sorted((r.score for r in ranking), reverse=True)
        assert sorted(r.path for r in ranking) == sorted(paths)
        for r in ranking:
            probs = torch.from_numpy(segmenter.probabilities(r.path))
            assert r.mean_entropy == pytest.approx(1 - confidence(probs, "entropy"), abs=1e-5)
            assert r.mean_margin == pytest.approx(confidence(probs, "margin"), abs=1e-5)
            assert r.score == (r.mean_entropy if by == "entropy" else 1 - r.mean_margin)
            assert list(r.class_shares) == CLASSES and sum(r.class_shares.values()) == pytest.approx(1.0)
            labels = segmenter(r.path)
            for index, name in enumerate(CLASSES):
                assert r.class_shares[name] == pytest.approx(float((labels == index).mean()))
        again = rank_images(segmenter, list(reversed(paths)), by=by, batch_size=3, progress=False)
        assert [r.path for r in again] == [r.path for r in ranking]


def test_equal_scores_are_ordered_by_path(tmp_path, segmenter):
    first = _image(tmp_path / "b.png", seed=4)
    same = [tmp_path / "a.png", tmp_path / "c.png"]
    for path in same:
        path.write_bytes(first.read_bytes())  # the same pixels: the same scores
    other = _image(tmp_path / "z.png", seed=5)
    ranking = rank_images(segmenter, [same[1], other, first, same[0]], batch_size=1, progress=False)
    tied = [r for r in ranking if r.path != other]
    assert len({r.score for r in tied}) == 1
    assert [r.path.name for r in tied] == ["a.png", "b.png", "c.png"]


def test_unreadable_images_are_reported_and_skipped_or_raised(tmp_path, segmenter):
    good = _image(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image\n")
    messages = []
    ranking = rank_images(segmenter, [bad, good], progress=False, on_error=messages.append)
    assert [r.path for r in ranking] == [good]
    assert len(messages) == 1 and "bad.png" in messages[0]
    with pytest.raises(ImageReadError, match=r"bad\.png"):
        rank_images(segmenter, [good, bad], progress=False)
    with pytest.raises(ValueError, match="entropy, margin"):
        rank_images(segmenter, [good], by="least_confident")


def test_csv_has_a_row_per_image_and_a_share_column_per_class(tmp_path):
    ranking = [_ranked("x/a.png", 0.25, {"sky": 0.5, "road": 0.25, "car": 0.25}), _ranked("b.png", 0.125)]
    out = tmp_path / "deeper" / "ranking.csv"
    write_ranking_csv(ranking, out)
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["rank", "image", "score", "mean_entropy", "mean_margin", "share_sky", "share_road", "share_car"]
    assert len(rows) == 3
    assert rows[1] == ["1", "x/a.png", "0.250000", "0.250000", "0.750000", "0.500000", "0.250000", "0.250000"]
    assert rows[2][:3] == ["2", "b.png", "0.125000"]
    assert [p.name for p in out.parent.iterdir()] == ["ranking.csv"]  # no temporary file left
    write_ranking_csv([], out, class_names=CLASSES)
    assert out.read_text().splitlines() == ["rank,image,score,mean_entropy,mean_margin,share_sky,share_road,share_car"]


# -- the command line -------------------------------------------------------------------------


def test_rank_command_writes_the_csv_and_prints_the_top(tmp_path, weights, segmenter, capsys):
    folder = tmp_path / "unlabelled"
    paths = [_image(folder / f"{name}.png", seed=i) for i, name in enumerate(("a", "b", "c"))]
    out = tmp_path / "ranking.csv"
    argv = ["rank", str(folder), "--weights", weights, "--by", "margin", "--output", str(out)]
    assert main([*argv, "--precision", "fp32", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and [row["rank"] for row in rows] == ["1", "2", "3"]
    assert sorted(row["image"] for row in rows) == sorted(map(str, paths))
    assert list(rows[0]) == ["rank", "image", "score", "mean_entropy", "mean_margin", *(f"share_{c}" for c in CLASSES)]
    expected = rank_images(segmenter, paths, by="margin", progress=False)
    assert [row["image"] for row in rows] == [str(r.path) for r in expected]
    for row, r in zip(rows, expected, strict=True):
        assert float(row["score"]) == pytest.approx(r.score, abs=2e-6)
        assert len(row["score"].split(".")[1]) == 6
    assert "ranked 3 image(s) by margin" in printed and str(out) in printed
    assert f"1. {float(rows[0]['score']):.4f}  {rows[0]['image']}" in printed


def test_missing_input_and_bad_output_are_one_line_errors(tmp_path, weights, capsys):
    image = _image(tmp_path / "a.png")
    cases = [
        ([str(tmp_path / "missing.png")], tmp_path / "r.csv", "missing.png"),
        ([str(image)], tmp_path, "is a folder"),
        ([str(image)], image, "is one of the input images"),
        ([str(image)], tmp_path / "r.csv", "--batch-size", ["--batch-size", "0"]),
    ]
    for case in cases:
        inputs, output, message, *extra = case
        argv = ["rank", *inputs, "--weights", weights, "-o", str(output), *(extra[0] if extra else [])]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("refineseg rank: error:") and message in err[0], err
    assert not (tmp_path / "r.csv").exists()
    assert image.read_bytes()[:4] == b"\x89PNG"


def test_an_unreadable_image_fails_its_line_and_the_rest_is_ranked(tmp_path, weights, capsys):
    good = _image(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "empty.png").write_bytes(b"")
    out = tmp_path / "ranking.csv"
    assert main(["rank", str(tmp_path / "in"), "--weights", weights, "-o", str(out), "--no-progress"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "empty.png" in err[0]
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and str(good) in rows[1]


def test_the_weights_and_output_are_required_and_help_explains_the_score(capsys):
    with pytest.raises(SystemExit) as info:
        main(["rank", "photos/", "--output", "r.csv"])
    assert info.value.code == 2 and "--weights" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["rank", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for words in ("--by", "entropy", "margin", "Label Studio", "Uncertainty sampling", "share_<class>", "--backend"):
        assert words in out, words
