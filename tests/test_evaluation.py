import json
import re
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import refineseg.models
from refineseg._extras import install_hint
from refineseg.cli import main
from refineseg.evaluation import metrics_from_confusion, predict_probabilities, sliding_window_probabilities

from .fixtures import make_camvid


def test_metrics_from_a_known_confusion_matrix():
    # rows: ground truth, columns: prediction; class 2 never occurs
    cm = torch.tensor([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
    m = metrics_from_confusion(cm)
    iou0, iou1 = 8 / (10 + 9 - 8), 9 / (10 + 11 - 9)
    assert m.per_class_iou[0] == pytest.approx(iou0) and m.per_class_iou[1] == pytest.approx(iou1)
    assert m.per_class_iou[2] != m.per_class_iou[2]  # NaN: absent class
    assert m.miou == pytest.approx((iou0 + iou1) / 2)
    assert m.pixel_accuracy == pytest.approx(17 / 20)
    assert m.mean_accuracy == pytest.approx((0.8 + 0.9) / 2)
    assert m.fwiou == pytest.approx(0.5 * iou0 + 0.5 * iou1)


def test_miou_agrees_with_torchmetrics():
    from torchmetrics.functional.classification import multiclass_jaccard_index

    from refineseg.evaluation import confusion_matrix_metric

    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (2, 30, 30), generator=gen)
    target[:, :3] = 255
    preds = torch.where(
        torch.rand(target.shape, generator=gen) < 0.6,
        target.clamp(max=4),
        torch.randint(0, 5, target.shape, generator=gen),
    )
    metric = confusion_matrix_metric(5)
    metric.update(preds, target)
    ours = metrics_from_confusion(metric.compute()).miou
    reference = multiclass_jaccard_index(preds, target, num_classes=5, ignore_index=255, average="macro")
    assert ours == pytest.approx(float(reference), abs=1e-6)


def _pointwise_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, 4, 1).eval()


def test_sliding_window_equals_whole_image_for_a_pointwise_model():
    model, image = _pointwise_model(), torch.randn(1, 3, 50, 77)
    with torch.no_grad():
        whole = model(image).softmax(1)
        assert torch.allclose(sliding_window_probabilities(model, image, crop_size=32), whole, atol=1e-6)
        assert torch.allclose(
            sliding_window_probabilities(model, image[..., :20, :9], crop_size=32), whole[..., :20, :9], atol=1e-6
        )


def test_flip_and_scales_average_probabilities():
    model, image = _pointwise_model(), torch.randn(1, 3, 24, 36)
    single = predict_probabilities(model, image)
    assert torch.allclose(predict_probabilities(model, image, flip=True), single, atol=1e-6)
    multi = predict_probabilities(model, image, scales=(0.5, 1.0, 1.5), flip=True, crop_size=16)
    assert multi.shape == single.shape and torch.allclose(multi.sum(1), torch.ones(1, 24, 36), atol=1e-5)
    with pytest.raises(ValueError, match="Nx3xHxW"):
        predict_probabilities(model, image[0])


def test_a_batch_gives_each_image_its_own_probabilities():
    model, images = _pointwise_model(), torch.randn(3, 3, 20, 44)
    batched = predict_probabilities(model, images, scales=(0.5, 1.0), flip=True, crop_size=16)
    for i in range(3):
        alone = predict_probabilities(model, images[i : i + 1], scales=(0.5, 1.0), flip=True, crop_size=16)
        assert torch.allclose(batched[i : i + 1], alone, atol=1e-6)


def test_cli_evaluate_writes_json_and_confusion_png(tmp_path, capsys):
    root = make_camvid(tmp_path / "camvid", splits=("val",), n=2, size=(40, 56))
    weights = refineseg.save_model(
        refineseg.models.lw_refinenet_mobilenet_v2(num_classes=11), tmp_path / "m.safetensors"
    )
    out = tmp_path / "metrics.json"
    argv = [
        "evaluate",
        "--weights",
        str(weights),
        "--dataset",
        "camvid",
        "--root",
        str(root),
        "--split",
        "val",
        "--output",
        str(out),
        "--confusion",
        str(tmp_path / "cm.png"),
        "--no-progress",
    ]
    assert main([*argv, "--scales", "0.5", "1.0", "--flip"]) == 0
    report = json.loads(out.read_text())
    assert {"miou", "per_class_iou", "pixel_accuracy", "mean_accuracy", "fwiou", "num_images"} <= report.keys()
    assert (
        report["num_images"] == 2 and 0.0 <= report["miou"] <= 1.0 and set(report["per_class_iou"]) >= {"Road", "Sky"}
    )
    with Image.open(tmp_path / "cm.png") as im:
        assert im.format == "PNG" and im.width >= 400 and im.height >= 400  # 11 labelled classes
    assert "mIoU" in capsys.readouterr().out


def _known_result():
    from refineseg.evaluation import EvaluationResult

    cm = torch.tensor([[8, 2, 0], [1, 9, 0], [0, 0, 0]])  # class 2 never occurs
    return EvaluationResult(metrics_from_confusion(cm), cm, ["road", "sky", "bicyclist"], 4, {})


def test_confusion_png_shows_the_row_normalised_matrix(tmp_path, monkeypatch):
    from refineseg import _plot
    from refineseg.evaluation import save_confusion_png

    drawn = []
    save_png = _plot.save_png
    monkeypatch.setattr(_plot, "save_png", lambda figure, path: drawn.append(figure) or save_png(figure, path))
    path = save_confusion_png(_known_result(), tmp_path / "cm.png")
    assert path == tmp_path / "cm.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB" and 300 <= im.width <= 1200 and 300 <= im.height <= 1200
    (figure,) = drawn
    ax = figure.axes[0]
    (heat,) = ax.images
    # rows: ground truth as % of the row; an empty row stays 0 and is marked in its label
    expected = [[80, 20, 0], [10, 90, 0], [0, 0, 0]]
    assert np.allclose(np.asarray(heat.get_array()), expected)
    assert heat.get_clim() == (0.0, 100.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["road", "sky", "bicyclist"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["road", "sky", "bicyclist (no pixels)"]
    assert sorted(t.get_text() for t in ax.texts) == ["10", "20", "80", "90"]  # the cells of at least 0.5%
    assert "mIoU 73.86%" in ax.get_title() and "4 images" in ax.get_title()  # (8/11 + 9/12) / 2
    assert len(figure.axes) == 2  # and its colour bar


def test_confusion_png_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    from refineseg.evaluation import save_confusion_png

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(
        ImportError, match=f"^drawing the confusion matrix needs matplotlib: {re.escape(install_hint('plot'))}$"
    ):
        save_confusion_png(_known_result(), tmp_path / "cm.png")
    assert not list(tmp_path.iterdir())


def test_cli_evaluate_errors(tmp_path, capsys):
    root = make_camvid(tmp_path / "camvid", splits=("val",), n=1)
    wrong = refineseg.save_model(refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3), tmp_path / "w.safetensors")
    base = ["evaluate", "--weights", str(wrong), "--dataset", "camvid", "--root", str(root), "--no-progress"]
    assert main([*base, "--output", str(tmp_path / "m.txt")]) == 1
    assert "expected a .json" in capsys.readouterr().err
    assert main([*base, "--output", str(tmp_path / "m.json")]) == 1
    assert "3 classes" in capsys.readouterr().err and not (tmp_path / "m.json").exists()
