"""Safe opening of catalog and uploaded images: limits checked before decoding, always a small RGB image out.

Both entry points (`open_image` for files, `image_from_bytes` for uploads) refuse, with a reason, files
that are missing, too big, not images, corrupt or truncated, or whose header announces too many pixels
(checked before any pixel is decoded, so a decompression bomb costs nothing). Palette, grey, CMYK and
transparent images become RGB (transparency over white); the result is at most `max_side` on its long side.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["MAX_SIDE", "ImageError", "image_from_bytes", "open_image"]

MAX_SIDE = 512  # long side of returned images, px: bounds memory and is plenty for a 224 px encoder
_BACKGROUND = (255, 255, 255)  # transparent areas become white, like a product photo's backdrop


class ImageError(ValueError):
    """An image that cannot or must not be used; the message names the image and the reason."""


def open_image(path: Path, *, max_bytes: int, max_pixels: int, max_side: int = MAX_SIDE) -> Image.Image:
    """Open the image file at `path` as RGB, at most `max_side` px on its long side, or raise ImageError."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image {path} does not exist; check the path in the catalog (relative paths are "
                         "read from the catalog file's folder)")
    if not path.is_file():
        raise ImageError(f"image {path} is not a file")
    size = path.stat().st_size
    _check_bytes(size, str(path), max_bytes)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageError(f"image {path} cannot be read: {e}") from e
    return _decode(data, str(path), max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side)


def image_from_bytes(
    data: bytes, *, max_bytes: int, max_pixels: int, max_side: int = MAX_SIDE, name: str = "uploaded image"
) -> Image.Image:
    """Like `open_image` for an upload's bytes; `name` is used in error messages."""
    _check_bytes(len(data), name, max_bytes)
    return _decode(data, name, max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side)


def _check_bytes(size: int, name: str, max_bytes: int) -> None:
    if size == 0:
        raise ImageError(f"image {name} is empty (0 bytes)")
    if size > max_bytes:
        raise ImageError(f"image {name} is too big: {size:,} bytes, over the limit of {max_bytes:,}; "
                         "shrink it or raise max_image_bytes")


def _decode(data: bytes, name: str, *, max_bytes: int, max_pixels: int, max_side: int) -> Image.Image:
    _check_bytes(len(data), name, max_bytes)
    try:
        im = Image.open(io.BytesIO(data))  # lazy: parses the header only
    except UnidentifiedImageError as e:
        raise ImageError(f"image {name} is not an image (or not a format Pillow can read)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image {name} has too many pixels: {e}") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"image {name} is corrupt: {e}") from e
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageError(f"image {name} has an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageError(f"image {name} has too many pixels: {width}x{height} = {width * height:,}, over the "
                         f"limit of {max_pixels:,}; shrink it or raise max_image_pixels")
    try:
        im.draft("RGB", (max_side, max_side))  # JPEG decodes at a reduced scale; other formats ignore it
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image {name} has too many pixels: {e}") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"image {name} is truncated or corrupt ({im.format} {width}x{height}): {e}") from e
    return _to_rgb(im, name, max_side)


def _to_rgb(im: Image.Image, name: str, max_side: int) -> Image.Image:
    """Upright RGB, transparency flattened over white, shrunk to `max_side`."""
    try:
        im = ImageOps.exif_transpose(im) or im
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        pass  # a broken EXIF orientation tag: keep the image as stored
    try:
        if im.mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, _BACKGROUND)
            flat.paste(rgba, mask=rgba.getchannel("A"))
            im = flat
        elif im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grey: scale to 8 bits first
            lo, hi = im.getextrema()  # type: ignore[misc]
            scale = 255.0 / (hi - lo) if hi > lo else 1.0
            im = im.point(lambda v: (v - lo) * scale).convert("L")
        if im.mode != "RGB":
            im = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise ImageError(f"image {name} has colour mode {im.mode!r}, not convertible to RGB: {e}") from e
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return im
