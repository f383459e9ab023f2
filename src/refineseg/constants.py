"""Names and defaults the command line shows before any work starts, in a module that imports
nothing heavy: ``refineseg --help`` and ``refineseg COMMAND --help`` read them without importing
torch. The modules that use them import them from here, so each value is written once.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ANNOTATION_FORMATS",
    "CALIBRATION_METHODS",
    "DATASET_NAMES",
    "DEFAULT_CALIBRATION_IMAGES",
    "DEFAULT_HOST",
    "DEFAULT_LIMIT_CONCURRENCY",
    "DEFAULT_MAX_INFERENCE_PIXELS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_TILE_SIZE",
    "DEFAULT_TIMEOUT_KEEP_ALIVE_S",
    "DEFAULT_WHOLE_IMAGE_PIXELS",
    "IMAGE_SUFFIXES",
    "LOSS_DESCRIPTIONS",
    "MB",
    "PRECISIONS",
    "REFERENCE_ARCHS",
    "CalibrationMethod",
    "Precision",
]

# inference
Precision = Literal["fp32", "bf16", "int8", "auto"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
CalibrationMethod = Literal["minmax", "percentile", "entropy"]
CALIBRATION_METHODS: tuple[CalibrationMethod, ...] = ("percentile", "minmax", "entropy")
# a few dozen images set the activation ranges as well as hundreds do (docs/BENCHMARKS.md)
DEFAULT_CALIBRATION_IMAGES = 32
# images up to this many pixels (2048x1024, a Cityscapes frame) run in one pass; larger ones
# run as overlapping DEFAULT_TILE_SIZE windows
DEFAULT_WHOLE_IMAGE_PIXELS = 2048 * 1024
DEFAULT_TILE_SIZE = 1024

# serving
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 20 * MB
DEFAULT_MAX_PIXELS = 40_000_000
# the compute budget of one request: larger images are shrunk to this many pixels before inference
# (a 1280x720 frame runs at full size; a 12 Mpx photo at 1182x886, still over twice the 480x360
# the shipped model was trained at), so work is bounded by what the model needs, not by the upload
DEFAULT_MAX_INFERENCE_PIXELS = 1024 * 1024
# requests that may wait (their uploads held in memory) beyond those being worked on; more get 503
DEFAULT_MAX_QUEUE = 8
# a connection is closed when it has not sent a whole request head this long after it opened or
# after its last answer (uvicorn's timeout_keep_alive)
DEFAULT_TIMEOUT_KEEP_ALIVE_S = 5
# more open connections (or requests in progress) than this are answered 503 at once (uvicorn's
# limit_concurrency), well under the usual limit of 1024 open files
DEFAULT_LIMIT_CONCURRENCY = 256

# images a dataset folder may hold (prediction also reads .gif, .ppm and .pgm)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# data: the registered datasets (tests check this list against the registry) and annotation formats
DATASET_NAMES = (
    "ade20k",
    "camvid",
    "cityscapes",
    "generic",
    "nyudv2",
    "pascal_context",
    "person_part",
    "sunrgbd",
    "voc",
)
ANNOTATION_FORMATS = ("coco", "labelme", "cvat", "voc", "label-studio")

# training
LOSS_DESCRIPTIONS: dict[str, str] = {
    "ce": "cross entropy (uses --class-weights)",
    "dice": "soft multiclass Dice over the batch, mean over present classes (class-balanced)",
    "focal": "softmax focal loss, gamma=2 (uses --class-weights)",
    "lovasz": "Lovasz-Softmax, a convex surrogate of per-class IoU, mean over present classes (class-balanced)",
    "ohem": "cross entropy on the hard pixels only: target probability under 0.7, at least the hardest fifth"
    " (uses --class-weights)",
    "boundary": "cross entropy with the pixels within 2 px of another class weighted 5 times (uses --class-weights)",
}

# the reference implementations' model names -> refineseg builders (refineseg convert --arch)
REFERENCE_ARCHS: dict[str, str] = {
    "rf101": "refinenet_resnet101",
    "refinenet50": "refinenet_resnet50",
    "refinenet101": "refinenet_resnet101",
    "refinenet152": "refinenet_resnet152",
    "rf_lw50": "lw_refinenet_resnet50",
    "rf_lw101": "lw_refinenet_resnet101",
    "rf_lw152": "lw_refinenet_resnet152",
    "mbv2": "lw_refinenet_mobilenet_v2",
}
