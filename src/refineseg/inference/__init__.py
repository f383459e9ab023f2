"""Using a trained model on real images: reading any image, ``Segmenter``, batch prediction."""

from .images import ImageLike, ImageReadError, load_image, read_image_file
from .optimize import optimize_for_inference
from .precision import PRECISIONS, cpu_features, resolve_precision
from .segmenter import Segmenter

__all__ = [
    "PRECISIONS",
    "ImageLike",
    "ImageReadError",
    "Segmenter",
    "cpu_features",
    "load_image",
    "optimize_for_inference",
    "read_image_file",
    "resolve_precision",
]
