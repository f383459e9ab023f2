"""``refineseg evaluate`` on several processes: each evaluates its share, the confusion matrices add up.

The metrics of a split depend only on its summed confusion matrix, an integer count per (true,
predicted) class pair, so summing the processes' matrices gives exactly the single-process
result, whatever the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .launch import DistributedOptions, Rank, launch, shard

__all__ = ["EvaluationJob", "evaluate_distributed"]


@dataclass(frozen=True)
class EvaluationJob:
    """What every process needs to evaluate its share; plain values, so it travels to spawned processes.

    Attributes:
        weights: A weights name, a ``.safetensors`` file or an exported file.
        dataset: The dataset's name (``refineseg evaluate --dataset``).
        root: Its folder.
        split: The split to evaluate.
        options: Keyword arguments of :func:`refineseg.evaluation.evaluate` (``scales``, ``flip``,
            ``crop_size``, ``optimize``, ``precision``, ``progress``, ``calibration``).
    """

    weights: str
    dataset: str
    root: str
    split: str
    options: dict[str, Any] = field(default_factory=dict)


def evaluate_distributed(job: EvaluationJob, distributed: DistributedOptions) -> Any:
    """Evaluate ``job`` on the processes ``distributed`` asks for.

    Args:
        job: The weights, the dataset split and the evaluation options.
        distributed: Accelerator, devices, nodes and strategy.

    Returns:
        The :class:`~refineseg.evaluation.EvaluationResult` of the whole split on rank 0;
        ``None`` on the other ranks, which have nothing left to report or write.
    """
    return launch(distributed, _evaluate_share, job)


def _evaluate_share(rank: Rank, job: EvaluationJob) -> Any:
    from ..data import get_dataset
    from ..evaluation import evaluate
    from ..evaluation.evaluate import EvaluationResult
    from ..evaluation.metrics import metrics_from_confusion
    from ..inference.backends import open_model

    dataset = get_dataset(job.dataset, job.root, job.split)
    options = dict(job.options)
    options["progress"] = bool(options.get("progress", True)) and rank.is_main
    indices = shard(range(len(dataset)), rank)
    share = evaluate(
        open_model(job.weights, backend=job.options.get("backend")),
        dataset,
        device=rank.device,
        indices=indices,
        **options,
    )
    confusion = share.confusion
    if rank.fabric is not None:
        confusion = rank.fabric.all_reduce(confusion.to(rank.device), reduce_op="sum").cpu()
    if not rank.is_main:
        return None
    return EvaluationResult(
        metrics_from_confusion(confusion), confusion, share.class_names, len(dataset), share.settings
    )
