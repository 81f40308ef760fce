"""Metamorphic variants of a catalog and its dialogue suite: the same products re-keyed, the dialogues mapped alike.

A variant changes what a shop's catalog looks like and nothing of what it sells, so an agent that understands
shoppers must pass a variant's suite as often as the original's. The changes, alone or together (VARIANTS):

- ids `sku`: `SKU-####`, four digits drawn by a seeded shuffle of 1000-9999 (not the original digits, so an agent
  cannot get by on them); ids `num12`: 12-digit numbers (as a JD shop has), drawn the same way;
- `en-keys`: English attribute keys (`颜色` -> `color`, `尺码` -> `size`, `材质` -> `material`, see EN_KEYS);
- `usd`: prices in USD: a product's CNY price / 7 rounded to a whole dollar, less one cent (199 -> 27.99,
  12.9 -> 1.99, never below 0.99); a budget the shopper states (in their words and in `args`) becomes whole
  dollars (300 -> $43; an amount that is a catalog price becomes that variant price), and a price limit in a
  product check is converted like a product's price (300 -> 42.99), so every product within the original
  limit stays within the new one (both conversions are monotone).

The dialogues are rewritten by the same map: ids everywhere (user text, notes, arguments, product checks, text
checks; `@prev` references stay as they are), attribute keys in `attributes:` checks and `.attr.KEY` references,
and for `usd` every stated price: `300以内`/`300块`/`100元`/`under 100 yuan`/`预算…1000` -> `$43…`, `args`
budgets, product-check limits, and text checks that quote a catalog price ("1299" -> "185.99").

    suite = write_variant(rows, Path("tests/dialogues"), VARIANTS["sku"], out_dir)
    # suite.catalog: out_dir/catalog.jsonl (images copied under the new ids); suite.dialogues: out_dir/suite/
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from daogou.evals.dialogue_checks import ARG_ALIASES

__all__ = ["EN_KEYS", "VARIANTS", "Variant", "VariantMap", "VariantSuite", "make_map", "rewrite_dialogue_file",
           "variant_rows", "write_variant"]

USD_PER_CNY = 1 / 7  # the variant's fixed rate; not a market rate
EN_KEYS: dict[str, str] = {  # the demo catalog's attribute keys (and the suite's extra catalog's) in English
    "颜色": "color", "尺码": "size", "材质": "material", "尺寸": "dimensions", "净含量": "net content",
    "防水": "waterproof", "适用年龄": "age range", "口味": "flavor", "保质期": "shelf life", "作者": "author",
    "出版社": "publisher", "适用": "suitable for", "容量": "capacity", "适用肤质": "skin type", "屏幕": "screen",
    "续航": "battery life", "适用阶段": "life stage", "重量": "weight", "色号": "shade", "烘焙度": "roast",
    "类型": "type", "轴体": "switches", "件数": "pieces", "厚度": "thickness", "品种": "variety", "香型": "scent",
}


@dataclass(frozen=True)
class Variant:
    """Which changes a variant makes (see the module docstring)."""

    name: str
    ids: Literal["keep", "sku", "num12"] = "keep"
    english_keys: bool = False
    usd: bool = False

    def describe(self) -> str:
        """One line for reports: what this variant changes."""
        parts = {"sku": ["ids SKU-####"], "num12": ["12-digit ids"], "keep": []}[self.ids]
        parts += ["English attribute keys"] * self.english_keys + ["USD prices (CNY/7, .99)"] * self.usd
        return ", ".join(parts) or "unchanged"


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("sku", ids="sku"),
    Variant("num12", ids="num12"),
    Variant("en-keys", english_keys=True),
    Variant("usd", usd=True),
    Variant("all", ids="sku", english_keys=True, usd=True),
)}


def usd_price(cny: float) -> float:
    """A product's price in the `usd` variant: CNY / 7 to the whole dollar, less a cent (at least 0.99)."""
    return max(0.99, round(cny * USD_PER_CNY) - 0.01)


def usd_budget(cny: float) -> float:
    """A budget the shopper states, in whole dollars (0 stays 0, anything else at least 1)."""
    return 0.0 if cny == 0 else float(max(1, round(cny * USD_PER_CNY)))


@dataclass(frozen=True)
class VariantMap:
    """The map from the original catalog to the variant: ids, attribute keys, prices."""

    variant: Variant
    ids: dict[str, str]  # original id -> variant id (identity when ids are kept)
    keys: dict[str, str]  # original attribute key -> variant key (empty when keys are kept)
    prices: frozenset[float] = field(default_factory=frozenset)  # the original catalog's prices

    def key(self, k: str) -> str:
        """An attribute key in the variant."""
        return self.keys.get(k, k)


def make_map(rows: Iterable[Mapping[str, Any]], variant: Variant) -> VariantMap:
    """The variant's map for these catalog rows; raises ValueError for an attribute key EN_KEYS lacks."""
    rows = list(rows)
    ids = [str(r["id"]) for r in rows]
    rng = random.Random(f"daogou-variant-{variant.ids}")
    if variant.ids == "sku":
        if len(ids) > 9000:
            raise ValueError(f"{len(ids)} products do not fit SKU-1000..SKU-9999; use the num12 variant")
        new = [f"SKU-{n}" for n in rng.sample(range(1000, 10000), len(ids))]
    elif variant.ids == "num12":
        new = [str(n) for n in rng.sample(range(10**11, 10**12), len(ids))]
    else:
        new = ids
    keys: dict[str, str] = {}
    if variant.english_keys:
        used = {str(k) for r in rows for k in (r.get("attributes") or {})}
        missing = sorted(used - set(EN_KEYS) - set(EN_KEYS.values()))
        if missing:
            raise ValueError(f"no English name for attribute keys {missing}; add them to EN_KEYS in "
                             "daogou/evals/catalog_variants.py")
        keys = {k: EN_KEYS[k] for k in used if k in EN_KEYS}
    prices = frozenset(float(r["price"]) for r in rows if r.get("price") is not None)
    return VariantMap(variant=variant, ids=dict(zip(ids, new, strict=True)), keys=keys, prices=prices)


# ---------------------------------------------------------------------------------------------- text
def _id_replacer(vmap: VariantMap) -> Callable[[str], str]:
    changed = {a: b for a, b in vmap.ids.items() if a != b}
    if not changed:
        return lambda s: s
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, sorted(changed, key=len, reverse=True)))
                         + r")(?![A-Za-z0-9])")
    return lambda s: pattern.sub(lambda m: changed[m.group(1)], s)


def _money(x: float) -> str:
    return f"{x:.2f}" if not float(x).is_integer() else str(int(x))


_N = r"(\d+(?:\.\d+)?)"
_STATED_PRICES = (  # (pattern, which group is the number); the whole match becomes "$N" (+ what is kept)
    re.compile(rf"[¥￥]\s*{_N}"),
    re.compile(rf"{_N}\s*(?:元|块钱|块|\s?yuan\b|\s?rmb\b|\s?kuai\b)", re.IGNORECASE),
)
_NOT_MONEY = (r"(?!\s*(?:码|寸|号|个|件|岁|cm\b|mm\b|kg\b|g\b|ml\b|gb\b|inch|years?\b|colou?rs?\b|sizes?\b"
              r"|items?\b|pieces?\b|%))")
_BETWEEN = re.compile(rf"\b(between\s+){_N}(\s+and\s+){_N}(?:\s*(?:元|块|yuan\b|rmb\b))?{_NOT_MONEY}", re.IGNORECASE)
_BUDGET_BEFORE = re.compile(  # a number that a budget word introduces: keep the words, convert the number
    rf"(\b(?:under|below|over|above|than|up to|max(?:imum)?|budget(?: of| is)?|around|about|within)\s+"
    rf"|预算[^\d，。,]{{0,6}}|加到|不超过|低于|高于|不到|不要超过){_N}(?![\d.]){_NOT_MONEY}", re.IGNORECASE)
_BUDGET_AFTER = re.compile(rf"(?<![\d.$¥￥]){_N}(?=\s*(?:以内|以下|以上|左右|之内|内|\s+max\b|\s+or less\b))",
                           re.IGNORECASE)


def usd_amount(cny: float, prices: frozenset[float] = frozenset()) -> float:
    """A stated amount in the `usd` variant: a catalog price (one of `prices`) as that product's variant price,
    any other amount (a budget) as whole dollars."""
    return usd_price(cny) if cny in prices else usd_budget(cny)


def usd_text(text: str, prices: frozenset[float] = frozenset()) -> str:
    """Stated prices in a shopper's words in dollars: 300以内 -> $43以内, 100元 -> $14, under 100 yuan -> under $14,
    ¥50 -> $7, 预算可以加到1000 -> 预算可以加到$143 (whole dollars, or a product's variant price when the amount is
    one of the catalog's `prices`: 199元 -> $27.99); other numbers (42码, 256GB, 20寸) stay."""
    def dollars(number: str) -> str:
        return f"${_money(usd_amount(float(number), prices))}"

    text = _BETWEEN.sub(lambda m: f"{m.group(1)}{dollars(m.group(2))}{m.group(3)}{dollars(m.group(4))}", text)
    for pattern in _STATED_PRICES:
        text = pattern.sub(lambda m: dollars(m.group(1)), text)
    text = _BUDGET_BEFORE.sub(lambda m: f"{m.group(1)}{dollars(m.group(2))}", text)
    text = _BUDGET_AFTER.sub(lambda m: dollars(m.group(1)), text)
    return text


# ---------------------------------------------------------------------------------------------- catalog
def variant_rows(rows: Iterable[Mapping[str, Any]], vmap: VariantMap) -> list[dict[str, Any]]:
    """The catalog rows re-keyed: ids (and ids inside urls and texts), attribute keys, prices and currency."""
    ids = _id_replacer(vmap)
    out = []
    for row in rows:
        r = json.loads(json.dumps(dict(row), ensure_ascii=False))
        r["id"] = vmap.ids[str(row["id"])]
        for key in ("title", "description", "url"):
            if r.get(key):
                r[key] = ids(str(r[key]))
        if vmap.keys:
            r["attributes"] = {vmap.key(k): v for k, v in (r.get("attributes") or {}).items()}
        if vmap.variant.usd and r.get("price") is not None:
            r["price"] = usd_price(float(r["price"]))
            r["currency"] = "USD"
            if r.get("description"):
                r["description"] = usd_text(r["description"], vmap.prices)
        out.append(r)
    return out


# ---------------------------------------------------------------------------------------------- dialogues
_PRICE_ARGS = frozenset(a for key in ("price_max", "price_min") for a in ARG_ALIASES[key])
_PRICE_CHECKS = ("price_max", "price_min", "price_below")
_TEXT_LISTS = ("text_contains_any", "text_contains_all", "text_not_contains", "text_matches", "text_not_matches")
_ATTR_REF = re.compile(r"^(@(?:prev|turn\d+)\.(?:\d+|last)\.attr\.)(.+)$")


def _deep(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, list):
        return [_deep(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _deep(v, fn) for k, v in value.items()}
    return fn(value)


def rewrite_dialogue_file(raw: Mapping[str, Any], vmap: VariantMap) -> dict[str, Any]:
    """A dialogue file (as loaded from YAML) rewritten by the variant's map; dialogue ids and groups stay."""
    ids = _id_replacer(vmap)
    usd = vmap.variant.usd

    def text(s: Any) -> Any:
        if not isinstance(s, str):
            return s
        s = ids(s)
        if (m := _ATTR_REF.match(s)) and vmap.keys:
            s = m.group(1) + vmap.key(m.group(2))
        return usd_text(s, vmap.prices) if usd and not s.startswith("@") else s

    def text_item(s: Any) -> Any:
        if usd and isinstance(s, str | int | float) and re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?", str(s)):
            value = float(str(s).replace(",", ""))
            if value in vmap.prices:  # a catalog price quoted in a text check
                return _money(usd_price(value))
        return text(s)

    def budget(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            return v
        try:
            return usd_amount(float(str(v).replace(",", "")), vmap.prices)
        except ValueError:
            return v  # an @reference or a word: stays

    def limit(v: Any) -> Any:
        return usd_price(float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else v

    out = json.loads(json.dumps(dict(raw), ensure_ascii=False))
    if out.get("description"):
        out["description"] = text(out["description"])
    for d in out.get("dialogues") or []:
        d["note"] = text(d.get("note") or "") + (f" [variant {vmap.variant.name}: {vmap.variant.describe()}]")
        for turn in d.get("turns") or []:
            turn["user"] = text(turn["user"])
            if turn.get("image"):
                turn["image"] = vmap.ids.get(str(turn["image"]), turn["image"])
            e = turn.get("expect") or {}
            if e.get("args"):
                e["args"] = {k: (_deep(v, budget) if usd and k in _PRICE_ARGS else _deep(v, text))
                             for k, v in e["args"].items()}
            if e.get("products"):
                p = e["products"]
                for k, v in list(p.items()):
                    if k == "attributes":
                        p[k] = {vmap.key(a): text(b) for a, b in v.items()}
                    elif usd and k in _PRICE_CHECKS:
                        p[k] = limit(v)
                    else:
                        p[k] = _deep(v, text)
            for k in _TEXT_LISTS:
                if e.get(k):
                    e[k] = [text_item(s) for s in e[k]]
    return out


@dataclass(frozen=True)
class VariantSuite:
    """A variant written to disk: its catalog file (images beside it) and its folder of dialogue files."""

    variant: Variant
    catalog: Path
    dialogues: Path
    map: VariantMap


def write_variant(rows: Iterable[Mapping[str, Any]], suite: Path, variant: Variant, out_dir: Path) -> VariantSuite:
    """Write the variant of a catalog (rows with absolute image paths, e.g. from `load_catalog_rows`) and of the
    dialogue files in `suite` (its *.yaml) into `out_dir`: catalog.jsonl, images/, suite/*.yaml."""
    rows = list(rows)
    vmap = make_map(rows, variant)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "suite").mkdir(exist_ok=True)
    new_rows = variant_rows(rows, vmap)
    for row, new in zip(rows, new_rows, strict=True):
        images = []
        for n, image in enumerate(row.get("images") or []):
            src = Path(image)
            if not src.is_file():
                raise FileNotFoundError(f"image {src} of product {row['id']} is missing; pass rows whose image "
                                        "paths are absolute (load_catalog_rows makes them so)")
            name = f"{new['id']}-{n}{src.suffix}" if n else f"{new['id']}{src.suffix}"
            shutil.copyfile(src, out_dir / "images" / name)
            images.append(f"images/{name}")
        new["images"] = images
    catalog = out_dir / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new_rows), encoding="utf-8")
    files = sorted(Path(suite).glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no dialogue files (*.yaml) in {suite}; pass the suite folder, e.g. tests/dialogues")
    for path in files:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        text = yaml.safe_dump(rewrite_dialogue_file(raw, vmap), allow_unicode=True, sort_keys=False,
                              width=1000, default_flow_style=None)
        (out_dir / "suite" / path.name).write_text(text, encoding="utf-8")
    return VariantSuite(variant=variant, catalog=catalog, dialogues=out_dir / "suite", map=vmap)
