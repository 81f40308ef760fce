"""Shopper photo uploads for the web widget and API: one folder, only files uploaded there, checked, then deleted.

Every photo a shopper sends comes through Gradio's upload route into ``<home>/uploads/incoming`` (the server
points Gradio's upload folder there). `UploadFolder.confine` is installed on every input component of the app
(`confine_file_inputs`), so Gradio reads, copies or downloads no other path or URL: a client that names
``/etc/passwd`` or ``http://...`` as a file gets an error and nothing is read. A turn `claim`s the photo into the
shopper's own folder, decodes it (`read_upload`: type, bytes, format allowlist, pixel cap, decoded safely) and
deletes it; photos never used are deleted by `sweep` once older than the TTL, or oldest first when the folder
is over its size cap, and `purge_user` (run by `daogou user delete`) deletes whatever a shopper left behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from daogou.app.cards_html import IMAGE_SUFFIXES
from daogou.ingest.images import ImageError, image_from_bytes
from daogou.prompts import render
from daogou.settings import Settings

__all__ = ["UPLOAD_FORMATS", "UploadError", "UploadFolder", "confine_file_inputs", "read_upload",
           "uploads_root"]

log = logging.getLogger(__name__)

UPLOAD_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # Pillow decoders an upload may reach (no EPS, PSD, TIFF...)


class UploadError(ValueError):
    """An upload the widget refuses; the message is written for the shopper (in the UI language)."""


def uploads_root(settings: Settings) -> Path:
    """The one folder that holds shopper uploads."""
    return settings.home / "uploads"


def _user_folder_name(user_id: str) -> str:
    """A stable, non-reversible folder name per shopper (any process can find it; the id is not on disk)."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


class UploadFolder:
    """``root/incoming`` (Gradio's upload folder) and ``root/users/<hash of user id>`` (photos in a turn)."""

    def __init__(self, root: Path, *, max_age_s: float = 600, max_total_bytes: int = 256 * 2**20) -> None:
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self.users = self.root / "users"
        self.max_age_s = max_age_s
        self.max_total_bytes = max_total_bytes

    def create(self) -> None:
        """Make the folders (owner-only: shoppers' photos are personal data)."""
        for folder in (self.root, self.incoming, self.users):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- the boundary -----------------------------------------------------------------------------------
    def confine(self, path: object) -> Path:
        """`path` as a real file inside the incoming folder, or `UploadError`; nothing outside it is opened.

        Refuses URLs, paths elsewhere (also through ``..`` or a symlink), folders and special files
        (``/dev/zero`` would hold a worker forever).
        """
        if not isinstance(path, str | Path) or not str(path):
            raise UploadError(f"a file must be sent through the upload route, not {type(path).__name__} {path!r}")
        raw = str(path)
        if "://" in raw:
            raise UploadError(f"{raw[:80]!r} is a URL; this server fetches nothing: upload the file itself "
                              "(gradio_client: handle_file(path))")
        try:
            real = Path(os.path.realpath(raw))
            inside = real.is_relative_to(Path(os.path.realpath(self.incoming)))
        except (OSError, ValueError) as e:
            raise UploadError(f"{raw[:80]!r} is not an uploaded file: {e}") from e
        if not inside:
            raise UploadError(f"{raw[:80]!r} was not uploaded to this server; send the file itself through the "
                              "upload route (gradio_client: handle_file(path))")
        if not real.is_file():
            raise UploadError(f"{real.name!r} is not a regular uploaded file")
        return real

    def claim(self, path: str | Path, user_id: str) -> Path:
        """Move an uploaded file (checked with `confine`) into the shopper's folder; returns its new path."""
        src = self.confine(path)
        folder = self.users / _user_folder_name(user_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        dest = folder / f"{uuid.uuid4().hex}{src.suffix.lower()[:8]}"
        shutil.move(src, dest)
        _remove_empty(src.parent, stop=self.incoming)
        return dest

    # -- cleaning ---------------------------------------------------------------------------------------
    def sweep(self, now: float | None = None) -> int:
        """Delete uploads older than `max_age_s`, then the oldest until the folder is under `max_total_bytes`."""
        now = time.time() if now is None else now
        files: list[tuple[float, int, Path]] = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                p = Path(dirpath) / name
                try:
                    st = p.lstat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, p))
        removed = 0
        total = sum(size for _, size, _ in files)
        for mtime, size, p in sorted(files):  # oldest first
            if now - mtime <= self.max_age_s and total <= self.max_total_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
            removed += 1
            _remove_empty(p.parent, stop=self.root)
        if removed:
            log.info("uploads: deleted %d files (older than %.0f s or over %d bytes)", removed, self.max_age_s,
                     self.max_total_bytes)
        return removed

    def purge_user(self, user_id: str) -> int:
        """Delete every photo of the shopper still on disk; returns how many files were deleted."""
        folder = self.users / _user_folder_name(user_id)
        if not folder.is_dir():
            return 0
        n = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return n


def _remove_empty(folder: Path, *, stop: Path) -> None:
    """Remove `folder` and its empty parents up to (not including) `stop`."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def confine_file_inputs(blocks: Any, folder: UploadFolder, message: Callable[[UploadError], str]) -> None:
    """Make every component of `blocks` refuse any file that is not an upload in `folder` (see module doc).

    Gradio copies each file named in a request's data into its cache *before* the event function runs, and
    when an app is mounted (not launched) it skips its own check of where the path points; every component's
    value may carry such a file (a chat history, a browser-state dict), so the check goes on all of them.
    """
    import gradio as gr

    def guarded(move: Callable[[Any], Any], is_async: bool) -> Callable[[Any], Any]:
        def check(url_or_file_path: Any) -> Any:
            if url_or_file_path is None:
                return None
            try:
                folder.confine(url_or_file_path)
            except UploadError as e:
                log.warning("refused a file outside the upload folder")
                raise gr.Error(message(e), print_exception=False) from e
            return url_or_file_path

        if is_async:
            async def move_async(url_or_file_path: Any) -> Any:
                return await move(check(url_or_file_path))
            return move_async
        return lambda url_or_file_path: move(check(url_or_file_path))

    for block in [blocks, *blocks.blocks.values()]:
        block.async_move_resource_to_block_cache = guarded(block.async_move_resource_to_block_cache, True)
        block.move_resource_to_block_cache = guarded(block.move_resource_to_block_cache, False)


def read_upload(path: str | Path, settings: Settings, lang: str, name: str | None = None) -> Image.Image:
    """The uploaded image at `path` (already confined), or `UploadError` with a message for the shopper.

    `name` is the file name the shopper sent (the suffix and the messages use it); default: the path's.

    Checked before any pixel is decoded: the file name's type, its size, the format in its header (only
    `UPLOAD_FORMATS`: an EPS renamed .png is refused) and its pixel count (`ui_max_upload_pixels`).
    """
    p = Path(path)
    name = Path(name or p.name).name
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        raise UploadError(render("ui", "upload_bad_type", lang=lang, file=name))
    try:
        size = p.stat().st_size
    except OSError as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
    limit = min(settings.ui_max_upload_bytes, settings.max_image_bytes)
    if size > limit:
        raise UploadError(render("ui", "upload_too_big", lang=lang, size_mb=f"{size / 2**20:.1f}",
                                 limit_mb=f"{limit / 2**20:.0f}"))
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
    max_pixels = min(settings.ui_max_upload_pixels, settings.max_image_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as probe:  # the header only
            width, height = probe.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
    if width * height > max_pixels:
        raise UploadError(render("ui", "upload_too_many_pixels", lang=lang, width=width, height=height,
                                 limit_mp=f"{max_pixels / 1e6:.0f}"))
    try:
        return image_from_bytes(data, max_bytes=limit, max_pixels=max_pixels, name=name)
    except (ImageError, OSError) as e:
        raise UploadError(render("ui", "upload_unreadable", lang=lang)) from e
