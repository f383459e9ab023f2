import math

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from refineseg.backbones import (
    MobileNetV2Backbone,
    MultiScaleBackbone,
    ResNetBackbone,
    TorchvisionMobileNetV2Backbone,
)
from refineseg.backbones.base import resolve_torchvision_weights


def _check_declared(backbone, size=(1, 3, 96, 128), device="cpu"):
    x = torch.randn(size, device=device)
    feats = backbone.to(device)(x)
    assert len(feats) == len(backbone.channels) == len(backbone.reductions)
    for f, c, r, s in zip(feats, backbone.channels, backbone.reductions, backbone.scales, strict=True):
        assert f.shape[1] == c
        h, w = round(size[2] * s), round(size[3] * s)
        assert f.shape[-2:] == (math.ceil(h / r), math.ceil(w / r))


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_resnet_declares_its_real_feature_shapes(depth):
    with torch.device("meta"):
        backbone = ResNetBackbone(depth)
    _check_declared(backbone, device="meta")
    assert backbone.reductions == (4, 8, 16, 32)


@pytest.mark.parametrize("cls", [MobileNetV2Backbone, TorchvisionMobileNetV2Backbone])
def test_mobilenet_v2_declares_six_features(cls):
    backbone = cls().eval()
    _check_declared(backbone)
    assert backbone.channels == (24, 32, 64, 96, 160, 320)
    assert backbone.reductions == (4, 8, 16, 16, 32, 32)


def test_published_mobilenet_layout_expands_the_t1_block_unlike_torchvision():
    ours = MobileNetV2Backbone()
    first = ours.stages[0][0]
    assert first.expand[0].weight.shape == (32, 32, 1, 1)
    tv = torchvision.models.mobilenet_v2()
    assert len(tv.features[1].conv) == 3  # depthwise, project, bn: no expansion


def test_multiscale_backbone_concatenates_scaled_features():
    backbone = MultiScaleBackbone([ResNetBackbone(18), ResNetBackbone(18)], [1.2, 0.6]).eval()
    assert backbone.scales == (1.2,) * 4 + (0.6,) * 4
    _check_declared(backbone, size=(1, 3, 81, 77))
    assert backbone.encoders[0].conv1.weight.data_ptr() != backbone.encoders[1].conv1.weight.data_ptr()


def test_timm_adapter_reads_channels_and_reductions():
    pytest.importorskip("timm")
    from refineseg.backbones import TimmBackbone

    backbone = TimmBackbone("resnet18").eval()
    assert backbone.channels == (64, 128, 256, 512)
    assert backbone.reductions == (4, 8, 16, 32)
    _check_declared(backbone)
    assert backbone.mean == pytest.approx((0.485, 0.456, 0.406))
    # TensorFlow ports were trained on inputs in [-1, 1]: the model's meta must say so
    assert TimmBackbone("tf_efficientnet_lite0").mean == pytest.approx((0.5, 0.5, 0.5))


def test_resnet_loads_a_local_torchvision_state_dict(tmp_path):
    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)  # includes fc.*, which the encoder drops
    backbone = ResNetBackbone(18, weights=path)
    assert torch.equal(backbone.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    save_file({k: v for k, v in source.state_dict().items()}, tmp_path / "r18.safetensors")
    again = ResNetBackbone(18, weights=tmp_path / "r18.safetensors")
    assert torch.equal(again.conv1.weight, source.conv1.weight)


def test_imagenet_names_resolve_to_torchvision_enums_without_downloading():
    enum, local = resolve_torchvision_weights("resnet50", "imagenet")
    assert enum is torchvision.models.ResNet50_Weights.DEFAULT and local is None
    enum, _ = resolve_torchvision_weights("resnet50", "IMAGENET1K_V1")
    assert enum is torchvision.models.ResNet50_Weights.IMAGENET1K_V1


def test_unknown_weights_name_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="IMAGENET1K_V1"):
        ResNetBackbone(18, weights="no-such-weights")
    with pytest.raises(ValueError, match="depth"):
        ResNetBackbone(19)
