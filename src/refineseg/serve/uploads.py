"""The uploaded image: its bytes from the request (raw body or multipart form) and its pixels.

The size limit on the bytes is :class:`~refineseg.serve.limits.UploadLimits`'s job; here the
image's pixel count is checked from its header, before it is decoded, so a small file that
would decode to a huge picture (a decompression bomb) is refused without decoding it. Below
that limit, an image larger than the compute budget (``max_inference_pixels``) is decoded at
a reduced size: a JPEG at 1/2, 1/4 or 1/8 scale by its decoder (Pillow's ``draft``), any image
then shrunk by an integer factor (``Image.reduce``) and resampled to the budget, so neither
the decoding nor the inference grows with what a header claims. A truncated file is refused,
whatever Pillow's ``LOAD_TRUNCATED_IMAGES`` was set to by other code in the process.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request

from ..inference.images import pil_to_rgb
from ._text import clip
from .errors import HTTPError

__all__ = ["DecodedImage", "decode_image", "inference_size", "read_upload"]

# a form carries one image and perhaps a few small fields besides
MAX_FORM_FILES = 4
MAX_FORM_FIELDS = 32
# EXIF orientations that turn the picture a quarter turn (its upright width is the stored height)
_QUARTER_TURNS = {5, 6, 7, 8}
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class DecodedImage:
    """An uploaded image as the model sees it, and the size of the upload itself.

    Attributes:
        rgb: The upright ``HxWx3`` uint8 image, shrunk to the compute budget when it was larger.
        width: The upload's upright width (the labels are answered at this size).
        height: The upload's upright height.
    """

    rgb: np.ndarray
    width: int
    height: int

    @property
    def shrunk(self) -> bool:
        """Whether the model sees fewer pixels than the upload has."""
        return self.rgb.shape[:2] != (self.height, self.width)


def inference_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The size an image of ``width`` x ``height`` is segmented at, within ``max_pixels``.

    Args:
        width: The image's width.
        height: Its height.
        max_pixels: The compute budget; ``None`` or 0 for none (full resolution).

    Returns:
        ``(width, height)`` itself when it fits, else the largest size of the same aspect ratio
        (to the pixel, at least 1x1) with at most ``max_pixels`` pixels.
    """
    if not max_pixels or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


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


def decode_image(data: bytes, max_pixels: int, max_inference_pixels: int | None = None) -> DecodedImage:
    """Decode an uploaded image file, within the pixel limit and the compute budget.

    Args:
        data: The file's bytes, in any format Pillow reads.
        max_pixels: Images with more pixels are refused, before they are decoded.
        max_inference_pixels: Larger images are decoded at a reduced size (see the module's
            description) and resampled to at most this many pixels; ``None`` or 0: full size.

    Returns:
        The image (upright, EXIF orientation applied) and the upload's own size.

    Raises:
        HTTPError: 413 for too many pixels; 400 for anything that is not a readable image,
            a truncated one included.
    """
    # the server never answers for pixels a file does not hold (other code may have set it)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as im:
            pixels = im.width * im.height
            if pixels > max_pixels:
                raise HTTPError(
                    413,
                    f"the image has {im.width}x{im.height} = {pixels:,} pixels, more than the limit of {max_pixels:,}",
                )
            turned = im.getexif().get(_ORIENTATION) in _QUARTER_TURNS
            width, height = (im.height, im.width) if turned else (im.width, im.height)
            target = inference_size(im.width, im.height, max_inference_pixels)
            if target != im.size:
                im.draft(None, target)  # JPEG: the decoder itself scales down, to no less than target
            im.load()  # decode now: a truncated file fails here
            if im.size != target:
                image = im.convert("RGB") if im.mode in ("1", "P", "PA") else im
                # reduce() by an integer factor first, then resample: fast and without aliasing
                image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
                return DecodedImage(pil_to_rgb(image, max_pixels=None), width, height)
            return DecodedImage(pil_to_rgb(im, max_pixels=None), width, height)
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
