"""The uploaded image: its bytes from the request (raw body or multipart form) and its pixels.

The size limit on the bytes is :class:`~refineseg.serve.limits.UploadLimits`'s job; here the
image's pixel count is checked from its header, before it is decoded, so a small file that
would decode to a huge picture (a decompression bomb) is refused without decoding it.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request

from ..inference.images import pil_to_rgb
from ._text import clip
from .errors import HTTPError

__all__ = ["decode_image", "read_upload"]

# a form carries one image and perhaps a few small fields besides
MAX_FORM_FILES = 4
MAX_FORM_FIELDS = 32


async def read_upload(request: Request) -> bytes:
    """The uploaded image's bytes: the raw body, or the ``image`` field of a multipart form.

    Args:
        request: A ``POST`` whose body is an image file, or a ``multipart/form-data`` form with a
            field named ``image`` (what ``curl -F image=@photo.jpg`` sends).

    Returns:
        The bytes of the image file.

    Raises:
        HTTPError: 411 for a request without ``Content-Length`` and not chunked; 400 for an
            empty upload, a form that cannot be parsed or has no ``image`` field, or a client
            that hung up during the upload.
    """
    headers = request.headers
    if "content-length" not in headers and "transfer-encoding" not in headers:
        raise HTTPError(
            411, "the upload needs a Content-Length header; send the image's bytes as the request body", close=True
        )
    content_type = headers.get("content-type", "")
    try:
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            data = await _form_image(request)
        else:
            data = await request.body()
    except ClientDisconnect:
        raise HTTPError(400, "the upload ended before all of it arrived", close=True) from None
    if not data:
        raise HTTPError(400, "the upload is empty; send an image file as the request body")
    return data


async def _form_image(request: Request) -> bytes:
    try:
        async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as form:
            if not form:
                raise HTTPError(
                    400, "the multipart/form-data upload could not be parsed (no parts within its boundary)"
                )
            value = form.get("image")
            if value is None:
                raise HTTPError(
                    400, 'the multipart/form-data upload has no field named "image" (curl -F image=@photo.jpg ...)'
                )
            data = await value.read() if isinstance(value, UploadFile) else value.encode("utf-8")
    except HTTPError:
        raise
    except StarletteHTTPException as exc:  # what Starlette makes of python-multipart's errors
        reason = clip(str(exc.detail).rstrip("."), 120)
        raise HTTPError(400, f"the multipart/form-data upload could not be parsed ({reason})") from None
    if not data:
        raise HTTPError(400, 'the "image" field of the upload is empty')
    return data


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode an uploaded image file into an upright ``HxWx3`` uint8 RGB array.

    Args:
        data: The file's bytes, in any format Pillow reads.
        max_pixels: Images with more pixels are refused, before they are decoded.

    Returns:
        The image.

    Raises:
        HTTPError: 413 for too many pixels; 400 for anything that is not a readable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            pixels = im.width * im.height
            if pixels > max_pixels:
                raise HTTPError(
                    413,
                    f"the image has {im.width}x{im.height} = {pixels:,} pixels, more than the limit of {max_pixels:,}",
                )
            return pil_to_rgb(im, max_pixels=max_pixels)
    except HTTPError:
        raise
    except Image.DecompressionBombError:
        raise HTTPError(413, f"the image has more pixels than the limit of {max_pixels:,}") from None
    except Image.UnidentifiedImageError:
        raise HTTPError(400, "the upload is not a readable image (not a format Pillow can read)") from None
    except Exception as exc:  # Pillow raises many kinds of errors for damaged files
        raise HTTPError(400, f"the upload is not a readable image ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    """Pillow's message without object addresses, short enough for one line."""
    text = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the upload", str(exc)).strip()
    return clip(" ".join(text.split()) or type(exc).__name__, 160)
