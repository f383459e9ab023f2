"""Turn whatever a user calls an image into an 8-bit RGB array, or say clearly why not.

Pillow reads the files (every format and mode it knows), the EXIF orientation is applied so
the result is upright as image viewers show it, and high-bit-depth images are scaled down to
8 bits instead of being clipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "ImageLike", "ImageReadError", "load_image", "read_image_file"]

ImageLike: TypeAlias = "str | os.PathLike[str] | Image.Image | np.ndarray | torch.Tensor"

# Pillow refuses decompression bombs above 2x its own limit (~179 MP); we refuse anything above this.
DEFAULT_MAX_IMAGE_PIXELS = 200_000_000


class ImageReadError(ValueError):
    """An input that is not a readable image; the message names the input."""


def read_image_file(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode the image file at ``path`` into an upright ``HxWx3`` uint8 RGB array.

    Args:
        path: The image file; any format Pillow reads.
        max_pixels: Refuse images with more pixels than this (``None``: no limit).

    Returns:
        The decoded image, EXIF orientation applied.

    Raises:
        ImageReadError: ``path`` is a directory, missing, empty, not an image Pillow can read,
            truncated, or larger than ``max_pixels``.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"{path}: a directory, not an image file")
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file, not an image")
    try:
        with Image.open(path) as im:
            return pil_to_rgb(im, max_pixels=max_pixels)
    except ImageReadError as exc:
        raise ImageReadError(f"{path}: {exc}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = "not an image Pillow can read" if isinstance(exc, Image.UnidentifiedImageError) else str(exc)
        raise ImageReadError(f"{path}: not a readable image ({reason})") from None


def pil_to_rgb(im: Image.Image, *, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """Upright 8-bit RGB array from any Pillow image (RGBA, L, I;16, P, CMYK, ...).

    Args:
        im: The image; alpha is dropped, high-bit-depth modes are scaled down to 8 bits.
        max_pixels: Refuse images with more pixels than this (``None``: no limit).

    Returns:
        An ``HxWx3`` uint8 array, EXIF orientation applied.

    Raises:
        ImageReadError: The image has more than ``max_pixels`` pixels.
    """
    if max_pixels is not None and im.width * im.height > max_pixels:
        raise ImageReadError(f"{im.width}x{im.height} pixels, more than the limit of {max_pixels:,}")
    im.load()  # decode now, so a truncated file fails here
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _gray_to_rgb(_scale_to_uint8(np.asarray(im)))
    # alpha is dropped: the network sees the colours whatever their transparency
    return np.asarray(im.convert("RGB"))


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.floating):
        finite = np.nan_to_num(values.astype(np.float64))
        high = max(float(finite.max(initial=0.0)), 1e-12)
        return np.clip(finite / (high if high > 1.0 else 1.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # integer images: the 16-bit range maps to 0..255, as a 16-bit image viewer shows them
    top = 65535 if values.max(initial=0) <= 65535 else int(values.max())
    return (values.astype(np.float64) * (255.0 / top) + 0.5).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def load_image(image: ImageLike, *, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """An ``HxWx3`` uint8 RGB array from a path, a PIL image, a numpy array or a tensor.

    Args:
        image: A path (read with :func:`read_image_file`), a PIL image, an array or a tensor.
            Arrays may be ``HxW`` (grey), ``HxWx1``, ``HxWx3`` or ``HxWx4`` (alpha dropped),
            uint8 or uint16, or float in [0, 1]. Tensors are ``3xHxW`` or ``1xHxW``
            (torchvision's layout) with the same dtypes.
        max_pixels: Refuse images with more pixels than this (``None``: no limit).

    Returns:
        The image as a contiguous ``HxWx3`` uint8 RGB array.

    Raises:
        ImageReadError: ``image`` is of an unsupported type, shape or dtype, has no pixels,
            exceeds ``max_pixels``, or is a path that cannot be read as an image.
    """
    if isinstance(image, str | os.PathLike):
        return read_image_file(image, max_pixels=max_pixels)
    if isinstance(image, Image.Image):
        return pil_to_rgb(image, max_pixels=max_pixels)
    if isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
        if tensor.dim() == 3 and tensor.shape[0] in (1, 3, 4):
            return load_image(tensor.permute(1, 2, 0).numpy(), max_pixels=max_pixels)
        if tensor.dim() == 2:
            return load_image(tensor.numpy(), max_pixels=max_pixels)
        raise ImageReadError(f"expected a CxHxW image tensor with 1, 3 or 4 channels, got shape {tuple(tensor.shape)}")
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, max_pixels)
    raise ImageReadError(f"expected a path, PIL image, numpy array or tensor, got {type(image).__name__}")


def _array_to_rgb(array: np.ndarray, max_pixels: int | None) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        channels = array[..., :3] if array.shape[2] != 1 else np.repeat(array, 3, axis=2)
    elif array.ndim == 2:
        channels = _gray_to_rgb(array)
    else:
        raise ImageReadError(f"expected an HxW or HxWxC (C = 1, 3 or 4) image array, got shape {array.shape}")
    if channels.shape[0] == 0 or channels.shape[1] == 0:
        raise ImageReadError(f"the image has no pixels (shape {array.shape})")
    if max_pixels is not None and channels.shape[0] * channels.shape[1] > max_pixels:
        raise ImageReadError(f"{channels.shape[1]}x{channels.shape[0]} pixels, more than the limit of {max_pixels:,}")
    if channels.dtype == np.bool_:
        channels = channels.astype(np.uint8) * 255
    elif np.issubdtype(channels.dtype, np.floating):
        channels = np.clip(np.nan_to_num(channels) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif channels.dtype == np.uint16:
        channels = _scale_to_uint8(channels)
    elif channels.dtype != np.uint8:
        if (
            not np.issubdtype(channels.dtype, np.integer)
            or channels.min(initial=0) < 0
            or channels.max(initial=0) > 255
        ):
            raise ImageReadError(f"expected uint8, uint16 or float image values, got {channels.dtype}")
        channels = channels.astype(np.uint8)
    return np.ascontiguousarray(channels)
