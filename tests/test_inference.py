"""Reading any image, and the Segmenter API."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

import refineseg.models
from refineseg.inference import ImageReadError, Segmenter, load_image, read_image_file
from refineseg.palette import default_class_names, default_palette
from refineseg.weights.catalogue import CATALOGUE

H, W = 13, 21  # odd sides on purpose


def _gradient() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 12, y * 19, (x + y) * 7], axis=2).astype(np.uint8)


def _tiny_segmenter(**options) -> Segmenter:
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3)
    model.meta.class_names = ["sky", "road", "car"]
    model.meta.palette = [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
    return Segmenter(model, **options)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "I", "F", "1"])
def test_every_image_mode_reads_as_upright_8bit_rgb(tmp_path, mode):
    rgb = _gradient()
    source = Image.fromarray(rgb)
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(source.convert("L")).astype(np.float64)
        top = {"I;16": 65535, "I": 65535, "F": 1.0}[mode]
        values = grey / 255.0 * top
        im = Image.fromarray(values.astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
        if mode == "I;16":
            assert im.mode == "I;16"
        suffix = ".png" if mode == "I;16" else ".tiff"
    else:
        im, suffix = source.convert(mode), (".tiff" if mode == "CMYK" else ".png")
    path = tmp_path / f"image{suffix}"
    im.save(path)
    out = read_image_file(path)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    if mode in ("RGB", "RGBA"):
        assert np.array_equal(out, rgb)
    if mode in ("I;16", "I", "F"):  # scaled to the 8-bit range, not clipped to white
        expected = np.asarray(source.convert("L"))
        assert np.abs(out[..., 0].astype(int) - expected).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    rgb = _gradient()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    out = read_image_file(tmp_path / "rotated.jpg")
    assert out.shape == (W, H, 3)


def test_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "dot.png")
    assert read_image_file(tmp_path / "dot.png").tolist() == [[[10, 20, 30]]]
    labels = _tiny_segmenter()(tmp_path / "dot.png")
    assert labels.shape == (1, 1) and labels.dtype == np.uint8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am text\n", "not a readable image"),
        (None, "no such file"),
        ("truncated", "not a readable image"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content == "truncated":
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        read_image_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_pixel_limit(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match="more than the limit of 1,000"):
        read_image_file(tmp_path / "big.png", max_pixels=1000)


def test_arrays_tensors_and_pil_images_agree():
    rgb = _gradient()
    assert np.array_equal(load_image(Image.fromarray(rgb)), rgb)
    assert np.array_equal(load_image(torch.from_numpy(rgb).permute(2, 0, 1)), rgb)
    assert np.array_equal(load_image(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255), rgb)
    assert np.array_equal(load_image(rgb.astype(np.uint16) * 257), rgb)
    assert np.array_equal(load_image(np.dstack([rgb, np.full((H, W), 7, np.uint8)])), rgb)
    assert load_image(rgb[..., 0]).shape == (H, W, 3)
    for bad in (np.zeros((2, 3, 5, 4)), np.zeros((0, 4, 3), np.uint8), np.full((2, 2), -1), "x" * 0 or 3.5):
        with pytest.raises(ImageReadError):
            load_image(bad)


def test_segmenter_labels_overlay_and_shares():
    seg = _tiny_segmenter()
    rgb = _gradient()
    labels = seg(rgb)
    assert labels.shape == (H, W) and labels.dtype == np.uint8 and labels.max() < 3
    probs = seg.probabilities(rgb)
    assert probs.shape == (3, H, W) and np.allclose(probs.sum(0), 1, atol=1e-5)
    assert np.array_equal(probs.argmax(0), labels)
    overlay = seg.overlay(rgb)
    assert overlay.mode == "RGB" and overlay.size == (W, H)
    expected = (rgb.astype(np.float32) + np.asarray(seg.palette, np.float32)[labels]) / 2
    assert np.abs(np.asarray(overlay).astype(np.float32) - expected).max() <= 1.0  # PIL's blend truncates
    shares = seg.class_shares(labels)
    assert set(shares) <= {"sky", "road", "car"} and abs(sum(shares.values()) - 1) < 1e-9
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    png = seg.label_image(labels)
    assert png.mode == "P" and png.getpalette()[:6] == [70, 130, 180, 128, 64, 128]
    assert np.array_equal(np.asarray(png), labels)


def test_a_model_without_names_or_colours_gets_the_default_ones():
    seg = Segmenter(refineseg.models.lw_refinenet_mobilenet_v2(num_classes=3))
    assert seg.class_names == ["class_0", "class_1", "class_2"] == list(default_class_names(3))
    assert seg.palette == list(default_palette(3))


def test_predict_batch_equals_one_at_a_time_for_mixed_sizes():
    seg = _tiny_segmenter()
    rng = np.random.default_rng(1)
    images = [
        rng.integers(0, 255, size, dtype=np.uint8) for size in [(20, 28, 3), (17, 9, 3), (20, 28, 3), (20, 28, 3)]
    ]
    batched = seg.predict_batch(images, batch_size=2)
    for image, labels in zip(images, batched, strict=True):
        alone = seg(image)
        assert labels.shape == image.shape[:2]
        # batched convolutions may round differently; the arg-max agrees almost everywhere
        assert (labels == alone).mean() > 0.99


def test_large_images_run_in_bounded_windows():
    seg = _tiny_segmenter(whole_image_pixels=32 * 32, tile_size=32)
    seen: list[tuple[int, int]] = []
    seg.model.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[-2:])))
    labels = seg(np.random.default_rng(2).integers(0, 255, (45, 100, 3), dtype=np.uint8))
    assert labels.shape == (45, 100) and len(seen) > 1 and max(h * w for h, w in seen) <= 32 * 32


def test_segmenter_rejects_bad_options():
    with pytest.raises(ValueError, match="scales"):
        _tiny_segmenter(scales=(0.0,))
    with pytest.raises(ValueError, match="tile_size"):
        _tiny_segmenter(tile_size=4)
    with pytest.raises(ValueError, match="alpha"):
        _tiny_segmenter().overlay(_gradient(), alpha=2.0)


def test_shipped_camvid_model_loads_offline_with_its_classes():
    seg = Segmenter.from_pretrained("camvid")
    assert CATALOGUE.get("camvid").path.stat().st_size < 30_000_000
    assert seg.class_names[:3] == ["Sky", "Building", "Pole"] and seg.num_classes == 11
    assert seg.model.arch == CATALOGUE.get("camvid").arch
    assert seg.model.meta.mean == seg.model.encoder.mean  # preprocessing follows the encoder's pretraining
    labels = seg(np.full((24, 32, 3), 128, np.uint8))
    assert labels.shape == (24, 32)


def test_unknown_weights_name_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="neither a weights file nor a weights name"):
        Segmenter.from_pretrained("no_such_model")
