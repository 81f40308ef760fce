"""The Product record (the catalog contract of DESIGN.md) and its validation.

`Product` is the record as stored: it validates types and shapes, and reads back every record the store
holds. `validate_row` is the catalog boundary: it validates a raw row into a Product and then applies the
catalog limits (`LIMITS`: sizes of attributes, tags, images, variants, the url scheme), so that a record
stored before a limit existed still loads while a new catalog row over a limit is reported, never cut.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["DEFAULT_CURRENCY", "LIMITS", "MAX_PRICE", "Product", "RowError", "Variant", "catalog_problems",
           "normalize_currency", "validate_row"]

MAX_PRICE = 10_000_000.0  # a price above this (CNY or otherwise) is treated as a data error, not a product
DEFAULT_CURRENCY = "CNY"  # a row that states no currency, when neither --currency nor DAOGOU_CURRENCY is given
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CURRENCY_ALIASES = {"RMB": "CNY", "元": "CNY", "￥": "CNY", "¥": "CNY"}
# Catalog limits, checked by `validate_row` (see the module docstring). Generous for real shops (Shopify allows
# 2,048 variants, 250 tags of 255 characters), small enough that one row cannot bloat the store or the prompts.
LIMITS = {
    "attributes": 100,  # keys per product
    "attribute_key": 100,  # characters
    "attribute_value": 2_000,  # characters
    "tags": 250,
    "tag": 255,  # characters
    "images": 50,
    "image": 2_000,  # characters of one path or URL
    "url": 2_048,  # characters
    "variants": 2_048,
}
_URL_SCHEMES = ("http", "https")


def normalize_currency(value: Any) -> str | None:
    """"usd" -> "USD", "RMB"/"元"/"¥" -> "CNY", blank -> None; ValueError for anything that is not a 3-letter code."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    v = str(value).strip().upper()
    v = _CURRENCY_ALIASES.get(v, v)
    if not _CURRENCY.match(v):
        raise ValueError(f"currency {value!r} is not a 3-letter ISO code such as CNY, USD or EUR")
    return v


def _number(v: Any, what: str) -> float | None:
    """A price-like number: "¥1,299" -> 1299.0, blank -> None; ValueError naming `what` otherwise."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise ValueError(f"{what} must be a number, got {v!r}")
    if isinstance(v, str):
        raw = v.strip().replace(",", "").lstrip("¥￥$€£").strip()
        try:
            v = float(raw)
        except ValueError as e:
            raise ValueError(f"{what} {v!r} is not a number; write it like 199 or 199.00") from e
    if not isinstance(v, int | float) or math.isnan(v) or math.isinf(v):
        raise ValueError(f"{what} {v!r} is not a finite number")
    if v < 0:
        raise ValueError(f"{what} {v} is negative; prices must be >= 0")
    if v > MAX_PRICE:
        raise ValueError(f"{what} {v} is absurd (over {MAX_PRICE:,.0f}); check the unit or the column")
    return float(v)


def _whole(v: Any, what: str) -> int | None:
    """A stock-like count: "3" -> 3, blank -> None; ValueError for fractions, negatives and text."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise ValueError(f"{what} must be a whole number, got {v!r}")
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError as e:
            raise ValueError(f"{what} {v!r} is not a whole number") from e
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"{what} {v} is not a whole number")
        v = int(v)
    if not isinstance(v, int):
        raise ValueError(f"{what} must be a whole number, got {type(v).__name__}")
    if v < 0:
        raise ValueError(f"{what} {v} is negative")
    return v


def _text_map(v: Any, what: str) -> Any:
    """{str: scalar} -> {str: str}; None values dropped; nested objects or lists refused."""
    if v is None or v == "":
        return {}
    if not isinstance(v, dict):
        raise ValueError(f"{what} must be an object of text values, got {type(v).__name__}")
    out = {}
    for k, val in v.items():
        if isinstance(val, dict | list):
            raise ValueError(f"{what[:-1] if what.endswith('s') else what} {k!r} must be text, "
                             f"got {type(val).__name__}")
        if val is None:
            continue
        out[str(k).strip()] = str(val).strip()
    return out


class Variant(BaseModel):
    """One purchasable variant of a product (a Shopify variant): its option values, price, stock and SKU."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    options: dict[str, str] = Field(default_factory=dict)  # {"Color": "Red", "Size": "M"}, the shop's names
    price: float | None = None
    stock: int | None = None
    sku: str = Field(default="", max_length=200)

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, v: Any) -> Any:
        return _text_map(v, "options")

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> Any:
        return _number(v, "variant price")

    @field_validator("stock", mode="before")
    @classmethod
    def _stock(cls, v: Any) -> Any:
        return _whole(v, "variant stock")

    @field_validator("sku", mode="before")
    @classmethod
    def _sku(cls, v: Any) -> Any:
        return "" if v is None else str(v)

    def label(self) -> str:
        """"Red / M" (the option values), or the SKU when there are none."""
        return " / ".join(self.options.values()) or self.sku


class Product(BaseModel):
    """One catalog product. JSON Lines / CSV rows with these field names validate into it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(default="", max_length=100)
    brand: str = Field(default="", max_length=100)
    price: float | None = None  # the lowest price (what price filters read); variants give the range
    currency: str = DEFAULT_CURRENCY
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    stock: int | None = None
    url: str = ""
    variants: list[Variant] = Field(default_factory=list)  # optional; records without it read as before

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"id must be a string, got {v!r}")
        if isinstance(v, int):
            return str(v)
        return v

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> Any:
        return _number(v, "price")

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, v: Any) -> Any:
        return normalize_currency(v) or DEFAULT_CURRENCY

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, v: Any) -> Any:
        return _text_map(v, "attributes")

    @field_validator("variants", mode="before")
    @classmethod
    def _variants(cls, v: Any) -> Any:
        if v is None or v == "":
            return []
        if not isinstance(v, list):
            raise ValueError('variants must be a list of objects like {"options": {"Size": "M"}, "price": 19.9}, '
                             f"got {type(v).__name__}")
        return v

    @field_validator("tags", "images", mode="before")
    @classmethod
    def _str_list(cls, v: Any) -> Any:
        if v is None or v == "":
            return []
        if isinstance(v, str):
            return [p.strip() for p in re.split(r"[|,，;；]", v) if p.strip()]
        if not isinstance(v, list):
            raise ValueError(f"expected a list of strings, got {type(v).__name__}")
        if any(isinstance(x, dict | list) for x in v):
            raise ValueError("expected a list of strings, found a nested object or list in it")
        return [str(x).strip() for x in v if x is not None and str(x).strip()]

    @field_validator("stock", mode="before")
    @classmethod
    def _stock(cls, v: Any) -> Any:
        return _whole(v, "stock")

    @field_validator("description", "category", "brand", "url", "title", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, int | float) and not isinstance(v, bool):
            return str(v)
        return v

    def price_range(self) -> tuple[float, float] | None:
        """(lowest, highest) over the product's price and its variants' prices; None when no price is known."""
        prices = [p for p in [self.price, *(v.price for v in self.variants)] if p is not None]
        return (min(prices), max(prices)) if prices else None


class RowError(BaseModel):
    """A rejected row: where it was and why. Printed as `file:line: reason`."""

    source: str
    line: int
    reason: str
    product_id: str | None = None

    def __str__(self) -> str:
        pid = f" [{self.product_id}]" if self.product_id else ""
        return f"{self.source}:{self.line}:{pid} {self.reason}"


def _too_long(what: str, value: str, limit: int) -> str:
    return f"{what} is {len(value):,} characters, over the limit of {limit:,} ({value[:40]!r}...); shorten it"


def catalog_problems(p: Product) -> list[str]:
    """What breaks the catalog limits (`LIMITS`) or the url rule in a validated product; [] when nothing does."""
    out: list[str] = []
    if len(p.attributes) > LIMITS["attributes"]:
        out.append(f"attributes: {len(p.attributes)} keys, over the limit of {LIMITS['attributes']}; "
                   "keep the ones shoppers ask about")
    for k, v in p.attributes.items():
        if len(k) > LIMITS["attribute_key"]:
            out.append("attributes: " + _too_long("a key", k, LIMITS["attribute_key"]))
        if len(v) > LIMITS["attribute_value"]:
            out.append(f"attributes.{k[:40]}: " + _too_long("the value", v, LIMITS["attribute_value"])
                       + " or move long text to description")
    if len(p.tags) > LIMITS["tags"]:
        out.append(f"tags: {len(p.tags)} tags, over the limit of {LIMITS['tags']}")
    out += [f"tags: {_too_long('a tag', t, LIMITS['tag'])}" for t in p.tags if len(t) > LIMITS["tag"]]
    if len(p.images) > LIMITS["images"]:
        out.append(f"images: {len(p.images)} images, over the limit of {LIMITS['images']}")
    out += [f"images: {_too_long('a path', i, LIMITS['image'])}" for i in p.images if len(i) > LIMITS["image"]]
    if len(p.variants) > LIMITS["variants"]:
        out.append(f"variants: {len(p.variants)} variants, over the limit of {LIMITS['variants']}")
    if p.url:
        if len(p.url) > LIMITS["url"]:
            out.append("url: " + _too_long("the url", p.url, LIMITS["url"]))
        else:
            parts = urlsplit(p.url)
            if parts.scheme.lower() not in _URL_SCHEMES or not parts.netloc or re.search(r"\s", p.url):
                out.append(f"url: {p.url[:80]!r} is not an http:// or https:// address; give the product page's "
                           "full address (https://shop.example/item) or leave url empty")
    return out


def _filled(p: Product) -> Product:
    """A product without its own price or stock takes them from its variants (lowest price, summed stock)."""
    update: dict[str, Any] = {}
    prices = [v.price for v in p.variants if v.price is not None]
    if p.price is None and prices:
        update["price"] = min(prices)
    stocks = [v.stock for v in p.variants if v.stock is not None]
    if p.stock is None and stocks:
        update["stock"] = sum(stocks)
    return p.model_copy(update=update) if update else p


def validate_row(row: dict[str, Any], source: str, line: int) -> Product | RowError:
    """Validate one raw catalog row; a bad row becomes a RowError naming the field and the problem."""
    pid = row.get("id") if isinstance(row.get("id"), str | int) and not isinstance(row.get("id"), bool) else None
    pid = str(pid)[:200] if pid not in (None, "") else None
    try:
        product = Product.model_validate(row)
    except ValidationError as e:
        reasons = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "row"
            msg = err["msg"].removeprefix("Value error, ")
            reasons.append(f"{loc}: {msg}")
        return RowError(source=source, line=line, reason="; ".join(reasons), product_id=pid)
    problems = catalog_problems(product)
    if problems:
        return RowError(source=source, line=line, reason="; ".join(problems), product_id=product.id)
    return _filled(product)
