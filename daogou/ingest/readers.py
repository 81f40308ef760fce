"""Catalog file readers: JSON Lines, JSON, our CSV and Shopify's product export CSV -> Product | RowError.

`read_catalog(path)` checks the whole file first (extension, encoding, CSV header) and raises
`CatalogFormatError` for a file it cannot read at all; it then streams one validated `Product` or one
`RowError` (file name, 1-based physical line, reason) per record. A bad row never stops the file (JSON
nested too deeply to parse is a bad row too), and a duplicate id is reported, never silently overwritten.
`CatalogReader` is the same stream plus `ReadNotes`: what the ingest reports once per file (CSV columns read
as attributes, rows that took the default currency, Shopify products not for sale).

CSV: columns named like Product fields fill them (case-insensitive); every other named column becomes an
attribute under its own name (`attr:颜色` / `attributes.颜色` say so explicitly); an `attributes` column may hold
JSON (`{"颜色": "红色"}`) or pairs (`颜色=红色;尺码=M`), and a `variants` column a JSON list of variants.

Memory: JSON Lines and CSV are streamed (the encoding check reads the bytes once more, in chunks);
a `.json` list is loaded whole (use JSON Lines for big catalogs); Shopify exports buffer one product's
rows at a time (see `daogou.ingest.shopify`).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from daogou.ingest.schema import DEFAULT_CURRENCY, Product, RowError, normalize_currency, validate_row
from daogou.ingest.shopify import NotForSale, html_to_text, is_shopify_header, shopify_rows

__all__ = ["CatalogFormat", "CatalogFormatError", "CatalogReader", "ReadNotes", "detect_format", "html_to_text",
           "json_lines", "read_catalog", "read_catalog_lines"]

CatalogFormat = Literal["jsonl", "json", "csv", "shopify"]
_SUFFIXES: dict[str, CatalogFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
_FIELDS = frozenset(Product.model_fields)
_ATTR_PREFIXES = ("attr:", "attributes.")
_CHUNK = 1 << 20
_PAIR_SEPARATORS = re.compile(r"[;；|]")
_PAIR = re.compile(r"\s*([^=:：]+)[=:：](.*)")

_Item = tuple[int, dict[str, Any]] | RowError | NotForSale
_TOO_DEEP = "nested too deeply to read (over ~1,000 levels of [ or {); a product is a flat object, see README"


class CatalogFormatError(ValueError):
    """The file as a whole cannot be read (unknown extension, encoding, CSV header); nothing was read."""


@dataclass
class ReadNotes:
    """What reading one catalog file found besides products and row errors, for the ingest report."""

    source: str  # the file's name, as in row errors
    format: CatalogFormat
    encoding: str
    attribute_columns: list[str] = field(default_factory=list)  # CSV columns read as attributes
    unnamed_columns: list[int] = field(default_factory=list)  # 1-based CSV columns with an empty header, ignored
    records: int = 0  # products + rejected rows + products not for sale: 0 means the file holds nothing
    default_currency: str = DEFAULT_CURRENCY  # what a product that states no currency gets
    currency_defaulted: int = 0  # products that stated no currency (Shopify exports never do)
    not_for_sale: dict[str, list[str]] = field(default_factory=dict)  # Shopify status -> ids left out


class CatalogReader:
    """One catalog file: `notes` (format, encoding, columns) at once, then products and row errors when iterated.

    Whole-file problems raise `CatalogFormatError` in the constructor. Iterating yields (line, Product) or
    RowError in file order and fills in the counts of `notes`; a reader is iterated once.
    `default_currency` (e.g. "USD") is what rows that state no currency get (else CNY).
    """

    def __init__(self, path: Path, *, default_currency: str | None = None) -> None:
        self.path = Path(path)
        try:
            currency = normalize_currency(default_currency) or DEFAULT_CURRENCY
        except ValueError as e:
            raise ValueError(f"default currency: {e}") from e
        fmt, encoding, header = _sniff(self.path)
        self.notes = ReadNotes(source=self.path.name, format=fmt, encoding=encoding, default_currency=currency)
        if header is not None:
            self.notes.unnamed_columns = [i + 1 for i, h in enumerate(header) if not h]
            if fmt == "csv":
                self.notes.attribute_columns = [name for _, is_attr, name in _csv_plan(header) if is_attr]

    def __iter__(self) -> Iterator[tuple[int, Product] | RowError]:
        path, encoding = self.path, self.notes.encoding
        items: Iterator[_Item]
        if self.notes.format == "jsonl":
            items = _jsonl_items(path, encoding)
        elif self.notes.format == "json":
            items = _json_items(path, encoding)
        elif self.notes.format == "csv":
            items = _csv_items(path, encoding)
        else:
            items = shopify_rows(_cells(path, encoding), path.name)
        return _validated(items, self.notes)


def read_catalog(path: Path, *, default_currency: str | None = None) -> Iterator[Product | RowError]:
    """Read one catalog file into validated products and row errors, streamed in file order.

    See `read_catalog_lines` for the same stream with each product's line number.
    """
    items = read_catalog_lines(path, default_currency=default_currency)  # raises here, not on first next()
    return (item if isinstance(item, RowError) else item[1] for item in items)


def read_catalog_lines(path: Path, *, default_currency: str | None = None
                       ) -> Iterator[tuple[int, Product] | RowError]:
    """Read one catalog file into (line, product) pairs and row errors, streamed in file order.

    The format is chosen by extension and, for `.csv`, by header (see `detect_format`). Whole-file
    problems raise `CatalogFormatError` here, before the first item. `default_currency` (e.g. "USD")
    is used for rows that state none; Shopify exports never do, and without it they get CNY.
    Products a Shopify export marks draft, archived or unlisted are left out (`CatalogReader` counts them).
    """
    return iter(CatalogReader(path, default_currency=default_currency))


def detect_format(path: Path) -> CatalogFormat:
    """Say how `read_catalog` will read a file: "jsonl", "json", "csv" or "shopify" (a Shopify export).

    A `.json` file whose first character is not `[` is read as JSON Lines.
    """
    return _sniff(Path(path))[0]


def _sniff(path: Path) -> tuple[CatalogFormat, str, list[str] | None]:
    """(format, encoding, CSV header or None for JSON), or CatalogFormatError."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise CatalogFormatError(
            f"{path}: unknown catalog extension {path.suffix!r}; use .jsonl/.ndjson (one JSON object per "
            f"line), .json (a list of objects) or .csv (a spreadsheet saved as 'CSV UTF-8')")
    encoding = _detect_encoding(path)
    if kind == "json":
        with path.open(encoding=encoding) as f:
            head = f.read(4096).lstrip()
        return ("json" if head.startswith("[") else "jsonl"), encoding, None
    if kind == "jsonl":
        return "jsonl", encoding, None
    header = _csv_header(path, encoding)
    names = {h.lower() for h in header}
    if is_shopify_header(header):
        if "title" not in names:
            raise CatalogFormatError(f"{path}: Shopify export without a Title column; export it again "
                                     f"with all columns, or add Title")
        return "shopify", encoding, header
    missing = [c for c in ("id", "title") if c not in names]
    if missing:
        raise CatalogFormatError(
            f"{path}: CSV header lacks the required column(s) {', '.join(missing)} (found: "
            f"{', '.join(header[:12]) or 'nothing'}); name the columns like the Product fields "
            f"(id, title, description, price, ...) or give a Shopify product export")
    return "csv", encoding, header


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK), else a CatalogFormatError."""
    with path.open("rb") as f:
        if f.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return "utf-16"
    bad = _first_bad_byte(path, "utf-8")
    if bad is None:
        return "utf-8-sig"
    if _first_bad_byte(path, "gb18030") is None:
        return "gb18030"
    raise CatalogFormatError(
        f"{path}: neither UTF-8 (bad byte at offset {bad}) nor GBK/GB18030; re-save it as UTF-8 "
        f"(in Excel: Save As 'CSV UTF-8'; in an editor: encoding UTF-8)")


def _first_bad_byte(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                return offset + max(e.start, 0)
            if not chunk:
                return None
            offset += len(chunk)


def _validated(items: Iterator[_Item], notes: ReadNotes) -> Iterator[tuple[int, Product] | RowError]:
    seen: dict[str, int] = {}
    source = notes.source
    for item in items:
        notes.records += 1
        if isinstance(item, NotForSale):
            notes.not_for_sale.setdefault(item.status, []).append(item.product_id)
            continue
        if isinstance(item, RowError):
            yield item
            continue
        line, raw = item
        stated = raw.get("currency")
        if stated is None or (isinstance(stated, str) and not stated.strip()):
            raw["currency"] = notes.default_currency
            defaulted = True
        else:
            defaulted = False
        result = validate_row(raw, source, line)
        if isinstance(result, Product):
            notes.currency_defaulted += defaulted
            if result.id in seen:
                yield RowError(source=source, line=line, product_id=result.id,
                               reason=f"duplicate id {result.id} (first seen on line {seen[result.id]})")
                continue
            seen[result.id] = line
            yield line, result
        else:
            yield result


# --- JSON Lines / JSON ------------------------------------------------------------------------------

def _object_or_error(obj: Any, source: str, line: int) -> _Item:
    if isinstance(obj, dict):
        return line, obj
    return RowError(source=source, line=line, reason=f"expected a JSON object like "
                    f'{{"id": "P1", "title": "..."}}, got {type(obj).__name__}')


def json_lines(path: Path, encoding: str = "utf-8-sig") -> Iterator[tuple[int, Any, str]]:
    """(line number, parsed value, "") for each non-blank line of a JSON Lines file; (line, None, reason) for a
    line that is not JSON. Catalogs, interaction logs, query files and copy pairs are all read through here."""
    with path.open(encoding=encoding) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line), ""
            except json.JSONDecodeError as e:
                yield line_no, None, f"invalid JSON: {e.msg} (character {e.pos + 1})"
            except RecursionError:
                yield line_no, None, f"invalid JSON: {_TOO_DEEP}"


def _jsonl_items(path: Path, encoding: str) -> Iterator[_Item]:
    for line_no, obj, problem in json_lines(path, encoding):
        if problem:
            yield RowError(source=path.name, line=line_no, reason=problem)
            continue
        yield _object_or_error(obj, path.name, line_no)


def _json_items(path: Path, encoding: str) -> Iterator[_Item]:
    """Elements of a top-level JSON list, each with the line it starts on."""
    text = path.read_text(encoding=encoding)
    decoder, ws = json.JSONDecoder(), re.compile(r"\s*")
    idx = ws.match(text).end() + 1  # type: ignore[union-attr]  # just past the "["
    line, counted = 1, 0
    while True:
        idx = ws.match(text, idx).end()  # type: ignore[union-attr]
        if text.startswith("]", idx):
            return
        line, counted = line + text.count("\n", counted, idx), idx
        try:
            obj, idx = decoder.raw_decode(text, idx)
        except json.JSONDecodeError as e:
            yield RowError(source=path.name, line=e.lineno, reason=f"invalid JSON: {e.msg} (column "
                           f"{e.colno}); the rest of this .json file cannot be read: fix it, or use JSONL")
            return
        except RecursionError:
            yield RowError(source=path.name, line=line, reason=f"invalid JSON: {_TOO_DEEP}; the rest of this "
                           ".json file cannot be read: fix it, or use JSON Lines")
            return
        yield _object_or_error(obj, path.name, line)
        idx = ws.match(text, idx).end()  # type: ignore[union-attr]
        if text.startswith(",", idx):
            idx += 1
        elif not text.startswith("]", idx):
            bad = text.count("\n", 0, idx) + 1
            yield RowError(source=path.name, line=bad, reason="invalid JSON: expected ',' or ']' after an "
                           "object; the rest of this .json file cannot be read, fix it or use JSON Lines")
            return


# --- CSV --------------------------------------------------------------------------------------------

def _delimiter(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as f:
        first = f.readline()
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[int, list[str]] | RowError]:
    """Non-blank CSV records with the physical line each starts on (quoted fields may span lines)."""
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=_delimiter(path, encoding), strict=True)
        end = 0
        while True:
            start = end + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                hint = " (a quote is never closed)" if "end of data" in str(e) else ""
                yield RowError(source=path.name, line=start, reason=f"malformed CSV: {e}{hint}")
                end = reader.line_num
                continue
            end = reader.line_num
            if any(cell.strip() for cell in record):
                yield start, record


def _csv_header(path: Path, encoding: str) -> list[str]:
    for item in _csv_records(path, encoding):
        if isinstance(item, RowError):
            raise CatalogFormatError(f"{path}: unreadable CSV header: {item.reason}; fix the first line")
        header = [h.strip().lstrip("\ufeff") for h in item[1]]
        dupes = sorted({h for h in header if h and [x.lower() for x in header].count(h.lower()) > 1})
        if dupes:
            raise CatalogFormatError(f"{path}: column(s) {', '.join(dupes)} appear twice; keep one of each")
        return header
    raise CatalogFormatError(f"{path}: empty CSV, no header row; the first line must name the columns")


def _cells(path: Path, encoding: str) -> Iterator[tuple[int, list[str], list[str]] | RowError]:
    """(line, header, cells) per data record; a record longer than the header is a RowError."""
    header: list[str] | None = None
    for item in _csv_records(path, encoding):
        if isinstance(item, RowError):
            yield item
            continue
        if header is None:
            header = [h.strip().lstrip("\ufeff") for h in item[1]]
            continue
        line, cells = item
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            yield RowError(source=path.name, line=line, reason=f"{len(cells)} cells but the header has "
                           f"{len(header)} columns; quote cells that contain the delimiter")
            continue
        yield line, header, cells + [""] * (len(header) - len(cells))


def _csv_plan(header: list[str]) -> list[tuple[int, bool, str]]:
    """(column index, is an attribute, field or attribute name) for the columns that are read.

    A column named like a Product field fills it; `attr:X` / `attributes.X` and every other named column
    become attribute X. Columns with an empty name are not read (`ReadNotes.unnamed_columns`).
    """
    plan = []
    for i, name in enumerate(header):
        prefix = next((p for p in _ATTR_PREFIXES if name.lower().startswith(p)), None)
        if prefix is not None:
            if name[len(prefix):].strip():
                plan.append((i, True, name[len(prefix):].strip()))
        elif name.lower() in _FIELDS:
            plan.append((i, False, name.lower()))
        elif name.strip():
            plan.append((i, True, name.strip()))
    return plan


def _csv_items(path: Path, encoding: str) -> Iterator[_Item]:
    planned: list[str] | None = None
    plan: list[tuple[int, bool, str]] = []
    for item in _cells(path, encoding):
        if isinstance(item, RowError):
            yield item
            continue
        line, header, cells = item
        if header is not planned:
            planned, plan = header, _csv_plan(header)
        raw: dict[str, Any] = {}
        attrs: dict[str, str] = {}
        for i, is_attr, key in plan:
            value = cells[i].strip()
            if value:  # an empty cell leaves the field's default
                (attrs if is_attr else raw)[key] = value
        try:
            raw["attributes"] = {**_parse_attributes(raw.get("attributes", "")), **attrs}
        except ValueError as e:
            yield RowError(source=path.name, line=line, reason=f"attributes: {e}", product_id=raw.get("id"))
            continue
        if raw.get("variants"):
            try:
                raw["variants"] = _json_cell(raw["variants"], '[{"options": {"Size": "M"}, "price": 19.9}]')
            except ValueError as e:
                yield RowError(source=path.name, line=line, reason=f"variants: {e}", product_id=raw.get("id"))
                continue
        for key in ("tags", "images"):
            if "|" in raw.get(key, ""):
                raw[key] = [p.strip() for p in raw[key].split("|") if p.strip()]
        yield line, raw


def _json_cell(text: str, example: str) -> Any:
    """The JSON value in a CSV cell; ValueError (with an `example` of the right form) when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON {text[:60]!r}: {e.msg}; write it like {example}") from e
    except RecursionError as e:
        raise ValueError(f"invalid JSON: {_TOO_DEEP}") from e


def _parse_attributes(text: str) -> dict[str, str]:
    """`{"颜色": "红色"}` (JSON), `颜色=红色;尺码=M` or `颜色:红色|尺码:M` -> a dict of text."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        obj = _json_cell(text, '{"颜色": "红色"}')
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        return obj
    parts = _PAIR_SEPARATORS.split(text)
    if len(parts) == 1 and "," in text and all(_PAIR.match(p) for p in text.split(",")):
        parts = text.split(",")
    out: dict[str, str] = {}
    for part in (p.strip() for p in parts):
        match = _PAIR.match(part)
        if part and not match:
            raise ValueError(f"{part!r} is not key=value; write pairs like 颜色=红色;尺码=M")
        if match and match.group(1).strip() and match.group(2).strip():
            out[match.group(1).strip()] = match.group(2).strip()
    return out
