"""``refineseg predict`` on several processes: each segments its share of the inputs and writes its outputs.

Every process lists and plans the inputs the same way, so output names (and the refusal of
clashing ones) do not depend on the number of processes; each output file is written once,
by the process whose share holds its input; the reports are gathered on rank 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .launch import DistributedOptions, Rank, launch

__all__ = ["PredictionJob", "predict_distributed"]


@dataclass(frozen=True)
class PredictionJob:
    """What every process needs to segment its share; plain values, so it travels to spawned processes.

    Attributes:
        weights: A weights name, a ``.safetensors`` file or an exported file.
        inputs: Files, folders and glob patterns.
        output: The output folder.
        segmenter: Keyword arguments of :meth:`refineseg.Segmenter.from_pretrained` (``backend``,
            ``precision``, ``scales``, ...), except ``device``.
        options: Keyword arguments of :func:`refineseg.inference.predict.predict_paths`
            (``batch_size``, ``overlay``, ``alpha``, ...), except ``part``.
    """

    weights: str
    inputs: list[str]
    output: str
    segmenter: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def predict_distributed(job: PredictionJob, distributed: DistributedOptions) -> Any:
    """Segment ``job``'s inputs on the processes ``distributed`` asks for.

    Args:
        job: The weights, the inputs, the output folder and the options.
        distributed: Accelerator, devices, nodes and strategy.

    Returns:
        On rank 0, one :class:`~refineseg.inference.predict.PredictionReport` for all processes
        (counts summed, files and errors in rank order) and the precision that ran; ``None`` on
        the other ranks.
    """
    return launch(distributed, _predict_share, job)


def _predict_share(rank: Rank, job: PredictionJob) -> Any:
    from ..inference import Segmenter
    from ..inference.predict import PredictionReport, predict_paths

    segmenter = Segmenter.from_pretrained(job.weights, device=rank.device, **job.segmenter)
    options = dict(job.options)
    options["progress"] = bool(options.get("progress", True)) and rank.is_main
    report = predict_paths(segmenter, job.inputs, job.output, part=(rank.index, rank.world), **options)
    reports = rank.gather(report)
    if not rank.is_main:
        return None
    merged = PredictionReport(
        images=sum(r.images for r in reports),
        videos=sum(r.videos for r in reports),
        frames=sum(r.frames for r in reports),
        written=[path for r in reports for path in r.written],
        errors=[message for r in reports for message in r.errors],
    )
    return merged, segmenter.precision
