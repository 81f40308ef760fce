"""Hard filters over the catalog (price, category, brand, colour, size, stock) and product metadata.

`Filters` is the typed record that search, the agent and the store share. `product_metadata` flattens a
Product into the fields the filters read, and `Filters.matches` / `Filters.to_where` evaluate the same
rule in Python and as a Chroma `where` clause, so both retrieval paths obey one definition.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daogou.ingest.schema import Product
from daogou.ingest.vocab import normalize_color, split_values

__all__ = ["METADATA_VERSION", "OPTIONAL_KEYS", "Filters", "content_hash", "product_metadata"]

METADATA_VERSION = 4  # bump when product_metadata changes: stored products are then rewritten on the next ingest
# Keys a product may lack. product_metadata gives them as None rather than leaving them out, because Chroma (1.5)
# merges metadata on upsert (a key left out keeps its old value: a product whose colour was removed would still
# match the old colour) and, after a collection is deleted, hands a new collection's records the list values
# (colors, sizes, attrs, tags) of the old records at the same positions unless the key is given. None deletes it.
OPTIONAL_KEYS = ("price", "waterproof", "colors", "sizes", "attrs", "tags")

_COLOR_KEYS = ("颜色", "color", "colour", "顏色")
_SIZE_KEYS = ("尺码", "size", "尺寸码", "鞋码")
_WATERPROOF_KEYS = ("防水", "waterproof")
_YES = ("是", "yes", "true", "y", "防水", "有")
MAX_ATTRS = 30  # attribute pairs and tags kept in the metadata (for the vocabulary), per product
MAX_ATTR_CHARS = 80  # characters kept of each key and value there


class Filters(BaseModel):
    """Hard constraints a product must meet. Empty lists and None mean "no constraint"."""

    model_config = ConfigDict(frozen=True)

    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()  # canonical Chinese colour names, see daogou.ingest.vocab
    sizes: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()
    in_stock: bool = False
    waterproof: bool = False  # only products whose 防水/waterproof attribute says yes

    @model_validator(mode="after")
    def _check_range(self) -> Filters:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(
                f"price_min {self.price_min} is above price_max {self.price_max}; swap them or drop one"
            )
        return self

    def is_empty(self) -> bool:
        """True when no constraint is set."""
        return self == Filters()

    def matches(self, meta: dict[str, Any]) -> bool:
        """Whether a product's metadata (see `product_metadata`) meets every constraint."""
        price = meta.get("price")
        if self.price_min is not None and (price is None or price < self.price_min):
            return False
        if self.price_max is not None and (price is None or price > self.price_max):
            return False
        if self.categories and meta.get("category") not in self.categories:
            return False
        if self.brands and meta.get("brand") not in self.brands:
            return False
        if self.exclude_brands and meta.get("brand") in self.exclude_brands:
            return False
        if self.colors and not set(self.colors) & set(meta.get("colors") or ()):
            return False
        if self.sizes and not set(self.sizes) & set(meta.get("sizes") or ()):
            return False
        if self.in_stock and not meta.get("in_stock", True):
            return False
        if self.waterproof and not meta.get("waterproof", False):
            return False
        return not (self.exclude_ids and meta.get("id") in self.exclude_ids)

    def to_where(self) -> dict[str, Any] | None:
        """The same constraints as a Chroma `where` clause (None when there are none)."""
        clauses: list[dict[str, Any]] = []
        if self.price_min is not None:
            clauses.append({"price": {"$gte": float(self.price_min)}})
        if self.price_max is not None:
            clauses.append({"price": {"$lte": float(self.price_max)}})
        if self.categories:
            clauses.append({"category": {"$in": list(self.categories)}})
        if self.brands:
            clauses.append({"brand": {"$in": list(self.brands)}})
        if self.exclude_brands:
            clauses.append({"brand": {"$nin": list(self.exclude_brands)}})
        if self.colors:
            clauses.append(_any_of("colors", self.colors))
        if self.sizes:
            clauses.append(_any_of("sizes", self.sizes))
        if self.in_stock:
            clauses.append({"in_stock": {"$eq": True}})
        if self.waterproof:
            clauses.append({"waterproof": {"$eq": True}})
        if self.exclude_ids:
            clauses.append({"id": {"$nin": list(self.exclude_ids)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def describe(self, lang: str = "en") -> str:
        """A short human-readable summary in the shopper's language, e.g. "≤300, 红色, 有货" (zh) or "≤300, 红色,
        in stock" (en): the values as the catalog writes them, the words around them in `lang`."""
        zh = lang == "zh"
        parts = []
        if self.price_min is not None and self.price_max is not None:
            parts.append(f"{self.price_min:g}–{self.price_max:g}")
        elif self.price_max is not None:
            parts.append(f"≤{self.price_max:g}")
        elif self.price_min is not None:
            parts.append(f"≥{self.price_min:g}")
        parts += list(self.categories) + list(self.brands) + list(self.colors) + list(self.sizes)
        parts += [f"不要{b}" if zh else f"not {b}" for b in self.exclude_brands]
        if self.in_stock:
            parts.append("有货" if zh else "in stock")
        if self.waterproof:
            parts.append("防水" if zh else "waterproof")
        return ("，" if zh else ", ").join(parts)


def _any_of(key: str, values: tuple[str, ...]) -> dict[str, Any]:
    ors = [{key: {"$contains": v}} for v in values]
    return ors[0] if len(ors) == 1 else {"$or": ors}


def _values_for(product: Product, keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for k, v in product.attributes.items():
        if k.strip().lower() in keys:
            out += split_values(v)
    return out


def product_metadata(product: Product) -> dict[str, Any]:
    """Flatten a product into filterable metadata (only Chroma-storable primitives and string lists).

    A key of OPTIONAL_KEYS the product lacks is None (see there): Chroma stores no value for it, and a stale one
    from an earlier version of the product is deleted.
    """
    colors: list[str] = []
    for raw in _values_for(product, _COLOR_KEYS):
        canon = normalize_color(raw)
        if canon and canon not in colors:
            colors.append(canon)
    sizes = list(dict.fromkeys(s.upper() for s in _values_for(product, _SIZE_KEYS)))
    meta: dict[str, Any] = {
        "id": product.id,
        "title": product.title[:200],
        "category": product.category,
        "brand": product.brand,
        "currency": product.currency,
        "in_stock": product.stock is None or product.stock > 0,
        "stock": -1 if product.stock is None else product.stock,
        "has_image": bool(product.images),
        **dict.fromkeys(OPTIONAL_KEYS),
    }
    if product.price is not None:
        meta["price"] = product.price
    if any(v.strip().lower() in _YES for v in _values_for(product, _WATERPROOF_KEYS)):
        meta["waterproof"] = True
    attrs = [f"{k[:MAX_ATTR_CHARS]}\t{v[:MAX_ATTR_CHARS]}" for k, v in list(product.attributes.items())[:MAX_ATTRS]
             if k.strip() and v.strip()]
    if attrs:  # what the catalog's vocabulary learns attribute keys and values from (tools/vocabulary.py)
        meta["attrs"] = attrs
    tags = [t[:MAX_ATTR_CHARS] for t in product.tags[:MAX_ATTRS] if t.strip()]
    if tags:
        meta["tags"] = tags
    if colors:  # Chroma refuses empty lists
        meta["colors"] = colors
    if sizes:
        meta["sizes"] = sizes
    return meta


def content_hash(product: Product) -> str:
    """Stable hash of a product's content, to skip re-embedding unchanged products on re-ingest."""
    blob = json.dumps(product.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
