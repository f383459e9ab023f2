"""Per-part tables of a model: resolution level, channels, output shape, parameters, FLOPs, time.

The parts follow the architecture, not the module tree: the encoder's stages, one lateral
convolution per encoder feature, and for each RefineNet block its adaptive RCUs per input
path, its multi-resolution fusion, its chained residual pooling and its output RCUs, then
the classifier. Rows never overlap, so their parameters, FLOPs and times add up to the
model's. FLOPs come from ``torch.utils.flop_counter`` (a multiply-add counts as two).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, cast

import torch
from torch import Tensor, nn

from ..blocks import LightWeightRefineNetBlock, RefineNetBlock
from ..models import SegmentationModel
from .hooks import removing_hooks

__all__ = ["ModelSummary", "SummaryRow", "format_summary", "mermaid_diagram", "summarize"]


@dataclass
class SummaryRow:
    """One part of the model; ``module`` is its name in ``model.named_modules()``.

    Attributes:
        part: What the part is in the architecture (``"encoder"``, ``"lateral"``,
            ``"block 2 pooling"``, ``"head"``, ...).
        module: The part's name in ``model.named_modules()``.
        level: Its output's resolution level (``"1/8"``: an eighth of the input's side),
            empty for an output that is not a ``NxCxHxW`` map.
        out_shape: The shape of its output for the summarised input.
        params: Its parameters.
        flops: Its FLOPs for the summarised input (a multiply-add counts as two).
        seconds: Median time of one run of the part, ``None`` unless timed.
    """

    part: str
    module: str
    level: str
    out_shape: tuple[int, ...]
    params: int
    flops: int
    seconds: float | None = None

    @property
    def channels(self) -> int:
        """The output's channels (its second dimension), 0 for an output of fewer dimensions."""
        return self.out_shape[1] if len(self.out_shape) > 1 else 0


@dataclass
class ModelSummary:
    """What :func:`summarize` finds: one row per part, the totals and the shares per group.

    Attributes:
        arch: The model's architecture name (its class name when it has none).
        input_shape: The ``1x3xHxW`` input it ran on.
        rows: The parts, in execution order; they do not overlap.
        total_params: The whole model's parameters.
        total_flops: The whole model's FLOPs for that input.
        total_seconds: Median time of one run of the whole model, ``None`` unless timed.
        groups: Per coarse group (encoder, laterals, each block, head), the summed
            ``"params"``, ``"flops"`` and ``"seconds"`` of its rows.
    """

    arch: str
    input_shape: tuple[int, ...]
    rows: list[SummaryRow]
    total_params: int
    total_flops: int
    total_seconds: float | None = None
    groups: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain, JSON-ready data.

        Returns:
            The fields of this class, rows as dicts of their fields.
        """
        return asdict(self)


def _parts(model: SegmentationModel, called: set[str]) -> Iterator[tuple[str, str, nn.Module]]:
    """(part label, module name, module) for every row, in execution order.

    Encoder rows are its outermost modules that were called with a tensor result; containers
    that the encoder iterates itself (a ``ModuleList`` of stages) are opened up.
    """

    def outermost(name: str, module: nn.Module) -> Iterator[tuple[str, str, nn.Module]]:
        if name in called:
            yield "encoder", name, module
        else:
            for child_name, child in module.named_children():
                yield from outermost(f"{name}.{child_name}", child)

    for name, child in model.encoder.named_children():
        yield from outermost(f"encoder.{name}", child)
    decoder = model.decoder
    for i, lateral in enumerate(decoder.laterals):
        yield "lateral", f"decoder.laterals.{i}", lateral
    for b, block in enumerate(_blocks(model)):
        label = f"block {b + 1}"
        prefix = f"decoder.blocks.{b}"
        if isinstance(block, RefineNetBlock):
            for p, path in enumerate(block.adapt.children()):
                if any(True for _ in path.children()):  # a path without RCUs passes its input on
                    yield f"{label} RCUs", f"{prefix}.adapt.{p}", path
        if block.fusion is not None:
            yield f"{label} fusion", f"{prefix}.fusion", block.fusion
        yield f"{label} pooling", f"{prefix}.pool", block.pool
        if isinstance(block, RefineNetBlock) and any(True for _ in block.output.children()):
            yield f"{label} output RCUs", f"{prefix}.output", block.output
    yield "head", "head", model.head


def _blocks(model: SegmentationModel) -> list[RefineNetBlock | LightWeightRefineNetBlock]:
    return [cast(RefineNetBlock | LightWeightRefineNetBlock, block) for block in model.decoder.blocks.children()]


def _level(stride: Fraction) -> str:
    return f"1/{stride}" if stride.denominator == 1 else f"1/{float(stride):g}"


def summarize(model: SegmentationModel, size: tuple[int, int] = (512, 512), *, time_repeats: int = 0) -> ModelSummary:
    """Run ``model`` once on a ``size`` image and tabulate every part.

    ``time_repeats > 0`` also times each part (median over that many runs after one warm-up,
    with ``optimize_for_inference`` applied first, as ``refineseg predict`` runs it).

    Args:
        model: A PyTorch RefineNet; put in eval mode, its weights unchanged.
        size: The (height, width) of the zero image it runs on.
        time_repeats: How many timed runs to take the median of; 0 does not time.

    Returns:
        The rows, totals and group shares (times only when ``time_repeats > 0``).
    """
    from torch.utils.flop_counter import FlopCounterMode

    model = model.eval()
    shapes: dict[str, tuple[int, ...]] = {}
    x = torch.zeros(1, 3, *size, device=next(model.parameters()).device)  # a CUDA model runs on CUDA
    counter = FlopCounterMode(display=False)
    with removing_hooks() as handles:
        for name, module in model.named_modules():

            def record(_m: nn.Module, _args: Any, out: Any, name: str = name) -> None:
                if isinstance(out, Tensor):
                    shapes[name] = tuple(out.shape)

            if name:
                handles.append(module.register_forward_hook(record))
        with torch.inference_mode(), counter:
            model(x)
    counts = counter.get_flop_counts()
    parts = list(_parts(model, set(shapes)))
    prefix = type(model).__name__
    rows = []
    for part, name, module in parts:
        shape = shapes[name]
        # the power of two nearest the size ratio: a 360-pixel side is 23 pixels at 1/16 (ceil(360 / 16))
        stride = Fraction(2 ** round(math.log2(size[0] / shape[-2]))) if len(shape) == 4 and shape[-2] else Fraction(0)
        flops = sum(counts.get(f"{prefix}.{name}", {}).values())
        params = sum(p.numel() for p in module.parameters())
        rows.append(SummaryRow(part, name, _level(stride) if stride else "", shape, params, int(flops)))
    summary = ModelSummary(
        arch=str(getattr(model, "arch", None) or type(model).__name__),
        input_shape=tuple(x.shape),
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        total_flops=int(counter.get_total_flops()),
    )
    if time_repeats > 0:
        _time_parts(model, x, summary, time_repeats)
    summary.groups = _groups(summary)
    return summary


def _time_parts(model: SegmentationModel, x: Tensor, summary: ModelSummary, repeats: int) -> None:
    from ..inference.optimize import optimize_for_inference

    fast = optimize_for_inference(model)
    modules = dict(fast.named_modules())
    runs: dict[str, list[float]] = {row.module: [] for row in summary.rows}
    starts: dict[str, float] = {}
    totals = []
    with removing_hooks() as handles:
        for row in summary.rows:

            def start(_m: nn.Module, _args: Any, name: str = row.module) -> None:
                starts[name] = time.perf_counter()

            def stop(_m: nn.Module, _args: Any, _out: Any, name: str = row.module) -> None:
                runs[name].append(time.perf_counter() - starts[name])

            handles.append(modules[row.module].register_forward_pre_hook(start))
            handles.append(modules[row.module].register_forward_hook(stop))
        with torch.inference_mode():
            fast(x)  # warm-up
            for times in runs.values():
                times.clear()
            for _ in range(repeats):
                begin = time.perf_counter()
                fast(x)
                totals.append(time.perf_counter() - begin)
    for row in summary.rows:
        row.seconds = statistics.median(runs[row.module])
    summary.total_seconds = statistics.median(totals)


def _group(row: SummaryRow) -> str:
    if row.part.startswith("block"):
        return row.part.split()[0] + " " + row.part.split()[1] + f" ({row.level})"
    return row.part


def _groups(summary: ModelSummary) -> dict[str, dict[str, float]]:
    """Shares of parameters, FLOPs and time per coarse group (encoder, laterals, each block, head)."""
    groups: dict[str, dict[str, float]] = {}
    for row in summary.rows:
        key = _group(row)
        g = groups.setdefault(key, {"params": 0, "flops": 0, "seconds": 0.0})
        g["params"] += row.params
        g["flops"] += row.flops
        g["seconds"] += row.seconds or 0.0
    return groups


def _si(value: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def format_summary(summary: ModelSummary) -> str:
    """The per-part table, totals, and shares per group, as plain text.

    Args:
        summary: What :func:`summarize` returned.

    Returns:
        The table's lines joined by newlines, with a time column when it was timed.
    """
    timed = summary.total_seconds is not None
    head = f"{'part':22} {'module':28} {'level':>6} {'channels':>8} {'out shape':>20} {'params':>12} {'FLOPs':>9}"
    lines = [f"{summary.arch}, input {'x'.join(map(str, summary.input_shape))}", head + ("  time ms" if timed else "")]
    for row in summary.rows:
        shape = "x".join(map(str, row.out_shape))
        line = (
            f"{row.part:22} {row.module:28} {row.level:>6} {row.channels:>8} {shape:>20} "
            f"{row.params:12,d} {_si(row.flops):>9}"
        )
        if timed and row.seconds is not None:
            line += f" {1000 * row.seconds:8.1f}"
        lines.append(line)
    total = f"{'total':22} {'':28} {'':>6} {'':>8} {'':>20} {summary.total_params:12,d} {_si(summary.total_flops):>9}"
    if timed and summary.total_seconds is not None:
        total += f" {1000 * summary.total_seconds:8.1f}"
    lines += [total, "", f"{'share':22} {'params %':>9} {'FLOPs %':>9}" + (f" {'time %':>9}" if timed else "")]
    for name, g in summary.groups.items():
        line = f"{name:22} {100 * g['params'] / max(summary.total_params, 1):9.1f} {100 * g['flops'] / max(summary.total_flops, 1):9.1f}"
        if timed and summary.total_seconds:
            line += f" {100 * g['seconds'] / summary.total_seconds:9.1f}"
        lines.append(line)
    return "\n".join(lines)


def mermaid_diagram(model: SegmentationModel) -> str:
    """A Mermaid flowchart of the model's real wiring: encoder levels, laterals, the cascade, the head.

    Args:
        model: A PyTorch RefineNet (nothing is run).

    Returns:
        The flowchart's source, starting ``flowchart BT``.
    """
    encoder, decoder = model.encoder, model.decoder
    lines = ["flowchart BT", '  img["image"]']
    for i, (channels, stride) in enumerate(zip(encoder.channels, encoder.strides, strict=True)):
        level = _level(Fraction(stride).limit_denominator(64))
        lines.append(f'  f{i}["encoder feature {i}<br/>{channels} ch, {level}"]')
        # an encoder is a chain; a multi-scale one starts a new chain at each image scale
        source = "img" if i == 0 or encoder.scales[i] != encoder.scales[i - 1] else f"f{i - 1}"
        lines.append(f"  {source} --> f{i}")
        lateral = cast(nn.Conv2d, decoder.laterals[i])
        width, kernel = lateral.out_channels, lateral.kernel_size[0]
        lines.append(f'  l{i}["lateral {kernel}x{kernel} conv<br/>{width} ch"]')
        lines.append(f"  f{i} --> l{i}")
    previous = None
    for b, (indices, block) in enumerate(zip(decoder.cascade, _blocks(model), strict=True)):
        kind = "RefineNet block" if isinstance(block, RefineNetBlock) else "Light-Weight RefineNet block"
        stages = sum(1 for _ in block.pool.convs.children())
        lines.append(f'  b{b}["{kind} {b + 1}<br/>{block.out_channels} ch, CRP x{stages}"]')
        for i in indices:
            lines.append(f"  l{i} --> b{b}")
        if previous is not None:
            lines.append(f"  {previous} --> b{b}")
        previous = f"b{b}"
    lines.append(f'  head["3x3 classifier<br/>{model.num_classes} classes, upsampled to the input"]')
    lines.append(f"  {previous} --> head")
    return "\n".join(lines)
