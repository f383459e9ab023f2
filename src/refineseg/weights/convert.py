"""Convert checkpoints of the reference PyTorch implementations to refineseg weights.

Sources: ``DrSleep/refinenet-pytorch`` (``rf101``), ``DrSleep/light-weight-refinenet``
(``rf_lw50``, ``rf_lw101``, ``rf_lw152``, ``mbv2``) and the pip package ``refinenet`` of
``best-of-acrv/refinenet`` (``refinenet50/101/152``, same key layout as ``rf101``), bare or in the wrapped forms their
training scripts save (``{"model": ...}``, ``{"segmenter": ...}``, ``{"state_dict": ...}``,
``module.`` prefixes from ``nn.DataParallel``). The old-to-new key tables below are the
only place where the reference names appear. Every source key is mapped exactly once;
anything left over or missing is an error, never a partial load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from ..constants import REFERENCE_ARCHS
from ..models.base import SegmentationModel
from ..state_dicts import StateDictError, read_state_dict
from .io import WeightsError, save_model, strict_load

__all__ = [
    "REFERENCE_ARCHS",
    "ConversionError",
    "convert_checkpoint",
    "convert_state_dict",
    "load_reference_checkpoint",
    "reference_key_table",
]

# reference builder name -> refineseg builder name (DrSleep's names, then the pip package's)
_ARCH_LAYOUT = {
    "refinenet_resnet50": "refinenet",
    "refinenet_resnet101": "refinenet",
    "refinenet_resnet152": "refinenet",
    "lw_refinenet_resnet50": "lw_resnet",
    "lw_refinenet_resnet101": "lw_resnet",
    "lw_refinenet_resnet152": "lw_resnet",
    "lw_refinenet_mobilenet_v2": "lw_mobilenet",
}


class ConversionError(WeightsError):
    """A checkpoint that cannot be converted exactly."""


def _rcu_rows(old: str, new: str, count: int) -> dict[str, str]:
    """The reference RCUBlock stacks ``count`` RCUs as ``{i}_conv`` / ``{i}_conv_relu_varout_dimred``."""
    rows = {}
    for i in range(count):
        rows[f"{old}.0.{i + 1}_conv"] = f"{new}.{i}.conv1"
        rows[f"{old}.0.{i + 1}_conv_relu_varout_dimred"] = f"{new}.{i}.conv2"
    return rows


def _crp_rows(old: str, new: str, stages: int = 4) -> dict[str, str]:
    return {f"{old}.0.{s + 1}_outvar_dimred": f"{new}.convs.{s}" for s in range(stages)}


def _resnet_decoder_rows(lightweight: bool) -> dict[str, str]:
    """Module table for the ResNet models; reference level k=1 is 1/32 (our block 0, feature 3)."""
    rows: dict[str, str] = {"clf_conv": "head.classifier"}
    for k in range(1, 5):
        block = f"decoder.blocks.{k - 1}"
        rows[f"p_ims1d2_outl{k}_dimred"] = f"decoder.laterals.{4 - k}"
        rows.update(_crp_rows(f"mflow_conv_g{k}_pool", f"{block}.pool"))
        if k > 1:  # fusion conv on the encoder path of a two-input block
            rows[f"adapt_stage{k}_b2_joint_varout_dimred"] = f"{block}.fusion.convs.0"
        if k < 4:  # the conv that feeds this block's output into the next block's fusion
            rows[f"mflow_conv_g{k}_b3_joint_varout_dimred"] = f"decoder.blocks.{k}.fusion.convs.1"
        if not lightweight:
            rows.update(_rcu_rows(f"adapt_stage{k}_b", f"{block}.adapt.0", 2))
            rows.update(_rcu_rows(f"mflow_conv_g{k}_b", f"{block}.output", 3))
    return rows


def _mobilenet_rows() -> dict[str, str]:
    rows: dict[str, str] = {"layer1.0": "encoder.stem.0", "layer1.1": "encoder.stem.1", "segm": "head.classifier"}
    repeats = (1, 2, 3, 4, 3, 3, 1)  # MobileNet-v2 stage lengths
    for stage, n in enumerate(repeats):
        for j in range(n):
            for part, name in enumerate(("expand", "depthwise", "project")):
                for layer in (0, 1):
                    rows[f"layer{stage + 2}.{j}.output.{part}.{layer}"] = f"encoder.stages.{stage}.{j}.{name}.{layer}"
    # conv3..conv8 reduce layer3..layer8 (our features 0..5)
    for feature in range(6):
        rows[f"conv{feature + 3}"] = f"decoder.laterals.{feature}"
    # crp4 is the 1/32 block (our block 0), crp1 the 1/4 block
    for n in range(1, 5):
        rows.update(_crp_rows(f"crp{n}", f"decoder.blocks.{4 - n}.pool"))
    # conv_adapt{n} feeds block 4-n's output into the next block; it is that block's last input
    rows["conv_adapt4"] = "decoder.blocks.1.fusion.convs.2"
    rows["conv_adapt3"] = "decoder.blocks.2.fusion.convs.1"
    rows["conv_adapt2"] = "decoder.blocks.3.fusion.convs.1"
    return rows


_ENCODER_PREFIXES = {"refinenet": ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")}
_ENCODER_PREFIXES["lw_resnet"] = _ENCODER_PREFIXES["refinenet"]


def reference_key_table(arch: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(module table, encoder prefixes copied under ``encoder.``) for a refineseg arch.

    Args:
        arch: A refineseg builder name or the reference's (``rf101``, ``rf_lw50``, ...).

    Returns:
        The table from reference module names to refineseg ones, and the top-level reference
        names whose keys are copied unchanged under ``encoder.``.

    Raises:
        ConversionError: There is no converter for ``arch``.
    """
    layout = _layout(arch)
    if layout == "lw_mobilenet":
        return _mobilenet_rows(), ()
    return _resnet_decoder_rows(layout == "lw_resnet"), _ENCODER_PREFIXES[layout]


def _layout(arch: str) -> str:
    arch = REFERENCE_ARCHS.get(arch, arch)
    try:
        return _ARCH_LAYOUT[arch]
    except KeyError:
        names = ", ".join(sorted({*REFERENCE_ARCHS, *_ARCH_LAYOUT}))
        raise ConversionError(f"no converter for arch {arch!r}; known: {names}") from None


def _map_key(key: str, table: Mapping[str, str], prefixes: tuple[str, ...]) -> str | None:
    module, _, param = key.rpartition(".")
    if module in table:
        return f"{table[module]}.{param}"
    if key.split(".", 1)[0] in prefixes:
        return f"encoder.{key}"
    return None


def convert_state_dict(state: Mapping[str, Tensor], arch: str) -> dict[str, Tensor]:
    """Rename a reference state dict's keys; every key must map, and map to a distinct name.

    Args:
        state: The reference checkpoint's state dict (unwrapped, no ``module.`` prefixes).
        arch: A refineseg builder name or the reference's.

    Returns:
        The same tensors under refineseg's keys (plus zero BatchNorm step counters where the
        checkpoint had none).

    Raises:
        ConversionError: ``arch`` is unknown, or keys are left unmapped, map twice, or expected
            modules are missing.
    """
    table, prefixes = reference_key_table(arch)
    out: dict[str, Tensor] = {}
    leftover, clashes = [], []
    for key, value in state.items():
        new = _map_key(key, table, prefixes)
        if new is None:
            leftover.append(key)
        elif new in out:
            clashes.append(new)
        else:
            out[new] = value
    used_modules = {k.rpartition(".")[0] for k in state}
    unused_rows = sorted(m for m in table if m not in used_modules)
    problems = []
    if leftover:
        problems.append(f"{len(leftover)} keys with no mapping: {', '.join(sorted(leftover)[:10])}")
    if clashes:
        problems.append(f"{len(clashes)} keys mapped twice: {', '.join(sorted(clashes)[:10])}")
    if unused_rows:
        problems.append(f"{len(unused_rows)} expected modules missing: {', '.join(unused_rows[:10])}")
    if problems:
        raise ConversionError(f"checkpoint does not match the {arch} reference layout: " + "; ".join(problems))
    # checkpoints saved before PyTorch 0.4.1 have no BatchNorm step counters; they only
    # matter for momentum=None, so start them at zero as BatchNorm itself does
    for key in [k for k in out if k.endswith(".running_mean")]:
        out.setdefault(key.removesuffix("running_mean") + "num_batches_tracked", torch.tensor(0))
    return out


def load_reference_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Load a third-party checkpoint without running code, and unwrap it to a state dict.

    Args:
        path: The ``.pth`` checkpoint; bare or under ``model``/``segmenter``/``state_dict``.

    Returns:
        The tensors, ``module.`` prefixes (``nn.DataParallel``) removed.

    Raises:
        ConversionError: No such file, a file with pickled objects beyond tensors (refused:
            they could run code), an unreadable file, or not a state dict of tensors.
    """
    try:
        state = read_state_dict(path, what="checkpoint")
    except (FileNotFoundError, StateDictError) as exc:
        raise ConversionError(str(exc)) from None
    return {k.removeprefix("module."): v for k, v in state.items()}


def convert_checkpoint(
    path: str | os.PathLike[str],
    *,
    arch: str,
    num_classes: int | None = None,
    output: str | os.PathLike[str] | None = None,
    class_names: list[str] | None = None,
) -> SegmentationModel:
    """Load a reference checkpoint into a refineseg model (and save it if ``output`` is given).

    Args:
        path: The reference checkpoint.
        arch: A refineseg builder name or the reference's (``rf101``, ``rf_lw50``, ...).
        num_classes: The expected number of classes; ``None``: the checkpoint's classifier width.
        output: A ``.safetensors`` file to save the converted model to.
        class_names: Class names to store in the model's meta, one per class.

    Returns:
        The converted model, in eval mode.

    Raises:
        ConversionError: The checkpoint cannot be read or converted exactly, or its class
            count differs from ``num_classes`` or ``class_names``.
        WeightsError: The converted tensors do not fit the model.
    """
    from ..models.registry import get_model

    name = REFERENCE_ARCHS.get(arch, arch)
    _layout(name)
    state = convert_state_dict(load_reference_checkpoint(path), name)
    found = state["head.classifier.weight"].shape[0]
    if num_classes is not None and num_classes != found:
        raise ConversionError(f"{path}: the checkpoint's classifier has {found} classes, not {num_classes}")
    if class_names is not None and len(class_names) != found:
        raise ConversionError(f"{len(class_names)} class names given for a {found}-class checkpoint")
    model = get_model(name, num_classes=found)
    strict_load(model, state, source=str(path))
    model.meta.class_names = class_names
    model.meta.provenance = {"converted_from": Path(path).name, "source_arch": arch}
    model.eval()
    if output is not None:
        save_model(model, output)
    return model
