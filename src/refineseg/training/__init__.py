"""Training with Lightning: recipes, data, the module, callbacks and ``train``."""

from .config import TrainConfig, load_recipe
from .run import last_checkpoint, train

__all__ = ["TrainConfig", "last_checkpoint", "load_recipe", "train"]
