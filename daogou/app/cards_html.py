"""Product cards and chat text as HTML for the web widget: every catalog or shopper string escaped, images inlined.

Product text is data: titles, brands and attribute values go through `html.escape`, so `<script>` or
`<img src=x onerror=...>` in a catalog record is shown as text and never becomes an element; the chat renders no
Markdown, so `![x](http://...)` or `[text](url)` stays text too (no remote fetch, no link). Images are read from
the catalog record's own path, shrunk, and inlined as `data:` URIs: the app exposes no file route at all, so no
request can reach a file outside the catalog, and the cards render the same in an iframe, in the web component on
another site, and under a sub-path.
"""

from __future__ import annotations

import base64
import html
import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from daogou.ingest.images import ImageError, open_image
from daogou.prompts import render

__all__ = ["CARD_CSS", "ThumbnailCache", "card_html", "cards_html", "catalog_jpeg", "escape_text"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
THUMB_SIDE = 240  # px, long side of an inlined card image
MAX_ATTRIBUTES = 3  # key attributes shown on a card

CARD_CSS = """
.dg-cards{display:flex;flex-wrap:wrap;gap:8px}
.dg-card{flex:1 1 140px;max-width:200px;border:1px solid var(--border-color-primary);border-radius:8px;padding:6px;
 background:var(--background-fill-primary);font-size:13px;line-height:1.35}
.dg-card img,.dg-card .dg-noimg{width:100%;max-width:100%;margin:0 !important;box-sizing:border-box;
 aspect-ratio:1/1;object-fit:cover;border-radius:6px;display:block}
.dg-card .dg-noimg{background:var(--background-fill-secondary);text-align:center;line-height:120px;color:#888}
.dg-title{font-weight:600;margin:4px 0 2px;word-break:break-word}
.dg-price{color:#d0342c;font-weight:700}
.dg-meta{color:var(--body-text-color-subdued);font-size:12px;word-break:break-word}
.dg-out{color:#888}
@media (max-width:420px){.dg-card{flex:1 1 120px;max-width:48%}}
"""


def escape_text(text: str) -> str:
    """Shopper or model text for a chat bubble: HTML-escaped (shows literally, never runs), line breaks kept."""
    return html.escape(text or "", quote=True).replace("\n", "<br>")


def catalog_jpeg(path: str | Path | None, *, max_bytes: int, max_pixels: int, side: int) -> bytes | None:
    """The catalog picture at `path` as JPEG bytes, at most `side` px on its long side; None when there is none, it
    is not a picture file, or it cannot be read (an ImageError: too big, corrupt, not an image)."""
    if not path:
        return None
    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
        return None
    try:
        im = open_image(p, max_bytes=max_bytes, max_pixels=max_pixels, max_side=side)
    except ImageError:
        return None
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


class ThumbnailCache:
    """Small JPEG `data:` URIs of catalog images, made once per (path, mtime); the `max_entries` latest are kept."""

    def __init__(self, *, max_bytes: int, max_pixels: int, side: int = THUMB_SIDE, max_entries: int = 2048) -> None:
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.side = side
        self.max_entries = max_entries
        self._cache: OrderedDict[tuple[str, float], str | None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """How many images are cached now (at most `max_entries`)."""
        return len(self._cache)

    def data_uri(self, path: str | None) -> str | None:
        """The image at the catalog path `path` as a data URI, or None if there is none or it cannot be read."""
        if not path:
            return None
        p = Path(path)
        if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            return None
        key = (str(p), p.stat().st_mtime)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = catalog_jpeg(p, max_bytes=self.max_bytes, max_pixels=self.max_pixels, side=self.side)
        uri = None if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
        with self._lock:
            self._cache[key] = uri
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return uri


def _amount(price: float) -> str:
    return f"{price:,.0f}" if float(price).is_integer() else f"{price:,.2f}"


def _price(card: dict[str, Any], lang: str) -> str:
    """"¥199", "18.50–21 USD" (a range when the variants' prices differ): the currency the catalog gives."""
    price = card.get("price")
    if price is None:
        return render("ui", "price_unknown", lang=lang)
    amount = _amount(price)
    if card.get("price_max") is not None and card["price_max"] != price:
        amount += f"–{_amount(card['price_max'])}"
    currency = card.get("currency") or "CNY"
    return f"¥{amount}" if currency == "CNY" else f"{amount} {currency}"


def _stock(card: dict[str, Any], lang: str) -> str:
    stock = card.get("stock")
    if stock is None:
        return ""
    if stock == 0:
        return f'<span class="dg-out">{escape_text(render("ui", "out_of_stock", lang=lang))}</span>'
    return escape_text(render("ui", "in_stock", lang=lang, n=stock))


def card_html(card: dict[str, Any], lang: str, thumbs: ThumbnailCache | None = None) -> str:
    """One product card (image, title, price, key attributes, stock) as one line of HTML, all text escaped."""
    uri = thumbs.data_uri(card.get("image")) if thumbs else None
    title = escape_text(str(card.get("title", "")))
    pid = escape_text(str(card.get("id", "")))
    img = (f'<img src="{uri}" alt="{title}">' if uri
           else f'<div class="dg-noimg">{escape_text(render("ui", "no_image", lang=lang))}</div>')
    attrs = list((card.get("attributes") or {}).items())[:MAX_ATTRIBUTES]
    meta = " · ".join(escape_text(f"{k}: {v}") for k, v in attrs)
    brand = escape_text(str(card.get("brand") or ""))
    return (f'<div class="dg-card">{img}<div class="dg-title">{title}</div>'
            f'<div><span class="dg-price">{escape_text(_price(card, lang))}</span> {_stock(card, lang)}</div>'
            f'<div class="dg-meta"><span class="dg-id">{pid}</span>{" · " + brand if brand else ""}</div>'
            f'<div class="dg-meta">{meta}</div></div>')


def cards_html(cards: list[dict[str, Any]], lang: str, thumbs: ThumbnailCache | None = None) -> str:
    """A row of product cards as one line of HTML (one line: Markdown must not split it into paragraphs)."""
    return '<div class="dg-cards">' + "".join(card_html(c, lang, thumbs) for c in cards) + "</div>"
