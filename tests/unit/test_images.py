"""Safe image opening: every bad case is refused with a clear ImageError; good images come out small RGB."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from daogou.ingest.images import MAX_SIDE, ImageError, image_from_bytes, open_image

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 40_000_000}


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header announces width x height pixels, with a tiny (invalid) body: no decoding needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def _encoded(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        open_image(tmp_path / "nope.jpg", **LIMITS)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is not a file"):
        open_image(tmp_path, **LIMITS)


def test_zero_byte_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        open_image(_write(tmp_path / "empty.png", b""), **LIMITS)


def test_file_too_big_in_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.png", _encoded(Image.new("RGB", (64, 64), "red")))
    with pytest.raises(ImageError, match=r"too big: .* bytes, over the limit of 100"):
        open_image(path, max_bytes=100, max_pixels=10**6)


def test_text_file_named_png(tmp_path: Path) -> None:
    path = _write(tmp_path / "fake.png", "这不是图片 this is not an image\n".encode())
    with pytest.raises(ImageError, match="is not an image"):
        open_image(path, **LIMITS)


def test_truncated_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = _encoded(Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)))
    path = _write(tmp_path / "cut.png", data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(path, **LIMITS)


def test_truncated_jpeg_bytes() -> None:
    rng = np.random.default_rng(1)
    data = _encoded(Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        image_from_bytes(data[: len(data) // 3], **LIMITS)


@pytest.mark.parametrize("side", [20_000, 8_000])  # over Pillow's own bomb limit / only over ours
def test_pixel_bomb_refused_from_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: int
) -> None:
    path = _write(tmp_path / "bomb.png", _png_header(side, side))
    assert path.stat().st_size < 200

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageError, match="too many pixels"):
        open_image(path, **LIMITS)
    assert time.perf_counter() - started < 1.0


def test_pixel_limit_message_names_size(tmp_path: Path) -> None:
    path = _write(tmp_path / "wide.png", _png_header(8_000, 6_000))
    with pytest.raises(ImageError, match=r"8000x6000 = 48,000,000, over the limit of 40,000,000"):
        open_image(path, **LIMITS)


def test_rgba_becomes_rgb_over_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (10, 10, 30, 30))
    out = open_image(_write(tmp_path / "a.png", _encoded(im)), **LIMITS)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((20, 20)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("P", "PNG"), ("L", "PNG"), ("1", "PNG"), ("LA", "PNG"), ("CMYK", "JPEG"), ("I;16", "PNG")],
)
def test_other_modes_become_rgb(mode: str, fmt: str) -> None:
    out = image_from_bytes(_encoded(Image.new(mode, (30, 20)), fmt), **LIMITS)
    assert out.mode == "RGB"
    assert out.size == (30, 20)


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))
    im.info["transparency"] = 0
    out = open_image(_write(tmp_path / "p.png", _encoded(im)), **LIMITS)
    assert out.getpixel((2, 2)) == (0, 255, 0)
    assert out.getpixel((8, 8)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_image_shrunk_to_max_side(fmt: str) -> None:
    out = image_from_bytes(_encoded(Image.new("RGB", (2000, 1000), "blue"), fmt), **LIMITS)
    assert out.mode == "RGB"
    assert max(out.size) == MAX_SIDE
    assert out.size == (512, 256)


def test_small_image_kept_at_its_size() -> None:
    out = image_from_bytes(_encoded(Image.new("RGB", (100, 50), "green")), **LIMITS)
    assert out.size == (100, 50)


def test_bytes_share_the_checks() -> None:
    with pytest.raises(ImageError, match=r"uploaded image is empty"):
        image_from_bytes(b"", **LIMITS)
    with pytest.raises(ImageError, match=r"photo.jpg is not an image"):
        image_from_bytes(b"<html>hello</html>", name="photo.jpg", **LIMITS)
    with pytest.raises(ImageError, match="too big"):
        image_from_bytes(b"x" * 101, max_bytes=100, max_pixels=100)
    with pytest.raises(ImageError, match="too many pixels"):
        image_from_bytes(_png_header(20_000, 20_000), **LIMITS)


def test_exif_orientation_applied() -> None:
    im = Image.new("RGB", (60, 30), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    out = image_from_bytes(buf.getvalue(), **LIMITS)
    assert out.size == (30, 60)
