"""Evaluation and prediction on several devices or machines, launched by Lightning Fabric (``[train]`` extra)."""

from .evaluate import EvaluationJob, evaluate_distributed
from .launch import DistributedOptions, Rank, launch, shard
from .predict import PredictionJob, predict_distributed

__all__ = [
    "DistributedOptions",
    "EvaluationJob",
    "PredictionJob",
    "Rank",
    "evaluate_distributed",
    "launch",
    "predict_distributed",
    "shard",
]
