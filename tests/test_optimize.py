"""optimize_for_inference: the same logits from a rearranged model, the original left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import refineseg
from refineseg.inference import optimize
from refineseg.inference.optimize import OptimizationError, SeparableMaxPool2d, fold_batch_norms

from .fixtures import randomize_batch_norms


@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
@pytest.mark.parametrize("shape", [(2, 8, 13, 17), (1, 3, 1, 1), (1, 4, 2, 9), (1, 16, 32, 32)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_separable_max_pool_equals_max_pool_exactly(kernel, shape, channels_last):
    x = torch.randn(*shape) - 3.0  # all negative near the borders too: padding must act as -inf
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = nn.MaxPool2d(kernel, stride=1, padding=kernel // 2)(x)
    got = SeparableMaxPool2d(kernel)(x)
    assert torch.equal(got, expected)
    assert got.is_contiguous(memory_format=torch.channels_last) == channels_last or min(shape[2:]) == 1


def test_separable_max_pool_rejects_even_kernels():
    with pytest.raises(ValueError, match="odd"):
        SeparableMaxPool2d(4)


@pytest.mark.parametrize(
    "name", ["lw_refinenet_mobilenet_v2", "lw_refinenet_mobilenet_v2_torchvision", "refinenet_resnet18"]
)
def test_fold_batch_norms_folds_every_one_and_keeps_the_outputs(name):
    model = refineseg.get_model(name, num_classes=3).eval()
    randomize_batch_norms(model)
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        expected = model(x)
    n_bn = sum(type(m) is nn.BatchNorm2d for m in model.modules())
    assert fold_batch_norms(model) == n_bn > 0
    assert not any(type(m) is nn.BatchNorm2d for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_optimize_leaves_the_model_untouched_and_returns_a_frozen_channels_last_copy():
    model = refineseg.get_model("lw_refinenet_mobilenet_v2", num_classes=4).eval()
    model.meta.class_names = ["a", "b", "c", "d"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimized = refineseg.optimize_for_inference(model)
    assert optimized is not model and type(optimized) is type(model)
    assert optimized.meta.class_names == ["a", "b", "c", "d"] and optimized.num_classes == 4
    assert any(type(m) is nn.BatchNorm2d for m in model.modules())  # the original still has them
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in optimized.parameters())
    assert not optimized.training
    conv = optimized.decoder.laterals[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert any(isinstance(m, SeparableMaxPool2d) for m in optimized.modules())
    assert not any(type(m) is nn.MaxPool2d and m.stride == 1 for m in optimized.modules())


def test_optimize_refuses_a_model_whose_outputs_would_change(monkeypatch):
    monkeypatch.setattr(optimize.SeparableMaxPool2d, "forward", lambda self, x: x)  # a broken rewrite
    model = refineseg.get_model("lw_refinenet_resnet18", num_classes=3).eval()
    with pytest.raises(OptimizationError, match="differ"):
        refineseg.optimize_for_inference(model)


def test_segmenter_optimizes_by_default_and_can_be_told_not_to():
    model = refineseg.get_model("lw_refinenet_mobilenet_v2", num_classes=3)
    randomize_batch_norms(model)
    fast = refineseg.Segmenter(model, precision="fp32")  # exact: the optimisation alone
    plain = refineseg.Segmenter(model, optimize=False)
    assert not any(type(m) is nn.BatchNorm2d for m in fast.model.modules())
    assert any(type(m) is nn.BatchNorm2d for m in plain.model.modules())
    image = (torch.rand(37, 53, 3) * 255).to(torch.uint8).numpy()
    assert np.abs(fast.probabilities(image) - plain.probabilities(image)).max() < 1e-4


def test_in_place_activations_never_overwrite_a_sequentials_input():
    from refineseg.inference.optimize import _inplace_activations

    passthrough = nn.Sequential(nn.Identity(), nn.ReLU())
    after_conv = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Identity(), nn.ReLU6())
    _inplace_activations(nn.Sequential(passthrough, after_conv))
    assert not passthrough[1].inplace and after_conv[2].inplace
    x = torch.randn(1, 2, 3, 3)
    before = x.clone()
    passthrough(x)
    assert torch.equal(x, before)
