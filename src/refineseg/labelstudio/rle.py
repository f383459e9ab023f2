"""Label Studio's brush masks: its run-length encoding, through ``label-studio-sdk``'s converter.

A ``brushlabels`` region stores its mask as ``value.rle``: a list of byte values holding a bit
stream (a 32-bit count of values, then run-length chunks) of the region's RGBA image at the
image's original size, row-major, ``width * height * 4`` values; Label Studio's editor paints
the region where alpha is set. refineseg never writes that format by hand: encoding and decoding
are the SDK's (``label_studio_sdk.converter.brush``, the same code Label Studio's own exports
use), imported when first needed (``pip install 'refineseg[labelstudio]'``).

What refineseg adds is the checking an export or a task from elsewhere needs before the SDK sees
it: the SDK's decoder trusts the stream's header, so a malformed or hostile ``rle`` could make
it allocate gigabytes (a count of 2**32 - 1) or fail with an unrelated message.
:func:`decode_mask` checks the list, its values and the header's count against the region's
size first, and raises :class:`RLEError` with one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import one_line
from .._extras import require

__all__ = ["ALPHA_THRESHOLD", "RLEError", "decode_mask", "encode_mask"]

# a pixel belongs to the region where its alpha is at least this (Label Studio's brush paints
# 255; anti-aliased stroke edges carry less, and the SDK's own image2rle thresholds at 128 too)
ALPHA_THRESHOLD = 128
CHANNELS = 4  # the encoded image is RGBA
HEADER_BYTES = 4  # the 32-bit count of values that starts the stream


class RLEError(ValueError):
    """A brush RLE that cannot be a mask of the given size; the message is one line."""


def _brush() -> Any:
    return require("label_studio_sdk.converter.brush", "labelstudio", purpose="Label Studio's brush masks")


def encode_mask(mask: np.ndarray) -> list[int]:
    """Label Studio's RLE of a boolean ``HxW`` mask, as a ``brushlabels`` region's ``value.rle``.

    Args:
        mask: True where the region is.

    Returns:
        The byte values, a plain list of ints (JSON-ready).

    Raises:
        ValueError: ``mask`` is not two-dimensional.
        MissingExtraError: ``label-studio-sdk`` is not installed.
    """
    if mask.ndim != 2:
        raise ValueError(f"a brush mask must be HxW, got shape {tuple(mask.shape)}")
    # every channel gets the value, as the SDK's mask2rle does: the editor reads alpha (255 = painted)
    return [int(v) for v in _brush().mask2rle(mask.astype(np.uint8) * 255)]


def decode_mask(rle: Any, width: int, height: int, *, max_pixels: int | None = None) -> np.ndarray:
    """The boolean ``HxW`` mask of a ``brushlabels`` region's ``value.rle``.

    Args:
        rle: The region's ``value.rle``: a list of ints in 0..255.
        width: The region's ``original_width``.
        height: The region's ``original_height``.
        max_pixels: Refuse larger sizes (``None``: any size).

    Returns:
        True where the region's alpha is at least :data:`ALPHA_THRESHOLD`.

    Raises:
        RLEError: ``rle`` is not a list of byte values, its count is not ``width * height * 4``,
            the size is not positive or above ``max_pixels``, or the stream ends early.
        MissingExtraError: ``label-studio-sdk`` is not installed.
    """
    if isinstance(width, bool) or isinstance(height, bool) or not isinstance(width, int) or not isinstance(height, int):
        raise RLEError(f"the region's size must be whole numbers, got {width!r}x{height!r}")
    if width <= 0 or height <= 0:
        raise RLEError(f"the region's size must be positive, got {width}x{height}")
    if max_pixels is not None and width * height > max_pixels:
        raise RLEError(f"the region's size {width}x{height} is above the limit of {max_pixels} pixels")
    if not isinstance(rle, list) or not rle:
        raise RLEError(f"rle must be a non-empty list of byte values, got {type(rle).__name__}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rle):
        raise RLEError("rle must hold whole numbers from 0 to 255 only")
    if len(rle) <= HEADER_BYTES:
        raise RLEError(f"rle is {len(rle)} bytes long: too short for a header")
    count = int.from_bytes(bytes(rle[:HEADER_BYTES]), "big")
    expected = width * height * CHANNELS
    if count != expected:
        raise RLEError(f"rle holds {count} values, expected {expected} for a {width}x{height} RGBA mask")
    try:
        values = np.asarray(_brush().decode_rle(rle))
    # a stream cut short (the SDK reads past its end), or words wider than a byte (numpy refuses them)
    except (ValueError, IndexError, OverflowError) as exc:
        raise RLEError(f"rle cannot be decoded: {one_line(exc)}") from exc
    if values.size != expected:
        raise RLEError(f"rle decodes to {values.size} values, expected {expected}")
    return values.reshape(height, width, CHANNELS)[..., 3] >= ALPHA_THRESHOLD
