"""Segmentation losses for imbalanced classes: cross entropy, OHEM, boundary-weighted cross
entropy, Dice, focal, Lovasz-Softmax, and sums of them.

All take multiclass logits ``N x C x H x W`` and int64 targets ``N x H x W`` and honour an
``ignore_index`` (default 255): ignored pixels contribute nothing, and a batch in which every
pixel is ignored gives a loss of exactly 0 that is still part of the graph (never NaN). They
compute in float32 whatever the logits' dtype (bf16/fp16 autocast), and avoid host syncs.

These are our own implementations in plain torch, tested against hand-computed values. A
maintained library was considered: segmentation_models_pytorch's ``FocalLoss`` is a one-vs-all
(sigmoid) binary focal loss, not the softmax focal loss of Lin et al., and the package would pull
timm into the core install for four short functions.

:func:`build_loss` turns a spec such as ``"ce+0.5*lovasz"`` into a module (see :data:`LOSS_SPEC_GRAMMAR`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import Registry
from ..constants import LOSS_DESCRIPTIONS
from ..data.labels import IGNORE_INDEX

__all__ = [
    "LOSS_DESCRIPTIONS",
    "LOSS_NAMES",
    "LOSS_SPEC_GRAMMAR",
    "BoundaryCrossEntropyLoss",
    "CombinedLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalLoss",
    "LovaszSoftmaxLoss",
    "OhemCrossEntropyLoss",
    "build_loss",
    "lovasz_jaccard_gradient",
    "parse_loss_spec",
]


def _check_inputs(logits: Tensor, target: Tensor) -> None:
    if logits.ndim < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"expected logits N x C x ... and target N x ... with the same spatial size, "
            f"got {tuple(logits.shape)} and {tuple(target.shape)}"
        )


def _zero_if_all_ignored(loss: Tensor, valid: Tensor) -> Tensor:
    """0 (still in the graph) where no pixel counts: a mean over no pixels is 0/0 = NaN otherwise."""
    return torch.where(valid.any(), loss, torch.zeros_like(loss))


def _drop_zero_weights(target: Tensor, weight: Tensor | None, ignore_index: int) -> Tensor:
    """``target`` with the pixels of zero-weight classes turned into ignored ones: they add
    nothing to a weighted mean either way, but a batch of only such pixels would otherwise be
    0/0 with NaN gradients (median-frequency weights are 0 for classes absent from train)."""
    if weight is None:
        return target
    valid = target != ignore_index
    zero = valid & (weight[torch.where(valid, target, 0)] == 0)
    return torch.where(zero, ignore_index, target)


def _weights(weight: Tensor | None) -> Tensor | None:
    return None if weight is None else torch.as_tensor(weight, dtype=torch.float32).detach().clone()


class _ClassWeightedLoss(nn.Module):
    """What the per-pixel losses with class weights share (cross entropy, focal, OHEM): the
    weights as a buffer, the shape check, zero-weight classes' pixels turned into ignored ones,
    and 0 for a batch in which every pixel is ignored; :meth:`_pixel_mean` is the loss itself."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None, ignore_index: int) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        # Non-persistent: the weights come from the data, and checkpoints keep their old keys.
        self.register_buffer("weight", _weights(weight), persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of a batch.

        Args:
            logits: ``(N, C, H, W)``, any float dtype (computed in float32).
            target: ``(N, H, W)`` int64 class indices or ``ignore_index``.

        Returns:
            A scalar float32 loss; 0 when every pixel is ignored.

        Raises:
            ValueError: If the shapes do not match.
        """
        _check_inputs(logits, target)
        weight = None if self.weight is None else self.weight.to(logits.device)
        target = _drop_zero_weights(target, weight, self.ignore_index)
        return _zero_if_all_ignored(self._pixel_mean(logits.float(), target, weight), target != self.ignore_index)

    def _pixel_mean(self, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        """The loss of float32 ``logits`` against ``target`` whose zero-weight pixels are ignored ones."""
        raise NotImplementedError


def _class_weighted_mean(
    pixel_loss: Tensor, pixel_weight: Tensor, target: Tensor, valid: Tensor, weight: Tensor | None
) -> Tensor:
    """``sum(b * w * loss) / sum(b * w)``: each pixel's own weight ``b`` times its class's ``w``,
    ``F.cross_entropy``'s weighted mean when every ``b`` is 1 (the losses that weigh pixels
    differently, OHEM and the boundary loss, normalise like cross entropy). All four tensors
    have one shape; ``pixel_weight`` is 0 at the invalid pixels."""
    if weight is not None:
        pixel_weight = pixel_weight * weight[torch.where(valid, target, 0)]
    return (pixel_loss * pixel_weight).sum() / pixel_weight.sum().clamp_min(torch.finfo(torch.float32).tiny)


class CrossEntropyLoss(_ClassWeightedLoss):
    """``F.cross_entropy`` with optional per-class ``weight`` (weighted mean over non-ignored pixels).

    Args:
        weight: Per-class weights, ``(C,)``, or ``None``; pixels of zero-weight classes are ignored.
        ignore_index: The target value of ignored pixels.
    """

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__(weight, ignore_index)

    def _pixel_mean(self, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        return F.cross_entropy(logits, target, weight=weight, ignore_index=self.ignore_index)


class FocalLoss(_ClassWeightedLoss):
    """Softmax focal loss (Lin et al. 2017): down-weights pixels the model already gets right.

    ``loss = sum_i w_{t_i} * -(1 - p_{t_i})**gamma * log p_{t_i} / sum_i w_{t_i}`` over the
    non-ignored pixels ``i`` with target ``t_i`` (``w = 1`` without ``weight``): the same
    normalisation as ``F.cross_entropy``'s weighted mean, so ``gamma=0`` is cross entropy exactly.

    Args:
        gamma: The focusing exponent, >= 0.
        weight: Per-class weights, ``(C,)``, or ``None``.
        ignore_index: The target value of ignored pixels.

    Raises:
        ValueError: If ``gamma`` is negative.
    """

    def __init__(self, gamma: float = 2.0, weight: Tensor | None = None, *, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__(weight, ignore_index)
        if not gamma >= 0:
            raise ValueError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)

    def _pixel_mean(self, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        log_p = F.log_softmax(logits, dim=1)
        if self.gamma != 0:
            # The clamp keeps (1 - p)**gamma's gradient finite at p == 1 when gamma < 1.
            log_p = (1 - log_p.exp()).clamp_min(1e-12).pow(self.gamma) * log_p
        # nll_loss picks the target class and applies F.cross_entropy's weighted mean.
        return F.nll_loss(log_p, target, weight=weight, ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        """``gamma``, for ``repr``.

        Returns:
            ``"gamma=G"``.
        """
        return f"gamma={self.gamma}"


class OhemCrossEntropyLoss(_ClassWeightedLoss):
    """Cross entropy over the hard pixels only (online hard example mining, as in PSPNet's and
    mmsegmentation's OHEM): the pixels whose target class gets a probability under ``threshold``,
    or, where fewer are that hard, the ``min_kept`` fraction of the non-ignored pixels with the
    highest loss. The pixels the model already gets right add nothing, so the gradient goes to
    those it gets wrong, which in street scenes are mostly thin objects and boundaries.

    ``loss = sum_{i in K} w_{t_i} * -log p_{t_i} / sum_{i in K} w_{t_i}`` over the kept pixels ``K``
    (the weighted mean of ``F.cross_entropy``; ``w = 1`` without ``weight``); pixels are ranked by
    their unweighted loss. With ``threshold=1`` every pixel is kept and it is cross entropy exactly.

    Args:
        threshold: Pixels whose target probability is below it are hard, in (0, 1].
        min_kept: The fraction of the non-ignored pixels kept at least, in (0, 1].
        weight: Per-class weights, ``(C,)``, or ``None``; pixels of zero-weight classes are ignored.
        ignore_index: The target value of ignored pixels.

    Raises:
        ValueError: If ``threshold`` or ``min_kept`` is outside (0, 1].
    """

    def __init__(
        self,
        threshold: float = 0.7,
        min_kept: float = 0.2,
        weight: Tensor | None = None,
        *,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        for name, value in (("threshold", threshold), ("min_kept", min_kept)):
            if not 0 < value <= 1:
                raise ValueError(f"OHEM {name} must be in (0, 1], got {value}")
        self.threshold = float(threshold)
        self.min_kept = float(min_kept)

    def _pixel_mean(self, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        valid = (target != self.ignore_index).reshape(-1)
        pixel_loss = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none").reshape(-1)
        # The k-th highest loss, k = ceil(min_kept * valid pixels), found on the device (no host
        # sync): ignored pixels rank last with -1, below any cross entropy.
        hardness = pixel_loss.detach()
        ranked = torch.where(valid, hardness, -1.0).sort(descending=True).values
        k = (valid.sum() * self.min_kept).ceil().long().clamp_min(1) - 1
        kth = ranked.gather(0, k.view(1)).squeeze(0)
        # -log p > -log(threshold) <=> p < threshold: a pixel is kept if hard or among the k hardest
        cutoff = kth.clamp_max(-math.log(self.threshold))
        pixel_weight = (valid & (hardness >= cutoff)).float()
        return _class_weighted_mean(pixel_loss, pixel_weight, target.reshape(-1), valid, weight)

    def extra_repr(self) -> str:
        """``threshold`` and ``min_kept``, for ``repr``.

        Returns:
            ``"threshold=T, min_kept=M"``.
        """
        return f"threshold={self.threshold}, min_kept={self.min_kept}"


class BoundaryCrossEntropyLoss(_ClassWeightedLoss):
    """Cross entropy with the pixels near a boundary between two labelled classes weighted up.

    A pixel is near a boundary when another class's pixel lies within ``radius`` pixels of it
    (a ``2 * radius + 1`` square); ignored pixels are neither a class nor a boundary. Those
    pixels weigh ``1 + boost``, the others 1, times their class weight:
    ``loss = sum_i b_i w_{t_i} * -log p_{t_i} / sum_i b_i w_{t_i}``. Where errors are (object
    outlines) and what is thin (poles, signs, cyclists: a pole a few pixels wide is all
    boundary) gets the gradient, without the class-frequency weights' bias towards rare classes
    everywhere. With ``boost=0`` it is cross entropy exactly.

    Args:
        radius: How far from another class a pixel is near a boundary, in target pixels, >= 1.
        boost: The extra weight of those pixels, >= 0.
        weight: Per-class weights, ``(C,)``, or ``None``; pixels of zero-weight classes are ignored.
        ignore_index: The target value of ignored pixels.

    Raises:
        ValueError: If ``radius`` is below 1 or ``boost`` is negative.
    """

    def __init__(
        self,
        radius: int = 2,
        boost: float = 4.0,
        weight: Tensor | None = None,
        *,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        if radius < 1:
            raise ValueError(f"boundary radius must be >= 1, got {radius}")
        if not boost >= 0:
            raise ValueError(f"boundary boost must be >= 0, got {boost}")
        self.radius = int(radius)
        self.boost = float(boost)

    def _near_boundary(self, target: Tensor, valid: Tensor) -> Tensor:
        """Whether another labelled class lies within ``radius`` of each ``valid`` pixel, ``(N, H, W)``."""
        labels = target.unsqueeze(1).float()
        # max-pooling finds the largest class label in each window and, on negated labels, the
        # smallest; ignored pixels take -inf in both, so they never count
        size, pad = 2 * self.radius + 1, self.radius
        largest = F.max_pool2d(torch.where(valid.unsqueeze(1), labels, -math.inf), size, 1, pad)
        smallest = -F.max_pool2d(torch.where(valid.unsqueeze(1), -labels, -math.inf), size, 1, pad)
        return (largest != smallest).squeeze(1) & valid

    def _pixel_mean(self, logits: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        valid = target != self.ignore_index
        pixel_loss = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none")
        pixel_weight = valid.float() + self.boost * self._near_boundary(target, valid).float()
        return _class_weighted_mean(pixel_loss, pixel_weight, target, valid, weight)

    def extra_repr(self) -> str:
        """``radius`` and ``boost``, for ``repr``.

        Returns:
            ``"radius=R, boost=B"``.
        """
        return f"radius={self.radius}, boost={self.boost}"


def _probs_and_onehot(logits: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """Softmax probabilities ``C x P`` and float one-hot ``C x P`` (both 0 at ignored pixels), and validity ``P``."""
    _check_inputs(logits, target)
    num_classes = logits.shape[1]
    probs = F.softmax(logits.float(), dim=1).transpose(0, 1).reshape(num_classes, -1)
    labels = target.reshape(1, -1)
    valid = labels != ignore_index
    classes = torch.arange(num_classes, device=target.device).view(-1, 1)
    onehot = ((labels == classes) & valid).float()
    return probs * valid, onehot, valid.view(-1)


def _mean_over_present(per_class: Tensor, present: Tensor) -> Tensor:
    """Mean of ``per_class`` over the ``present`` classes; 0 (in the graph) when none is present."""
    present_f = present.float()
    return (per_class * present_f).sum() / present_f.sum().clamp_min(1)


class DiceLoss(nn.Module):
    """Soft multiclass Dice loss on softmax probabilities, over the whole batch.

    Per class ``c``, with ``p`` the softmax probability of ``c`` and ``g`` the one-hot target,
    summed over all non-ignored pixels of the batch:
    ``1 - (2 * sum(p * g) + smooth) / (sum(p) + sum(g) + smooth)``, averaged over the classes
    present in the batch's target. Absent classes are left out (their Dice is undefined and would
    push every pixel away from them); segmentation_models_pytorch zeroes them instead but still
    divides by C. Each class counts equally whatever its pixel count, so the loss is class-balanced
    by construction and takes no class weights.

    ``smooth`` defaults to 0: a present class has ``sum(g) >= 1``, so no denominator is ever 0, and
    smoothing would only bias the loss of small classes (a class of one pixel predicted nowhere would
    get 0.5 rather than 1 with ``smooth=1``).

    Args:
        smooth: Added to numerator and denominator, >= 0.
        ignore_index: The target value of ignored pixels.

    Raises:
        ValueError: If ``smooth`` is negative.
    """

    def __init__(self, smooth: float = 0.0, *, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        if not smooth >= 0:
            raise ValueError(f"dice smooth must be >= 0, got {smooth}")
        self.smooth = float(smooth)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of a batch.

        Args:
            logits: ``(N, C, H, W)``, any float dtype (computed in float32).
            target: ``(N, H, W)`` int64 class indices or ``ignore_index``.

        Returns:
            A scalar float32 loss; 0 when no class is present.

        Raises:
            ValueError: If the shapes do not match.
        """
        probs, onehot, _ = _probs_and_onehot(logits, target, self.ignore_index)
        intersection = (probs * onehot).sum(1)
        target_sum = onehot.sum(1)
        cardinality = probs.sum(1) + target_sum
        # The clamp only matters for absent classes with smooth == 0 (0/0 would be NaN, and NaN * 0
        # is NaN); they are left out of the mean below.
        dice = (2 * intersection + self.smooth) / (cardinality + self.smooth).clamp_min(1e-12)
        return _mean_over_present(1 - dice, target_sum > 0)

    def extra_repr(self) -> str:
        """``smooth``, for ``repr``.

        Returns:
            ``"smooth=S"``.
        """
        return f"smooth={self.smooth}"


def lovasz_jaccard_gradient(fg_sorted: Tensor) -> Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss with respect to errors sorted descending.

    With ``J_k`` the Jaccard loss of predicting the first ``k`` sorted pixels wrong (Berman et al.
    2018, Alg. 1): ``J_k = 1 - (G - cumfg_k) / (G + cumbg_k)``, where ``G`` is the class's pixel
    count and ``cumfg``/``cumbg`` count foreground/background among the first ``k``; the gradient is
    ``J_k - J_{k-1}`` with ``J_0 = 0``. The union is never 0: it is ``G >= 1`` or, with ``G == 0``, ``k``.

    Args:
        fg_sorted: ``(C, P)`` 0/1 float, one row per class, in the order of decreasing error.

    Returns:
        ``(C, P)`` gradients.
    """
    total = fg_sorted.sum(1, keepdim=True)
    intersection = total - fg_sorted.cumsum(1)
    union = total + (1 - fg_sorted).cumsum(1)
    jaccard = 1 - intersection / union
    return torch.diff(jaccard, dim=1, prepend=torch.zeros_like(jaccard[:, :1]))


class LovaszSoftmaxLoss(nn.Module):
    """Lovasz-Softmax loss (Berman et al., CVPR 2018): a convex surrogate of per-class IoU (Jaccard).

    For each class present in the batch's target, pixel errors ``|g - p|`` (one-hot target vs
    softmax probability) over the whole batch's non-ignored pixels are sorted in decreasing order
    and dotted with :func:`lovasz_jaccard_gradient`; the result is averaged over the present classes
    (``classes="present"``, flat over the batch). Like the mIoU it optimises, every present class
    counts equally, so it is class-balanced by construction and takes no class weights.

    Args:
        ignore_index: The target value of ignored pixels.
    """

    def __init__(self, *, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of a batch.

        Args:
            logits: ``(N, C, H, W)``, any float dtype (computed in float32).
            target: ``(N, H, W)`` int64 class indices or ``ignore_index``.

        Returns:
            A scalar float32 loss; 0 when no class is present.

        Raises:
            ValueError: If the shapes do not match.
        """
        probs, onehot, valid = _probs_and_onehot(logits, target, self.ignore_index)
        # Ignored pixels get error -1 so they sort after every real pixel (errors are >= 0): the
        # prefixes over real pixels, hence their gradients, are those without the ignored pixels.
        errors = torch.where(valid, (onehot - probs).abs(), -1.0)
        errors_sorted, order = torch.sort(errors, dim=1, descending=True)
        fg_sorted = onehot.gather(1, order)
        gradient = lovasz_jaccard_gradient(fg_sorted)
        per_class = (errors_sorted.clamp_min(0) * gradient).sum(1)
        return _mean_over_present(per_class, onehot.sum(1) > 0)


class CombinedLoss(nn.Module):
    """Weighted sum of losses, e.g. cross entropy for stable early training plus Lovasz for IoU.

    Args:
        terms: ``(weight, loss)`` pairs.

    Raises:
        ValueError: If ``terms`` is empty.
    """

    def __init__(self, terms: Sequence[tuple[float, nn.Module]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("CombinedLoss needs at least one term")
        self.weights = [float(w) for w, _ in terms]
        self.losses = nn.ModuleList(loss for _, loss in terms)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The weighted sum of the terms' losses.

        Args:
            logits: ``(N, C, H, W)``.
            target: ``(N, H, W)`` int64 class indices or the ignore index.

        Returns:
            A scalar loss.
        """
        total = torch.zeros((), device=logits.device)
        for weight, loss in zip(self.weights, self.losses, strict=True):
            total = total + weight * loss(logits, target)
        return total

    def extra_repr(self) -> str:
        """The terms' weights, for ``repr``.

        Returns:
            ``"weights=[...]"``.
        """
        return f"weights={self.weights}"


# name -> factory(class_weights, ignore_index); --loss and build_loss take these names
_LOSSES: Registry[Callable[[Tensor | None, int], nn.Module]] = Registry("loss")
_LOSSES.add("ce", lambda class_weights, ignore_index: CrossEntropyLoss(class_weights, ignore_index=ignore_index))
_LOSSES.add("dice", lambda class_weights, ignore_index: DiceLoss(ignore_index=ignore_index))
_LOSSES.add("focal", lambda class_weights, ignore_index: FocalLoss(weight=class_weights, ignore_index=ignore_index))
_LOSSES.add("lovasz", lambda class_weights, ignore_index: LovaszSoftmaxLoss(ignore_index=ignore_index))
_LOSSES.add(
    "ohem", lambda class_weights, ignore_index: OhemCrossEntropyLoss(weight=class_weights, ignore_index=ignore_index)
)
_LOSSES.add(
    "boundary",
    lambda class_weights, ignore_index: BoundaryCrossEntropyLoss(weight=class_weights, ignore_index=ignore_index),
)

LOSS_NAMES: tuple[str, ...] = tuple(_LOSSES)


LOSS_SPEC_GRAMMAR = f"TERM[+TERM...] with TERM = [WEIGHT*]NAME and NAME one of {', '.join(LOSS_NAMES)}"

_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def _spec_error(spec: str, problem: str) -> ValueError:
    return ValueError(f"{problem} in loss spec {spec!r}: expected {LOSS_SPEC_GRAMMAR} (e.g. 'ce', 'ce+0.5*lovasz')")


def parse_loss_spec(spec: str) -> list[tuple[float, str]]:
    """Parse ``TERM[+TERM...]`` (``TERM = [WEIGHT*]NAME``) into ``(weight, name)`` pairs.

    Validation only, no tensors: usable as an argparse ``type`` or in a config check. Weights are
    positive finite numbers (default 1); a name may appear once; spaces and case are ignored.

    Args:
        spec: E.g. ``"ce"`` or ``"ce+0.5*lovasz"``.

    Returns:
        ``(weight, name)`` per term, in order.

    Raises:
        ValueError: Naming the bad term and the grammar.
    """
    terms: list[tuple[float, str]] = []
    for raw in spec.split("+"):
        term = raw.strip()
        weight_text, star, name = term.rpartition("*")
        name = name.strip().lower()
        weight = 1.0
        if star:
            weight_text = weight_text.strip()
            if not _NUMBER.match(weight_text) or not (0 < float(weight_text) < math.inf):
                raise _spec_error(spec, f"bad weight in term {term!r} (a positive number is needed)")
            weight = float(weight_text)
        if name not in LOSS_NAMES:
            raise _spec_error(spec, f"unknown loss {name!r} in term {term!r}" if name else f"empty term {term!r}")
        if any(name == seen for _, seen in terms):
            raise _spec_error(spec, f"loss {name!r} given twice")
        terms.append((weight, name))
    return terms


def build_loss(spec: str, *, ignore_index: int = IGNORE_INDEX, class_weights: Tensor | None = None) -> nn.Module:
    """Build the loss described by ``spec`` (see :func:`parse_loss_spec`), e.g. ``"ce+0.5*lovasz"``.

    A single unweighted term gives that loss itself, anything else a :class:`CombinedLoss`.

    Args:
        spec: The loss spec.
        ignore_index: The target value of ignored pixels.
        class_weights: Per-class weights for ``ce``, ``focal`` and ``ohem``; ``dice`` and ``lovasz``
            average over present classes, so they are class-balanced by construction and take none.

    Returns:
        The loss module, called as ``loss(logits, target)``.

    Raises:
        ValueError: On a bad spec.
    """
    terms = parse_loss_spec(spec)

    def make(name: str) -> nn.Module:
        return _LOSSES.get(name)(class_weights, ignore_index)

    if len(terms) == 1 and terms[0][0] == 1.0:
        return make(terms[0][1])
    return CombinedLoss([(weight, make(name)) for weight, name in terms])
