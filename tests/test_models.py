"""The shared model contract, run for every builder and cascade variant."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.export import Dim

import refineseg.models
from refineseg.blocks import ResidualConvUnit
from refineseg.models.base import cascade_blocks

from .fixtures import randomize_batch_norms

PUBLISHED_PARAMETERS = {
    "refinenet_resnet101": 118_052_437,
    "lw_refinenet_resnet50": 27_357_525,
    "lw_refinenet_resnet101": 46_349_653,
    "lw_refinenet_resnet152": 61_993_301,
    "lw_refinenet_mobilenet_v2": 3_284_565,
}

# (builder, options): every registered builder plus the paper's cascade variants
CASES = [(name, {}) for name in refineseg.list_models() if "timm" not in name] + [
    ("refinenet_resnet18", {"cascade": "single"}),
    ("refinenet_resnet18", {"cascade": "2-cascade"}),
    ("refinenet_resnet18", {"image_scales": (1.2, 0.6)}),
    ("refinenet_resnet18", {"crp_order": "conv-pool", "crp_stages": 2}),
    ("refinenet_efficientnet_lite0", {"batch_norm": True}),
    ("refinenet_efficientnet_lite0", {"finest_reduction": 2, "batch_norm": True}),
    ("lw_refinenet_timm", {"model_name": "resnet18"}),
    ("refinenet_timm", {"model_name": "mobilenetv3_small_100"}),
]
NUM_CLASSES = 5


def _id(case):
    name, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


@pytest.fixture(scope="module", params=CASES, ids=[_id(c) for c in CASES])
def case(request):
    name, options = request.param
    if "timm" in name:
        pytest.importorskip("timm")
    torch.manual_seed(0)
    model = refineseg.get_model(name, num_classes=NUM_CLASSES, **options).eval()
    return name, options, model


class TestModelContract:
    """What every model promises: the same tests for every builder."""

    @pytest.mark.parametrize("size", [(64, 64), (45, 67), (33, 97), (1, 1), (7, 5)])
    def test_forward_returns_full_size_logits(self, case, size):
        _, _, model = case
        with torch.no_grad():
            out = model(torch.randn(1, 3, *size))
        assert out.shape == (1, NUM_CLASSES, *size)
        assert torch.isfinite(out).all()

    def test_lowres_logits_are_at_the_finest_level(self, case):
        _, options, model = case
        with torch.no_grad():
            out = model.forward_lowres(torch.randn(1, 3, 64, 96))
        scale = max(options.get("image_scales", (1.0,)))
        finest = options.get("finest_reduction", 4)  # a quarter, or a half with the 1/2 level
        expected = [math.ceil(round(side * scale) / finest) for side in (64, 96)]
        assert out.shape == (1, NUM_CLASSES, *expected)

    def test_backward_reaches_every_parameter(self, case):
        _, _, model = case
        model.train()
        try:
            model(torch.randn(2, 3, 48, 40)).logsumexp(1).mean().backward()
            missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
            assert not missing
        finally:
            model.zero_grad(set_to_none=True)
            model.eval()

    def test_save_load_round_trip_is_bit_exact(self, case, tmp_path):
        name, _, model = case
        model.meta.class_names = [f"class{i}" for i in range(NUM_CLASSES)]
        path = refineseg.save_model(model, tmp_path / "m.safetensors")
        loaded = refineseg.load_model(path)
        assert type(loaded) is type(model) and loaded.arch == name
        original = model.state_dict()
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, original[key]), key
        assert loaded.meta.class_names == model.meta.class_names
        x = torch.randn(1, 3, 37, 51)
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x))

    @pytest.mark.parametrize("size", [(45, 67), (7, 5)])
    def test_optimized_for_inference_gives_the_same_logits(self, case, size):
        name, _, model = case
        model = copy.deepcopy(model)
        randomize_batch_norms(model)
        optimized = refineseg.optimize_for_inference(model, check_size=None)
        if "timm" not in name:  # timm's own layers are left as they are
            assert not any(type(m) is nn.BatchNorm2d for m in optimized.modules())
        x = torch.randn(2, 3, *size)
        with torch.inference_mode():
            expected, got = model(x), optimized(x)
        assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()

    def test_export_with_dynamic_size_matches_eager(self, case):
        _, _, model = case
        # from 64 px up, no feature map of any encoder (the 0.6-scale one too) has size 1
        dims = {"x": {2: Dim("height", min=64, max=2048), 3: Dim("width", min=64, max=2048)}}
        program = torch.export.export(model, (torch.randn(1, 3, 96, 96),), dynamic_shapes=dims)
        x = torch.randn(1, 3, 101, 77)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMETERS))
def test_parameter_counts_equal_the_published_models(name):
    with torch.device("meta"):
        model = refineseg.get_model(name, num_classes=21)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS[name]


def test_builders_are_keyword_only_and_typed():
    import inspect

    from refineseg.models.registry import _BUILDERS

    for name in refineseg.list_models():
        builder = _BUILDERS.get(name)
        if not builder.__module__.startswith("refineseg."):
            continue  # registered by a tool in this process (tools/decoder_comparison.py's smp models)
        assert getattr(refineseg.models, name) is builder, name
        signature = inspect.signature(builder)
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in signature.parameters.values()), name
        assert signature.return_annotation != inspect.Signature.empty


def test_get_model_rejects_unknown_names_listing_the_known_ones():
    with pytest.raises(ValueError, match="lw_refinenet_mobilenet_v2"):
        refineseg.get_model("refinenet_resnet7")


def test_num_classes_sets_the_classifier():
    model = refineseg.models.lw_refinenet_mobilenet_v2(num_classes=11)
    assert model.num_classes == 11 and model.head.classifier.out_channels == 11


def test_cascade_variants_have_the_papers_structure():
    assert cascade_blocks((4, 8, 16, 32), "4-cascade") == [[3], [2], [1], [0]]
    assert cascade_blocks((4, 8, 16, 32), "2-cascade") == [[2, 3], [0, 1]]
    assert cascade_blocks((4, 8, 16, 32), "single") == [[0, 1, 2, 3]]
    two_scale = refineseg.models.refinenet_resnet18(image_scales=(1.2, 0.6))
    assert two_scale.decoder.cascade == ((3, 7), (2, 6), (1, 5), (0, 4))
    single = refineseg.models.refinenet_resnet18(cascade="single").decoder.blocks
    assert len(single) == 1 and [len(a) for a in single[0].adapt] == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="cascade"):
        refineseg.models.refinenet_resnet18(cascade="3-cascade")  # type: ignore[arg-type]


@pytest.mark.parametrize("half_width,expected", [(None, 32), (16, 16)])
def test_the_half_resolution_level_is_a_fifth_block_at_its_own_width(half_width, expected):
    options = {} if half_width is None else {"half_width": half_width}
    model = refineseg.models.refinenet_efficientnet_lite0(num_classes=3, finest_reduction=2, **options)
    assert len(model.decoder.blocks) == 5 and model.decoder.out_stride == 2
    assert model.decoder.laterals[0].out_channels == expected  # the 1/2 feature's lateral
    assert model.decoder.out_channels == expected and model.head.classifier.in_channels == expected
    assert [lateral.out_channels for lateral in model.decoder.laterals[1:]] == [64] * 4


def test_published_refinenet_structure():
    with torch.device("meta"):
        model = refineseg.models.refinenet_resnet101()
    decoder = model.decoder
    assert [b.out_channels for b in decoder.blocks] == [512, 256, 256, 256]
    assert [lat.kernel_size for lat in decoder.laterals] == [(3, 3)] * 4
    assert all(len(b.output) == 3 and len(b.pool.convs) == 4 for b in decoder.blocks)
    assert [[len(a) for a in b.adapt] for b in decoder.blocks] == [[2], [2, 0], [2, 0], [2, 0]]
    assert decoder.dropout.p == 0.5 and decoder.dropout_features == {2, 3} and model.head.dropout.p == 0.5
    lw = refineseg.models.lw_refinenet_resnet50()
    assert not any(isinstance(m, ResidualConvUnit) for m in lw.modules())
    convs = [m for m in lw.decoder.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (1, 1) for c in convs) and lw.head.classifier.kernel_size == (3, 3)


def test_weights_conflicting_with_the_file_are_an_error(tmp_path):
    path = refineseg.save_model(
        refineseg.models.refinenet_resnet18(num_classes=3, crp_stages=2), tmp_path / "m.safetensors"
    )
    assert refineseg.models.refinenet_resnet18(weights=path).num_classes == 3
    with pytest.raises(ValueError, match="crp_stages"):
        refineseg.models.refinenet_resnet18(weights=path, crp_stages=4)
    with pytest.raises(ValueError, match="num_classes"):
        refineseg.models.refinenet_resnet18(weights=path, num_classes=4)
    with pytest.raises(ValueError, match="not 'refinenet_resnet34'"):
        refineseg.models.refinenet_resnet34(weights=path)


def test_each_builder_is_a_named_function_made_from_its_row_of_the_table():
    import inspect

    from refineseg.models.builders import ENCODERS, VARIANTS

    assert set(VARIANTS) <= set(refineseg.list_models()) and set(VARIANTS) <= set(refineseg.models.__all__)
    for name, variant in VARIANTS.items():
        builder = getattr(refineseg.models, name)
        assert inspect.isfunction(builder) and (builder.__name__, builder.__qualname__) == (name, name)
        assert builder.__module__ == "refineseg.models.builders" and variant.encoder in ENCODERS
        doc = builder.__doc__ or ""
        assert doc.startswith(variant.summary) and "\nArgs:\n    num_classes: " in doc and "\nReturns:\n" in doc


def test_a_second_builder_under_a_taken_name_is_refused():
    def refinenet_resnet18(**options):  # a plug-in that would silently replace a builder
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="a model named 'refinenet_resnet18' is already registered"):
        refineseg.models.register_model(refinenet_resnet18)
    assert type(refineseg.get_model("refinenet_resnet18", num_classes=2)) is refineseg.models.RefineNet


def test_the_top_level_keeps_few_names_and_warns_on_the_old_builder_spelling():
    assert len(refineseg.__all__) <= 15 and "refinenet_resnet101" not in dir(refineseg)
    with pytest.warns(DeprecationWarning, match=r"use refineseg\.models\.lw_refinenet_resnet18"):
        builder = refineseg.lw_refinenet_resnet18  # type: ignore[attr-defined]
    assert builder is refineseg.models.lw_refinenet_resnet18
    code = "import refineseg; print(refineseg.models.lw_refinenet_resnet18.__name__)"  # no import refineseg.models
    run = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "lw_refinenet_resnet18", run.stderr[-2000:]
