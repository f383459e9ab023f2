"""Segmentation losses: hand-computed values, ignore_index, the common contract, and spec parsing."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from refineseg.training.losses import (
    LOSS_DESCRIPTIONS,
    LOSS_NAMES,
    BoundaryCrossEntropyLoss,
    CombinedLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    LovaszSoftmaxLoss,
    OhemCrossEntropyLoss,
    build_loss,
    lovasz_jaccard_gradient,
    parse_loss_spec,
)

# Two pixels, two classes (1 x 2 x 1 x 2) and four pixels, three classes (1 x 3 x 2 x 2).
LOGITS_2 = [[0.0, 2.0], [1.0, -1.0]]  # [class][pixel]
TARGET_2 = [1, 0]
LOGITS_3 = [[2.0, 0.5, -1.0, 1.0], [0.0, 1.5, 0.5, -0.5], [-1.0, 0.0, 1.0, 0.5]]  # [class][pixel], pixels row-major
TARGET_3 = [0, 1, 1, 0]  # class 2 is absent


def as_logits(rows: list[list[float]], height: int, width: int) -> Tensor:
    return torch.tensor(rows, dtype=torch.float32).view(1, len(rows), height, width)


def as_target(labels: list[int], height: int, width: int) -> Tensor:
    return torch.tensor(labels, dtype=torch.int64).view(1, height, width)


def softmax_columns(rows: list[list[float]]) -> list[list[float]]:
    """Plain-Python softmax over classes for each pixel: returns [class][pixel]."""
    out = [[0.0] * len(rows[0]) for _ in rows]
    for i in range(len(rows[0])):
        exps = [math.exp(row[i]) for row in rows]
        for c, e in enumerate(exps):
            out[c][i] = e / sum(exps)
    return out


LOSS_FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "ce": CrossEntropyLoss,
    "ce_weighted": lambda: CrossEntropyLoss(torch.tensor([0.5, 2.0, 1.0])),
    "focal": FocalLoss,
    "focal_weighted_gamma_half": lambda: FocalLoss(0.5, torch.tensor([0.5, 2.0, 1.0])),
    "dice": DiceLoss,
    "dice_smooth": lambda: DiceLoss(smooth=1.0),
    "lovasz": LovaszSoftmaxLoss,
    "ohem": OhemCrossEntropyLoss,
    "ohem_weighted_keep_half": lambda: OhemCrossEntropyLoss(0.5, 0.5, torch.tensor([0.5, 2.0, 1.0])),
    "boundary": BoundaryCrossEntropyLoss,
    "boundary_weighted_radius_1": lambda: BoundaryCrossEntropyLoss(1, 2.0, torch.tensor([0.5, 2.0, 1.0])),
    "combined": lambda: build_loss("ce+0.5*dice+0.3*focal+0.2*lovasz"),
}
all_losses = pytest.mark.parametrize("make_loss", list(LOSS_FACTORIES.values()), ids=list(LOSS_FACTORIES))
# the losses of each pixel alone: the same on any layout of the same pixels (the boundary loss
# looks at each pixel's neighbours, so its ignored pixels are tested on their own below)
PIXELWISE = {name: make for name, make in LOSS_FACTORIES.items() if not name.startswith("boundary")}
pixelwise_losses = pytest.mark.parametrize("make_loss", list(PIXELWISE.values()), ids=list(PIXELWISE))


# --- hand-computed values -------------------------------------------------------------------------


def test_cross_entropy_hand_computed() -> None:
    p = softmax_columns(LOGITS_2)
    nll = [-math.log(p[t][i]) for i, t in enumerate(TARGET_2)]
    logits, target = as_logits(LOGITS_2, 1, 2), as_target(TARGET_2, 1, 2)
    assert CrossEntropyLoss()(logits, target).item() == pytest.approx(sum(nll) / 2, rel=1e-6)
    w = [0.25, 3.0]
    expected = (w[1] * nll[0] + w[0] * nll[1]) / (w[1] + w[0])
    assert CrossEntropyLoss(torch.tensor(w))(logits, target).item() == pytest.approx(expected, rel=1e-6)


# OHEM keeping every pixel, the boundary loss with no boost: each weighs every pixel alike
CROSS_ENTROPY_CASES = {
    "ohem_keeping_every_pixel": lambda weight: OhemCrossEntropyLoss(1.0, 1.0, weight),
    "boundary_with_no_boost": lambda weight: BoundaryCrossEntropyLoss(2, 0.0, weight),
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("make_loss", list(CROSS_ENTROPY_CASES.values()), ids=list(CROSS_ENTROPY_CASES))
def test_reweighting_losses_at_their_limit_are_cross_entropy_exactly(
    make_loss: Callable[[Tensor | None], nn.Module], weighted: bool
) -> None:
    weight = torch.tensor([0.5, 2.0, 1.0]) if weighted else None
    logits, target = torch.randn(2, 3, 4, 5), torch.randint(0, 3, (2, 4, 5))
    torch.testing.assert_close(make_loss(weight)(logits, target), CrossEntropyLoss(weight)(logits, target))


def test_ohem_keeps_the_hard_pixels_or_the_hardest_fraction() -> None:
    probs = softmax_columns(LOGITS_3)
    target_probs = [probs[t][i] for i, t in enumerate(TARGET_3)]  # 0.84, 0.63, 0.35, 0.55 (pixels 0-3)
    losses = [-math.log(p) for p in target_probs]
    logits, target = as_logits(LOGITS_3, 2, 2), as_target(TARGET_3, 2, 2)
    # under 0.6: pixels 2 and 3, more than a quarter (one pixel) of the four
    assert OhemCrossEntropyLoss(0.6, 0.25)(logits, target).item() == pytest.approx((losses[2] + losses[3]) / 2)
    # under 0.4: pixel 2 alone, fewer than half (two pixels): the two hardest, 2 and 3
    assert OhemCrossEntropyLoss(0.4, 0.5)(logits, target).item() == pytest.approx((losses[2] + losses[3]) / 2)
    # the weighted mean over the kept pixels, as F.cross_entropy's: class 1 (pixel 2) weighs 2, class 0 (pixel 3) 0.5
    weighted = OhemCrossEntropyLoss(0.6, 0.25, torch.tensor([0.5, 2.0, 1.0]))(logits, target).item()
    assert weighted == pytest.approx((2.0 * losses[2] + 0.5 * losses[3]) / 2.5)
    # the easy pixels get no gradient
    logits.requires_grad_()
    OhemCrossEntropyLoss(0.6, 0.25)(logits, target).backward()
    assert logits.grad is not None
    assert torch.equal(logits.grad[..., 0, :], torch.zeros(1, 3, 2))
    assert logits.grad[..., 1, :].abs().sum() > 0


def test_boundary_weights_the_pixels_next_to_another_class() -> None:
    logits = torch.randn(1, 3, 1, 6)
    target = torch.tensor([[[0, 0, 0, 1, 1, 2]]])
    losses = F.cross_entropy(logits, target, reduction="none").view(-1).tolist()
    # radius 1: pixels 2-5 have another class beside them, 0 and 1 do not
    expected = (losses[0] + losses[1] + 4 * sum(losses[2:])) / (2 + 4 * 4)
    assert BoundaryCrossEntropyLoss(1, 3.0)(logits, target).item() == pytest.approx(expected, rel=1e-6)
    # radius 2 reaches pixel 1 too; the class weights multiply the boundary's
    weight = torch.tensor([0.5, 2.0, 1.0])
    b = [1, 4, 4, 4, 4, 4]
    w = [b[i] * weight[t].item() for i, t in enumerate(target.view(-1).tolist())]
    expected = sum(wi * li for wi, li in zip(w, losses, strict=True)) / sum(w)
    assert BoundaryCrossEntropyLoss(2, 3.0, weight)(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_boundary_ignored_pixels_are_no_class_and_their_logits_do_not_matter() -> None:
    target = torch.tensor([[[0, 0, 255, 1, 1], [0, 0, 255, 1, 1]]])
    logits = torch.randn(1, 3, 2, 5)
    wild = logits.clone()
    wild[..., 2] = 100 * torch.randn(1, 3, 2)
    loss = BoundaryCrossEntropyLoss(1, 4.0)
    # the void column keeps classes 0 and 1 apart: no pixel has another class within 1 pixel
    torch.testing.assert_close(loss(logits, target), CrossEntropyLoss()(logits, target))
    torch.testing.assert_close(loss(wild, target), loss(logits, target))
    # within 2 pixels they meet across it: columns 1 and 3 are near a boundary
    assert BoundaryCrossEntropyLoss(2, 4.0)(logits, target) != CrossEntropyLoss()(logits, target)


def test_focal_hand_computed() -> None:
    p = softmax_columns(LOGITS_3)
    w = [0.5, 2.0, 1.0]
    gamma = 2.0
    terms = [-w[t] * (1 - p[t][i]) ** gamma * math.log(p[t][i]) for i, t in enumerate(TARGET_3)]
    expected = sum(terms) / sum(w[t] for t in TARGET_3)
    loss = FocalLoss(gamma, torch.tensor(w))(as_logits(LOGITS_3, 2, 2), as_target(TARGET_3, 2, 2))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    unweighted = sum(-((1 - p[t][i]) ** gamma) * math.log(p[t][i]) for i, t in enumerate(TARGET_3)) / 4
    loss = FocalLoss()(as_logits(LOGITS_3, 2, 2), as_target(TARGET_3, 2, 2))
    assert loss.item() == pytest.approx(unweighted, rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_focal_with_gamma_zero_is_cross_entropy_exactly(weighted: bool) -> None:
    logits = torch.randn(2, 5, 7, 6)
    target = torch.randint(0, 5, (2, 7, 6))
    target[0, :3] = 255
    weight = torch.rand(5) + 0.1 if weighted else None
    expected = F.cross_entropy(logits, target, weight=weight, ignore_index=255)
    assert torch.equal(FocalLoss(0.0, weight)(logits, target), expected)
    assert torch.equal(CrossEntropyLoss(weight)(logits, target), expected)


@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_dice_hand_computed_over_present_classes(smooth: float) -> None:
    p = softmax_columns(LOGITS_3)
    losses = []
    for c in sorted(set(TARGET_3)):  # class 2 is absent from the target: left out
        intersection = sum(p[c][i] for i, t in enumerate(TARGET_3) if t == c)
        cardinality = sum(p[c]) + TARGET_3.count(c)
        losses.append(1 - (2 * intersection + smooth) / (cardinality + smooth))
    loss = DiceLoss(smooth=smooth)(as_logits(LOGITS_3, 2, 2), as_target(TARGET_3, 2, 2))
    assert loss.item() == pytest.approx(sum(losses) / len(losses), rel=1e-6)


def test_dice_small_class_counts_as_much_as_a_large_one() -> None:
    # One pixel of class 1 among three of class 0, all predicted as class 0 with certainty:
    # class 0 Dice = 2*3/(4+3) = 6/7, class 1 Dice = 0, loss = ((1 - 6/7) + 1) / 2 = 4/7.
    logits = as_logits([[50.0, 50.0, 50.0, 50.0], [0.0, 0.0, 0.0, 0.0]], 1, 4)
    loss = DiceLoss()(logits, as_target([0, 0, 0, 1], 1, 4))
    assert loss.item() == pytest.approx(4 / 7, rel=1e-6)


def test_lovasz_worked_example() -> None:
    # Three pixels, two classes, labels [1, 0, 1]; logits log(p) give softmax probabilities
    # p1 = [0.75, 0.5, 0.25] for class 1 and p0 = 1 - p1 = [0.25, 0.5, 0.75] for class 0.
    #
    # Class 1: fg = [1, 0, 1], errors |fg - p1| = [0.25, 0.5, 0.75].
    #   Sorted descending: errors [0.75, 0.5, 0.25], fg [1, 0, 1], G = 2.
    #   cumfg = [1, 1, 2] -> intersection G - cumfg = [1, 1, 0]
    #   cumbg = [0, 1, 1] -> union G + cumbg = [2, 3, 3]
    #   J = 1 - intersection/union = [1/2, 2/3, 1] -> gradient (J_k - J_{k-1}) = [1/2, 1/6, 1/3]
    #   loss_1 = 0.75/2 + 0.5/6 + 0.25/3 = 13/24
    # Class 0: fg = [0, 1, 0], errors |fg - p0| = [0.25, 0.5, 0.75].
    #   Sorted descending: errors [0.75, 0.5, 0.25], fg [0, 1, 0], G = 1.
    #   cumfg = [0, 1, 1] -> intersection = [1, 0, 0]; cumbg = [1, 1, 2] -> union = [2, 2, 3]
    #   J = [1/2, 1, 1] -> gradient = [1/2, 1/2, 0]
    #   loss_0 = 0.75/2 + 0.5/2 + 0 = 15/24
    # Both classes present: loss = (13/24 + 15/24) / 2 = 7/12.
    p1 = [0.75, 0.5, 0.25]
    logits = as_logits([[math.log(1 - q) for q in p1], [math.log(q) for q in p1]], 1, 3)
    loss = LovaszSoftmaxLoss()(logits, as_target([1, 0, 1], 1, 3))
    assert loss.item() == pytest.approx(7 / 12, rel=1e-6)


def test_lovasz_perfect_prediction_is_zero() -> None:
    target = as_target([0, 2, 1], 1, 3)
    logits = 40.0 * F.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert DiceLoss()(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def lovasz_reference(probs: list[list[float]], labels: list[int]) -> float:
    """Berman et al. Alg. 1 written directly: per present class, sort errors, sum error * Jaccard increment."""
    losses = []
    for c in sorted(set(labels)):
        fg = [1.0 if t == c else 0.0 for t in labels]
        errors = [abs(f - probs[c][i]) for i, f in enumerate(fg)]
        order = sorted(range(len(labels)), key=lambda i: -errors[i])
        total = sum(fg)
        previous, loss, cum_fg, cum_bg = 0.0, 0.0, 0.0, 0.0
        for i in order:
            cum_fg += fg[i]
            cum_bg += 1 - fg[i]
            jaccard = 1 - (total - cum_fg) / (total + cum_bg)
            loss += errors[i] * (jaccard - previous)
            previous = jaccard
        losses.append(loss)
    return sum(losses) / len(losses)


def test_lovasz_matches_direct_algorithm() -> None:
    logits = torch.randn(2, 4, 3, 5)
    target = torch.randint(0, 3, (2, 3, 5))  # class 3 absent
    probs = F.softmax(logits, 1).permute(1, 0, 2, 3).reshape(4, -1).tolist()
    expected = lovasz_reference(probs, target.reshape(-1).tolist())
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_lovasz_extension_equals_jaccard_loss_at_vertices() -> None:
    # For 0/1 errors (a set M of mispredicted pixels) the Lovasz extension is the Jaccard loss
    # |M| / |G u M| of the class with pixel set G (Berman et al., Sec. 3).
    fg = [1, 1, 0, 1, 0]
    ground = {i for i, f in enumerate(fg) if f}
    for mask in itertools.product([0, 1], repeat=len(fg)):
        wrong = {i for i, m in enumerate(mask) if m}
        order = sorted(range(len(fg)), key=lambda i: -mask[i])
        gradient = lovasz_jaccard_gradient(torch.tensor([[float(fg[i]) for i in order]]))
        extension = sum(float(mask[i]) * g for i, g in zip(order, gradient[0].tolist(), strict=True))
        assert extension == pytest.approx(len(wrong) / len(ground | wrong), abs=1e-6)


# --- ignore_index -------------------------------------------------------------------------------


@pixelwise_losses
@pytest.mark.parametrize("ignore_index", [255, 1])
def test_ignored_pixels_change_nothing(make_loss: Callable[[], nn.Module], ignore_index: int) -> None:
    loss_fn = make_loss()
    for module in loss_fn.modules():
        if hasattr(module, "ignore_index"):
            setattr(module, "ignore_index", ignore_index)  # noqa: B010 (module attributes are typed as Tensor | Module)
    logits = torch.randn(2, 3, 3, 4)
    target = torch.randint(0, 3, (2, 3, 4))
    target[0, 1, 1:] = ignore_index
    target[1, 2, 0] = ignore_index
    keep = (target != ignore_index).view(-1)
    kept_logits = logits.permute(1, 0, 2, 3).reshape(3, -1)[:, keep].view(1, 3, 1, -1)
    kept_target = target.view(-1)[keep].view(1, 1, -1)
    # Ignored pixels with wild logits must not matter either.
    logits = torch.where((target == ignore_index).unsqueeze(1), torch.randn_like(logits) * 30, logits)
    torch.testing.assert_close(loss_fn(logits, target), loss_fn(kept_logits, kept_target), rtol=1e-5, atol=1e-6)


@all_losses
def test_all_ignored_batch_gives_zero_with_gradient(make_loss: Callable[[], nn.Module]) -> None:
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = make_loss()(logits, torch.full((2, 4, 4), 255))
    assert loss.item() == 0.0
    assert loss.grad_fn is not None
    loss.backward()
    assert logits.grad is not None
    assert torch.equal(logits.grad, torch.zeros_like(logits))


# --- the common contract ------------------------------------------------------------------------


@all_losses
def test_common_contract(make_loss: Callable[[], nn.Module]) -> None:
    loss_fn = make_loss()
    target = torch.randint(0, 3, (2, 5, 6))
    target[1, 0] = 255
    onehot = F.one_hot(target.clamp_max(2), 3).permute(0, 3, 1, 2).float()
    noise = torch.randn(2, 3, 5, 6)
    losses = []
    for scale in (0.5, 2.0, 6.0):
        logits = (scale * onehot + noise).requires_grad_()
        loss = loss_fn(logits, target)
        assert loss.shape == ()
        assert loss.dtype == torch.float32
        assert torch.isfinite(loss)
        assert loss.item() >= 0
        loss.backward()
        assert logits.grad is not None
        assert torch.isfinite(logits.grad).all()
        assert logits.grad.abs().sum() > 0
        losses.append(loss.item())
    assert losses[0] > losses[1] > losses[2]


@all_losses
def test_gradients_finite_for_saturated_logits(make_loss: Callable[[], nn.Module]) -> None:
    target = torch.tensor([[[0, 1], [2, 0]]])
    logits = (200.0 * F.one_hot(target, 3).permute(0, 3, 1, 2).float() - 100.0).requires_grad_()
    loss = make_loss()(logits, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()


@all_losses
def test_bf16_autocast_computes_in_float32(make_loss: Callable[[], nn.Module]) -> None:
    loss_fn = make_loss()
    logits = torch.randn(2, 3, 4, 5).bfloat16()
    target = torch.randint(0, 3, (2, 4, 5))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(logits, target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, loss_fn(logits.float(), target))


def test_class_weights_are_not_in_state_dict_and_move_with_the_module() -> None:
    loss = build_loss("ce+focal", class_weights=torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert loss.state_dict() == {}
    weights = [m.weight for m in loss.modules() if isinstance(m, CrossEntropyLoss | FocalLoss)]
    assert len(weights) == 2
    assert all(w is not None and w.dtype == torch.float32 for w in weights)


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="same spatial size"):
        DiceLoss()(torch.randn(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.int64))


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(-1.0)
    with pytest.raises(ValueError, match="smooth"):
        DiceLoss(smooth=-0.5)
    with pytest.raises(ValueError, match="threshold"):
        OhemCrossEntropyLoss(0.0)
    with pytest.raises(ValueError, match="min_kept"):
        OhemCrossEntropyLoss(min_kept=1.5)
    with pytest.raises(ValueError, match="radius"):
        BoundaryCrossEntropyLoss(0)
    with pytest.raises(ValueError, match="boost"):
        BoundaryCrossEntropyLoss(boost=-1.0)
    with pytest.raises(ValueError, match="at least one"):
        CombinedLoss([])


# --- build_loss ---------------------------------------------------------------------------------


def test_names_and_descriptions() -> None:
    assert LOSS_NAMES == ("ce", "dice", "focal", "lovasz", "ohem", "boundary")
    assert tuple(LOSS_DESCRIPTIONS) == LOSS_NAMES
    assert all(d and "\n" not in d for d in LOSS_DESCRIPTIONS.values())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ce", [(1.0, "ce")]),
        ("dice", [(1.0, "dice")]),
        ("ce+dice", [(1.0, "ce"), (1.0, "dice")]),
        ("ce+0.5*lovasz", [(1.0, "ce"), (0.5, "lovasz")]),
        ("0.7*focal+0.3*dice", [(0.7, "focal"), (0.3, "dice")]),
        (" 2 * CE + .25*Lovasz ", [(2.0, "ce"), (0.25, "lovasz")]),
        ("1e-1*dice", [(0.1, "dice")]),
    ],
)
def test_parse_loss_spec(spec: str, expected: list[tuple[float, str]]) -> None:
    assert parse_loss_spec(spec) == expected


def test_build_loss_types_and_values() -> None:
    weights = torch.tensor([0.5, 2.0, 1.0])
    assert isinstance(build_loss("ce"), CrossEntropyLoss)
    assert isinstance(build_loss("dice"), DiceLoss)
    assert isinstance(build_loss("lovasz"), LovaszSoftmaxLoss)
    focal = build_loss("focal", class_weights=weights)
    assert isinstance(focal, FocalLoss) and focal.gamma == 2.0
    assert focal.weight is not None and torch.equal(focal.weight, weights)
    combined = build_loss("0.7*ce+0.3*lovasz", ignore_index=7, class_weights=weights)
    assert isinstance(combined, CombinedLoss)
    assert combined.weights == [0.7, 0.3]
    assert all(m.ignore_index == 7 for m in combined.losses)

    logits = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    target[0, 0] = 7
    ce = CrossEntropyLoss(weights, ignore_index=7)(logits, target)
    lovasz = LovaszSoftmaxLoss(ignore_index=7)(logits, target)
    expected = 0.7 * ce + 0.3 * lovasz
    torch.testing.assert_close(combined(logits, target), expected)
    assert isinstance(build_loss("2*ce"), CombinedLoss)


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ("", "empty term"),
        ("foo", "'foo'"),
        ("ce+", "empty term"),
        ("ce++dice", "empty term"),
        ("ce+bce", "'bce'"),
        ("0*ce", "'0*ce'"),
        ("-1*ce", "'-1*ce'"),
        ("x*ce", "'x*ce'"),
        ("nan*ce", "'nan*ce'"),
        ("inf*ce", "'inf*ce'"),
        ("ce*0.5", "'ce*0.5'"),
        ("ce+dice+ce", "'ce' given twice"),
    ],
)
def test_bad_specs_are_rejected_with_one_line(spec: str, bad: str) -> None:
    with pytest.raises(ValueError) as info:
        build_loss(spec)
    message = str(info.value)
    assert "\n" not in message
    assert bad in message
    assert "ce, dice, focal, lovasz, ohem, boundary" in message
    assert "[WEIGHT*]NAME" in message


@pytest.mark.parametrize("name", ["ce", "focal", "ohem", "boundary"])
def test_pixels_only_of_zero_weight_classes_give_zero_not_nan(name: str) -> None:
    """Median-frequency weights are 0 for classes absent from train; a val batch of only those is 0."""
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.tensor([[[1, 1], [255, 1]]])
    loss = build_loss(name, class_weights=torch.tensor([1.0, 0.0, 1.0]))(logits, target)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
