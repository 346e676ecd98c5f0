"""The checks of an uploaded logo (a repository's catalog logo, a publisher's logo):
a PNG or JPEG image of at most LOGO_MAX_BYTES, each side LOGO_MIN_SIDE to
LOGO_MAX_SIDE pixels (Amazon ECR Public's limits on a repository logo). What an
image is comes from its bytes, never from a file name or a claimed type, and it is
decoded whole, so a damaged one is refused here rather than broken in a page."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

LOGO_MAX_BYTES = 512_000
LOGO_MIN_SIDE = 60
LOGO_MAX_SIDE = 2048
PNG = "image/png"
JPEG = "image/jpeg"

_CONTENT_TYPES = {
    "PNG": PNG,
    "JPEG": JPEG,
    # A JPEG with extra pictures in it (as cameras write); browsers show its first.
    "MPO": JPEG,
}


class ImageInvalid(ValueError):
    """Not a logo Berth keeps; ``code`` says which rule it breaks: logo_format,
    logo_too_large, logo_dimensions or logo_damaged."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


def inspect_logo(data: bytes) -> Logo:
    """The logo ``data`` is, or ImageInvalid saying why it is refused."""
    if not data:
        raise ImageInvalid("the logo is empty", code="logo_format")
    if len(data) > LOGO_MAX_BYTES:
        raise ImageInvalid(
            f"the logo is {len(data):,} bytes; it may be at most {LOGO_MAX_BYTES:,}", code="logo_too_large"
        )
    try:
        with warnings.catch_warnings():
            # A header claiming a huge picture is refused by its size below, before decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
                image_format, (width, height) = image.format, image.size
                _check_sides(width, height)
                image.verify()
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
                image.load()
    except ImageInvalid:
        raise
    except Image.DecompressionBombError:
        raise ImageInvalid(
            f"the logo is far larger than {LOGO_MAX_SIDE} pixels a side", code="logo_dimensions"
        ) from None
    except Image.UnidentifiedImageError:
        raise ImageInvalid("the logo is not a PNG or JPEG image", code="logo_format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInvalid(f"the logo image is damaged: {exc}", code="logo_damaged") from None
    return Logo(data=data, content_type=_CONTENT_TYPES[image_format], width=width, height=height)


def _check_sides(width: int, height: int) -> None:
    if not (LOGO_MIN_SIDE <= width <= LOGO_MAX_SIDE and LOGO_MIN_SIDE <= height <= LOGO_MAX_SIDE):
        raise ImageInvalid(
            f"the logo is {width}x{height} pixels; each side must be {LOGO_MIN_SIDE} to {LOGO_MAX_SIDE}",
            code="logo_dimensions",
        )
