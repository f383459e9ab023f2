"""Using a trained model on real images: reading any image, ``Segmenter``, batch prediction."""

from .images import ImageLike, ImageReadError, load_image, read_image_file
from .optimize import optimize_for_inference
from .segmenter import Segmenter

__all__ = ["ImageLike", "ImageReadError", "Segmenter", "load_image", "optimize_for_inference", "read_image_file"]
