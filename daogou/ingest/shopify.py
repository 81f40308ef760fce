"""Shopify product export CSV -> raw Product rows (one per Handle), and HTML descriptions -> plain text.

The CSV itself is split into cells by `daogou.ingest.readers`; this module knows Shopify's columns,
in both the classic names ("Handle", "Body (HTML)", "Variant Price", "Image Src", ...) and the renamed
ones of newer admin exports ("URL handle", "Description", "Price", "Product image URL", ...).

Rows sharing a Handle are one product (variants and extra images). Shopify writes them consecutively,
so only the current product's rows are buffered; a handle that turns up again after other products is
reported as a duplicate, not merged. A blank Handle on a row without a Title continues the product above.

What the export means is kept: the product's price is its lowest variant price, every variant (option
values, price, stock, SKU) is kept in `variants`, and the option values are attributes under the shop's
own option names (Color: Red/Blue), once. Products whose Status is draft, archived or unlisted are not for
sale: they come out as `NotForSale` items (counted by the reader, never stored). A Shopify export has no
currency column: the reader gives its products the shop's currency (`--currency`), or CNY with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any

from daogou.ingest.schema import RowError

__all__ = ["NOT_FOR_SALE", "NotForSale", "html_to_text", "is_shopify_header", "shopify_rows"]

_ALIASES: dict[str, tuple[str, ...]] = {  # our key -> Shopify column names, lower-cased
    "handle": ("handle", "url handle"),
    "title": ("title",),
    "body": ("body (html)", "description"),
    "vendor": ("vendor",),
    "type": ("type",),
    "category": ("product category",),
    "tags": ("tags",),
    "published": ("published", "published on online store"),
    "status": ("status",),
    "price": ("variant price", "price"),
    "sku": ("variant sku", "sku"),
    "qty": ("variant inventory qty", "inventory quantity"),
    "tracker": ("variant inventory tracker", "inventory tracker"),
    "image": ("image src", "product image url", "image source"),
    "image_pos": ("image position",),
    "variant_image": ("variant image", "variant image url"),
    **{f"opt{i}_name": (f"option{i} name",) for i in (1, 2, 3)},
    **{f"opt{i}_value": (f"option{i} value",) for i in (1, 2, 3)},
}
_MARKERS = frozenset({
    "body (html)", "variant price", "variant sku", "variant inventory qty", "image src", "option1 name",
    "option1 value", "published on online store", "product image url", "variant image url",
})
# Statuses of products that are not for sale in the shop (unlisted: reachable only by a direct link, kept out
# of search and recommendations by Shopify itself). Anything else (active, or no Status column) is for sale.
NOT_FOR_SALE = frozenset({"draft", "archived", "unlisted"})


@dataclass(frozen=True)
class NotForSale:
    """A product the export marks draft, archived or unlisted: left out of the catalog, counted, not an error."""

    line: int
    product_id: str
    status: str

_Row = dict[str, str]
_Cells = tuple[int, list[str], list[str]]  # (first line of the record, header, cells)


def is_shopify_header(header: Iterable[str]) -> bool:
    """True for a Shopify product export header: a Handle column, plus Shopify columns or no `id`."""
    names = {h.strip().lower() for h in header}
    return bool(names & {"handle", "url handle"}) and ("id" not in names or bool(names & _MARKERS))


def shopify_rows(records: Iterable[_Cells | RowError], source: str
                 ) -> Iterator[tuple[int, dict[str, Any]] | RowError | NotForSale]:
    """Group CSV records by Handle; yield (first line of the group, raw Product row), a RowError, or NotForSale."""
    started: dict[str, int] = {}  # handle -> first line of its group
    group: list[tuple[int, _Row]] = []
    tracked_column = False
    planned: list[str] | None = None
    plan: list[tuple[str, list[int]]] = []
    for item in records:
        if isinstance(item, RowError):
            yield item
            continue
        line, header, cells = item
        if header is not planned:
            planned, plan = header, _plan(header)
            tracked_column = any(key == "tracker" for key, _ in plan)
        row = _row(plan, cells)
        handle = row.get("handle", "")
        if not handle:
            if group and not row.get("title"):
                group.append((line, row))  # a continuation row with the Handle left blank
                continue
            if group:
                yield _product(group, source, started, tracked_column)
                group = []
            yield RowError(source=source, line=line, reason="no Handle; daogou uses the Shopify "
                           "Handle (URL handle) as the product id, fill it in")
            continue
        if group and group[0][1]["handle"] == handle:
            group.append((line, row))
            continue
        if group:
            yield _product(group, source, started, tracked_column)
        group = [(line, row)]
    if group:
        yield _product(group, source, started, tracked_column)


def _plan(header: list[str]) -> list[tuple[str, list[int]]]:
    """(our key, indexes of the columns that may hold it, in alias order) for the columns present."""
    index = {h.lower(): i for i, h in enumerate(header)}
    plan = [(key, [index[n] for n in names if n in index]) for key, names in _ALIASES.items()]
    return [(key, idx) for key, idx in plan if idx]


def _row(plan: list[tuple[str, list[int]]], cells: list[str]) -> _Row:
    row = {}
    for key, indexes in plan:
        for i in indexes:
            value = cells[i].strip()
            if value:
                row[key] = value
                break
    return row


def _first(rows: list[_Row], key: str) -> str:
    return next((r[key] for r in rows if r.get(key)), "")


def _number(row: _Row, key: str, label: str, line: int) -> float | None:
    raw = row.get(key)
    if raw is None:
        return None
    try:
        return float(raw.replace(",", "").lstrip("¥￥$€£").strip())
    except ValueError as e:
        raise ValueError(f"{label} {raw!r} on line {line} is not a number") from e


def _product(group: list[tuple[int, _Row]], source: str, started: dict[str, int],
             tracked_column: bool) -> tuple[int, dict[str, Any]] | RowError | NotForSale:
    """Collapse one product's rows into one raw Product row: price = the lowest variant price,
    stock = the sum of the variants' quantities (a negative, oversold count adds 0; with an inventory
    tracker column, variants whose tracker is blank are not counted, since Shopify keeps no stock for them),
    variants = one entry per variant row (option values, price, stock, SKU) when there are two or more.
    """
    first_line, handle = group[0][0], group[0][1]["handle"]
    if handle in started:
        return RowError(source=source, line=first_line, product_id=handle, reason=f"duplicate id {handle} "
                        f"(first seen on line {started[handle]}); keep a product's Shopify rows together")
    started[handle] = first_line
    rows = [r for _, r in group]
    status = _first(rows, "status").lower()
    if status in NOT_FOR_SALE:
        return NotForSale(line=first_line, product_id=handle, status=status)
    title = _first(rows, "title")
    if not title:
        return RowError(source=source, line=first_line, product_id=handle,
                        reason=f"Shopify product {handle!r} has no Title on any of its rows; fill in Title")
    names = {i: _first(rows, f"opt{i}_name") or f"Option{i}" for i in (1, 2, 3)}
    variants: list[dict[str, Any]] = []
    try:
        for line, row in group:
            price = _number(row, "price", "Variant Price", line)
            qty = _number(row, "qty", "Variant Inventory Qty", line)
            stock = None
            if qty is not None and (row.get("tracker") or not tracked_column):
                if not qty.is_integer():
                    raise ValueError(f"Variant Inventory Qty {row['qty']!r} on line {line} is not whole")
                stock = max(int(qty), 0)
            options = {names[i]: row[f"opt{i}_value"] for i in (1, 2, 3)
                       if row.get(f"opt{i}_value", "") not in ("", "Default Title")}
            if price is not None or stock is not None or options or row.get("sku"):  # not an image-only row
                variants.append({"options": options, "price": price, "stock": stock, "sku": row.get("sku", "")})
    except ValueError as e:
        return RowError(source=source, line=first_line, product_id=handle, reason=str(e))
    prices = [v["price"] for v in variants if v["price"] is not None]
    stocks = [v["stock"] for v in variants if v["stock"] is not None]
    tags = [t.strip() for t in _first(rows, "tags").split(",") if t.strip()]
    if _first(rows, "published").lower() in {"false", "no", "0"}:
        tags.append("unpublished")
    category = _first(rows, "type")
    if not category:  # "Apparel & Accessories > Clothing > Shirts" -> "Shirts"; taxonomy ids are dropped
        leaf = _first(rows, "category").split(">")[-1].strip()
        category = "" if leaf.isdigit() or leaf.startswith("gid://") else leaf
    return first_line, {
        "id": handle, "title": title, "description": html_to_text(_first(rows, "body")),
        "brand": _first(rows, "vendor"), "category": category, "tags": list(dict.fromkeys(tags)),
        "price": min(prices) if prices else None, "stock": sum(stocks) if stocks else None,
        "images": _images(rows), "attributes": _options(rows), "variants": variants if len(variants) > 1 else [],
    }


def _images(rows: list[_Row]) -> list[str]:
    """Distinct image URLs by Image Position; variant images (no position) after them, in file order."""
    found: list[tuple[float, int, str]] = []
    for i, row in enumerate(rows):
        pos = row.get("image_pos", "")
        if row.get("image"):
            found.append((float(pos) if pos.isdigit() else float("inf"), i, row["image"]))
        if row.get("variant_image"):
            found.append((float("inf"), i, row["variant_image"]))
    return list(dict.fromkeys(url for _, _, url in sorted(found)))


def _options(rows: list[_Row]) -> dict[str, str]:
    """{"Color": "Red/Blue", "Size": "S/M"}: the shop's option names, each once, with their distinct values in
    file order (the store's colour and size filters read Color/Colour/Size keys as they are)."""
    attrs: dict[str, str] = {}
    for i in (1, 2, 3):
        values = [r[f"opt{i}_value"] for r in rows if r.get(f"opt{i}_value", "") not in ("", "Default Title")]
        if not values:
            continue
        name = _first(rows, f"opt{i}_name") or f"Option{i}"
        attrs[name] = "/".join(dict.fromkeys(values))
    return attrs


# --- HTML -> text -----------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe", "object"})
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table"})
_LINE_TAGS = frozenset({"br", "div", "li", "tr", "section", "article", "header", "footer", "pre", "hr",
                        "dl", "dt", "dd", "figure", "figcaption", "address"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0  # depth inside <script>, <style>, ...
        self.pending = 0  # line breaks owed before the next text: 1 = new line, 2 = new paragraph
        self.bullet = False

    def _brk(self, n: int) -> None:
        self.pending = max(self.pending, n)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif self.skipping:
            return
        elif tag == "br":
            self.pending = min(self.pending + 1, 2)
        elif tag in _PARAGRAPH_TAGS:
            self._brk(2)
        elif tag in _LINE_TAGS:
            self._brk(1)
            self.bullet = tag == "li"
        elif tag in ("td", "th") and not self.pending:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(self.skipping - 1, 0)
        elif self.skipping:
            return
        elif tag in _PARAGRAPH_TAGS:
            self._brk(2)
        elif tag in _LINE_TAGS and tag != "br":
            self._brk(1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if not text.strip():
            if not self.pending:
                self.parts.append(text)
            return
        if self.pending:
            if self.parts:
                self.parts.append("\n" * self.pending)
            text = text.lstrip()
        if self.bullet:
            text, self.bullet = "- " + text.lstrip(), False
        self.pending = 0
        self.parts.append(text)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities unescaped, block elements on their own
    lines, paragraphs apart by one blank line, `<script>`/`<style>` content dropped. Text without tags
    is only unescaped, so its own line breaks are kept."""
    if not html.strip():
        return ""
    if not re.search(r"<[a-zA-Z/!]", html):
        text = unescape(html).replace("\r\n", "\n").replace("\r", "\n")
    else:
        parser = _TextExtractor()
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\xa0]+", " ", ln).strip() for ln in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
