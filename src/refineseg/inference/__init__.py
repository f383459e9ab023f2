"""Using a trained model on real images: reading any image, ``Segmenter``, batch prediction."""

from .images import ImageLike, ImageReadError, load_image, read_image_file
from .optimize import optimize_for_inference
from .precision import PRECISIONS, cpu_features, resolve_precision
from .segmenter import Segmenter
from .uncertainty import MEASURES, RankedImage, confidence, rank_images, uncertainty_map, write_ranking_csv

__all__ = [
    "MEASURES",
    "PRECISIONS",
    "ImageLike",
    "ImageReadError",
    "RankedImage",
    "Segmenter",
    "confidence",
    "cpu_features",
    "load_image",
    "optimize_for_inference",
    "rank_images",
    "read_image_file",
    "resolve_precision",
    "uncertainty_map",
    "write_ranking_csv",
]
