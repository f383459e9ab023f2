"""Training with Lightning: recipes, data, the module, callbacks and ``train``."""

from .._extras import require_all

# training's own dependencies come with the [train] extra: say so rather than fail deep inside an import
require_all({"Lightning": "lightning", "TensorBoard": "tensorboard"}, "train", purpose="training")

from .config import TrainConfig, load_recipe  # noqa: E402
from .run import TrainingTime, last_checkpoint, train, training_time  # noqa: E402

__all__ = ["TrainConfig", "TrainingTime", "last_checkpoint", "load_recipe", "train", "training_time"]
