"""Training with Lightning: recipes, data, the module, callbacks and ``train``."""

import importlib.util

# training's own dependencies come with the [train] extra: say so rather than fail deep inside an import
try:
    import lightning  # noqa: F401
except ImportError as exc:
    raise ImportError("training needs Lightning: pip install 'refineseg[train]'") from exc
if importlib.util.find_spec("tensorboard") is None:
    raise ImportError("training needs TensorBoard: pip install 'refineseg[train]'")

from .config import TrainConfig, load_recipe
from .run import last_checkpoint, train

__all__ = ["TrainConfig", "last_checkpoint", "load_recipe", "train"]
