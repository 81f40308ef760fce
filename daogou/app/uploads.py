"""Shopper photo uploads for the web widget: type and size checked, then decoded safely; friendly errors."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from daogou.app.cards_html import IMAGE_SUFFIXES
from daogou.ingest.images import ImageError, image_from_bytes
from daogou.prompts import render
from daogou.settings import Settings

__all__ = ["UploadError", "read_upload"]


class UploadError(ValueError):
    """An upload the widget refuses; the message is written for the shopper (in the UI language)."""


def read_upload(path: str | Path, settings: Settings, lang: str) -> Image.Image:
    """The uploaded image at `path` (a file Gradio saved), or `UploadError` with a message for the shopper."""
    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise UploadError(render("ui", "upload_bad_type", lang=lang, file=p.name))
    try:
        size = p.stat().st_size
    except OSError as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
    limit = min(settings.ui_max_upload_bytes, settings.max_image_bytes)
    if size > limit:
        raise UploadError(render("ui", "upload_too_big", lang=lang, size_mb=f"{size / 2**20:.1f}",
                                 limit_mb=f"{limit / 2**20:.0f}"))
    try:
        return image_from_bytes(p.read_bytes(), max_bytes=limit, max_pixels=settings.max_image_pixels, name=p.name)
    except (ImageError, OSError) as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
