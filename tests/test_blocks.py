import pytest
import torch
import torch.nn.functional as F
from torch import nn

from refineseg.blocks import (
    ChainedResidualPooling,
    LightWeightRefineNetBlock,
    MultiResolutionFusion,
    RefineNetBlock,
    ResidualConvUnit,
)


def _identity_1x1_(conv: nn.Conv2d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(conv.out_channels):
            conv.weight[c, c, conv.kernel_size[0] // 2, conv.kernel_size[1] // 2] = 1.0


def test_rcu_is_identity_when_its_convs_are_zero():
    rcu = ResidualConvUnit(8)
    nn.init.zeros_(rcu.conv1.weight), nn.init.zeros_(rcu.conv1.bias), nn.init.zeros_(rcu.conv2.weight)
    x = torch.randn(2, 8, 9, 11)
    assert torch.equal(rcu(x), x)


def test_rcu_matches_its_definition_and_has_no_batch_norm():
    rcu = ResidualConvUnit(4)
    x = torch.randn(1, 4, 7, 5)
    expected = x + rcu.conv2(F.relu(rcu.conv1(F.relu(x))))
    torch.testing.assert_close(rcu(x), expected)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in rcu.modules())
    assert rcu.conv1.bias is not None and rcu.conv2.bias is None


def test_batch_norm_follows_every_convolution_of_a_block_when_asked():
    plain = RefineNetBlock([8, 4], [32, 16], adaptive_rcus=[2, 0], output_rcus=1, crp_stages=2)
    normed = RefineNetBlock([8, 4], [32, 16], adaptive_rcus=[2, 0], output_rcus=1, crp_stages=2, batch_norm=True)
    convs = [m for m in normed.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in normed.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(norms) == sum(isinstance(m, nn.Conv2d) for m in plain.modules())
    assert all(c.bias is None for c in normed.adapt[0][0].modules() if isinstance(c, nn.Conv2d))
    rcu = normed.output[0].eval()  # inference: the running statistics normalise
    rcu.bn1.running_mean.fill_(0.5)
    x = torch.randn(1, 4, 7, 5)
    expected = x + rcu.bn2(rcu.conv2(F.relu(rcu.bn1(rcu.conv1(F.relu(x))))))
    torch.testing.assert_close(rcu(x), expected)


@pytest.mark.parametrize("stages", [0, 1, 2, 4, 6])
def test_crp_has_the_requested_number_of_stages(stages):
    crp = ChainedResidualPooling(4, stages)
    assert len(crp.convs) == stages
    x = torch.randn(1, 4, 6, 6)
    if stages == 0:
        assert torch.equal(crp(x), F.relu(x))


def test_crp_adds_every_stage_to_the_sum():
    crp = ChainedResidualPooling(3, 3, kernel_size=3)
    for conv in crp.convs:
        _identity_1x1_(conv)
    x = torch.randn(1, 3, 12, 12)
    pool = lambda t: F.max_pool2d(t, 5, stride=1, padding=2)  # noqa: E731
    r = F.relu(x)
    expected = r + pool(r) + pool(pool(r)) + pool(pool(pool(r)))
    torch.testing.assert_close(crp(x), expected)


def test_crp_orders_differ_and_follow_their_definition():
    pool_conv = ChainedResidualPooling(4, 1, order="pool-conv")
    conv_pool = ChainedResidualPooling(4, 1, order="conv-pool")
    conv_pool.load_state_dict(pool_conv.state_dict())
    x = torch.randn(1, 4, 10, 10)
    r = F.relu(x)
    conv = pool_conv.convs[0]
    torch.testing.assert_close(pool_conv(x), r + conv(F.max_pool2d(r, 5, 1, 2)))
    torch.testing.assert_close(conv_pool(x), r + F.max_pool2d(conv(r), 5, 1, 2))
    assert not torch.allclose(pool_conv(x), conv_pool(x))


def test_crp_rejects_unknown_order():
    with pytest.raises(ValueError, match="order"):
        ChainedResidualPooling(4, 2, order="sideways")  # type: ignore[arg-type]


def test_fusion_upsamples_to_the_largest_input_with_align_corners():
    fusion = MultiResolutionFusion([6, 8], 4, target=0)
    small, large = torch.randn(1, 8, 5, 7), torch.randn(1, 6, 9, 13)
    expected = fusion.convs[0](large) + F.interpolate(
        fusion.convs[1](small), size=(9, 13), mode="bilinear", align_corners=True
    )
    torch.testing.assert_close(fusion([large, small]), expected)


def test_fusion_can_pass_inputs_unprojected():
    fusion = MultiResolutionFusion([4, 4], 4, target=1, kernel_size=1, project=[False, True])
    assert isinstance(fusion.convs[0], nn.Identity)
    with pytest.raises(ValueError, match="unprojected"):
        MultiResolutionFusion([3, 4], 4, target=0, project=[False, True])


def test_refinenet_block_single_input_skips_fusion():
    block = RefineNetBlock([16], [32], adaptive_rcus=[2])
    assert block.fusion is None and len(block.adapt[0]) == 2 and len(block.output) == 3
    assert block([torch.randn(1, 16, 4, 4)]).shape == (1, 16, 4, 4)


def test_refinenet_block_fuses_any_number_of_inputs_to_the_smallest_width():
    block = RefineNetBlock([8, 8, 16], [4, 8, 16], adaptive_rcus=[2, 2, 0], output_rcus=1, crp_stages=2)
    assert block.out_channels == 8
    assert [len(a) for a in block.adapt] == [2, 2, 0]
    out = block([torch.randn(1, 8, 16, 16), torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4)])
    assert out.shape == (1, 8, 16, 16)


def test_light_weight_block_has_only_1x1_convs_and_no_rcus():
    block = LightWeightRefineNetBlock([8, 16], [8, 16], project=[True, True])
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.kernel_size == (1, 1) for c in convs)
    assert not any(isinstance(m, ResidualConvUnit) for m in block.modules())
    assert block([torch.randn(1, 8, 6, 6), torch.randn(1, 16, 3, 3)]).shape == (1, 8, 6, 6)
