"""Weights files (safetensors with metadata), the checkpoint converter, published weights."""

from .io import WeightsError, WeightsFile, save_model, strict_load
from .loading import load_model
from .sources import read_weights

__all__ = ["WeightsError", "WeightsFile", "load_model", "read_weights", "save_model", "strict_load"]
