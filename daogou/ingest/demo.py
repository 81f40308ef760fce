"""The built-in bilingual demo catalog: deterministic products over 12 categories, with drawn images.

`build_demo_catalog(out_dir)` writes `out_dir/catalog.jsonl` (one Product per line), `out_dir/images/<id>.png`
and `out_dir/VERSION`; it returns at once when that folder already holds this version for this seed.
Everything comes from the tables of `demo_data` and the shapes of `demo_images`; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from daogou.ingest.demo_data import CATEGORIES, COLOURS, MATERIAL_EN, PATTERNS, PINS, Category, Subtype
from daogou.ingest.demo_images import draw_product_image
from daogou.ingest.schema import Product

__all__ = ["DEMO_VERSION", "PER_CATEGORY", "build_demo_catalog", "demo_products"]

DEMO_VERSION = "1"  # bump when products or images change, so that old demo folders are redrawn
PER_CATEGORY = 26  # products per category (12 categories -> 312 products)
OUT_OF_STOCK_SHARE = 0.08  # share of products with stock 0
FIRST_ID = 1001  # ids run P1001, P1002, ...
_IMAGE_NAME = re.compile(r"^P\d+\.png$")


@dataclass(frozen=True)
class _Item:
    """A planned product and what its picture needs."""

    product: Product
    shape: str
    colour: str
    pattern: str


def demo_products(seed: int = 7) -> list[Product]:
    """The demo catalog's products, in id order, without writing anything."""
    return [item.product for item in _plan(seed)]


def build_demo_catalog(out_dir: Path, *, seed: int = 7) -> Path:
    """Write the demo catalog and its images into `out_dir` (idempotent); return the catalog.jsonl path.

    A folder that already holds this DEMO_VERSION for this seed, with every image present, is left untouched.
    Otherwise the images are drawn, the catalog is written (atomically), and VERSION is written last, so a
    build killed half way is redone on the next call.
    """
    out_dir = Path(out_dir)
    catalog, version_file, images = out_dir / "catalog.jsonl", out_dir / "VERSION", out_dir / "images"
    stamp = f"daogou-demo {DEMO_VERSION} seed={seed}\n"
    if _is_current(catalog, version_file, stamp):
        return catalog
    try:
        images.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create the demo folder {images}: {e}; pass a writable out_dir") from e
    version_file.unlink(missing_ok=True)
    items = _plan(seed)
    keep = set()
    for item in items:
        name = f"{item.product.id}.png"
        keep.add(name)
        rng = random.Random(f"{seed}:{item.product.id}")
        img = draw_product_image(item.shape, COLOURS[item.colour][1], rng, item.pattern)
        img.save(images / name, format="PNG")  # ~1.8 KB each; optimize=True saves 20% at 3x the time
    for stale in images.iterdir():  # pictures of products a previous version had and this one has not
        if _IMAGE_NAME.match(stale.name) and stale.name not in keep:
            stale.unlink()
    lines = [json.dumps(item.product.model_dump(mode="json"), ensure_ascii=False) + "\n" for item in items]
    tmp = catalog.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, catalog)
    version_file.write_text(stamp, encoding="utf-8")
    return catalog


def _is_current(catalog: Path, version_file: Path, stamp: str) -> bool:
    """True when the folder already holds a complete build with this stamp."""
    try:
        if version_file.read_text(encoding="utf-8") != stamp:
            return False
        rows = [json.loads(line) for line in catalog.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return False
    return bool(rows) and all((catalog.parent / p).is_file() for row in rows for p in row.get("images", []))


def _plan(seed: int) -> list[_Item]:
    """Decide every product (text, price, stock, attributes) and its picture; pure and deterministic."""
    rng = random.Random(seed)
    colour_use: Counter[str] = Counter()
    titles: set[str] = set()
    drafts: list[tuple[dict, str, str, str, bool]] = []  # (row, shape, colour, pattern, pinned)
    for cat in CATEGORIES:
        subs = {s.cn: s for s in cat.subtypes}
        specs: list[tuple[Subtype, str | None, float | None]] = []
        for pin_cat, sub_cn, colour, price in PINS:
            if pin_cat == cat.cn:
                specs.append((subs[sub_cn], colour, price))
        order = list(cat.subtypes)
        rng.shuffle(order)
        specs += [(order[i % len(order)], None, None) for i in range(PER_CATEGORY - len(specs))]
        rng.shuffle(specs)
        style_turn: Counter[str] = Counter()
        for sub, colour, price in specs:
            allowed = sub.colours or tuple(COLOURS)
            if colour is None:
                least = min(colour_use[c] for c in allowed)
                colour = rng.choice([c for c in allowed if colour_use[c] == least])
            colour_use[colour] += 1
            style = _pick_style(sub, colour, style_turn, titles, rng)
            row = _row(cat, sub, colour, style, rng)
            row["price"] = price if price is not None else _price(rng, sub.lo, sub.hi)
            titles.add(row["title"])
            drafts.append((row, sub.shape, colour, PATTERNS.get(style[0], ""), price is not None))
    unpinned = [i for i, d in enumerate(drafts) if not d[4]]
    sold_out = set(rng.sample(unpinned, round(OUT_OF_STOCK_SHARE * len(drafts))))
    items = []
    for i, (row, shape, colour, pattern, _) in enumerate(drafts):
        pid = f"P{FIRST_ID + i}"
        row = {"id": pid, **row, "stock": 0 if i in sold_out else _stock(rng),
               "images": [f"images/{pid}.png"], "url": f"https://shop.example/p/{pid}"}
        items.append(_Item(Product.model_validate(row), shape, colour, pattern))
    return items


def _pick_style(sub: Subtype, colour: str, turn: Counter[str], titles: set[str],
                rng: random.Random) -> tuple[str, str]:
    """The subtype's next style in turn, skipping ones that would repeat an existing title."""
    start = turn[sub.cn] + rng.randrange(len(sub.styles))
    turn[sub.cn] += 1
    candidates = [sub.styles[(start + k) % len(sub.styles)] for k in range(len(sub.styles))]
    for style in candidates:
        if not any(t.startswith(_core_cn(sub, colour, style)) for t in titles):
            return style
    return candidates[0]


def _core_cn(sub: Subtype, colour: str, style: tuple[str, str]) -> str:
    if sub.fmt == "book":
        return f"《{style[0]}》{sub.cn}"
    return f"{style[0]}{sub.cn}" if sub.fmt == "plain" else f"{colour}{style[0]}{sub.cn}"


def _core_en(sub: Subtype, colour: str, style: tuple[str, str]) -> str:
    if sub.fmt == "book":
        return f"{style[1]} ({sub.en})"
    core = f"{style[1]} {sub.en}" if sub.fmt == "plain" else f"{COLOURS[colour][0]} {style[1]} {sub.en}"
    return core[0].upper() + core[1:]


def _row(cat: Category, sub: Subtype, colour: str, style: tuple[str, str], rng: random.Random) -> dict:
    """Title, description, brand, attributes and tags of one product (price and stock come later)."""
    brand = rng.choice(sub.brands or cat.brands)
    brand_cn, brand_en = brand.split(" ", 1)
    attrs: dict[str, str] = {"颜色": colour}
    if sub.style_key:
        attrs[sub.style_key] = style[0]
    for key, values in (cat.attrs | sub.attrs).items():
        attrs[key] = rng.choice(values)
    if cat.brand_attr:
        attrs[cat.brand_attr] = brand_cn
    if sub.water:
        attrs["防水"] = "是" if rng.random() < sub.water else "否"
    core_cn, core_en = _core_cn(sub, colour, style), _core_en(sub, colour, style)
    extra = f" {attrs[sub.title_attr]}" if sub.title_attr else ""
    title = f"{core_cn}{extra} / {core_en}{extra}"
    tags = [cat.en, sub.en, sub.cn, *sub.tags]
    if rng.random() < 0.5:
        tags.append(rng.choice(cat.tags))
    if attrs.get("防水") == "是":
        tags.append("waterproof")
    description = _describe(cat, sub, colour, core_cn, core_en, attrs, brand_cn, rng)
    return {"title": title, "description": description, "category": cat.cn, "brand": brand,
            "currency": "CNY", "attributes": attrs, "tags": list(dict.fromkeys(tags))}


def _describe(cat: Category, sub: Subtype, colour: str, item_cn: str, item_en: str, attrs: dict[str, str],
              brand_cn: str, rng: random.Random) -> str:
    """Chinese shop copy (one or two sentences), then one English sentence on material and use."""
    (p1, e1), (p2, e2) = rng.sample(sub.points or cat.points, 2)
    use, use_en = rng.choice(sub.uses or cat.uses)
    mat = attrs.get("材质", "")
    forms = [f"这{cat.mw}{item_cn}{p1}，{p2}，适合{use}。",
             f"{brand_cn}出品的{item_cn}，{p1}，{p2}。{use}的理想之选。"]
    if mat:
        forms.append(f"{item_cn}采用{mat}材质，{p1}，{p2}，适合{use}。")
    zh = rng.choice(forms)
    if sub.fmt != "colour":
        zh += cat.pack[0].format(c=colour)
    if attrs.get("防水") == "是":
        zh += "具备防水功能，雨天也能放心使用。"
    if "作者" in attrs:
        zh += f"作者：{attrs['作者']}，{attrs.get('出版社', brand_cn)}出版。"
    low = item_en[0].lower() + item_en[1:] if sub.fmt != "book" else item_en
    this = "these" if re.search(r"[^s]s$", sub.en) else "this"
    en_forms = [f"{item_en} with {e1} and {e2}, perfect for {use_en}."]
    if mat:
        mat_en = MATERIAL_EN[mat]
        en_forms += [f"{item_en} made of {mat_en}, with {e1}; ideal for {use_en}.",
                     f"Made of {mat_en} and offering {e1}, {this} {low} suits {use_en}."]
    en = rng.choice(en_forms)
    if sub.fmt != "colour":
        en += " " + cat.pack[1].format(c=COLOURS[colour][0])
    if attrs.get("防水") == "是":
        en += " Waterproof, so rain is no worry."
    return f"{zh} {en}"


def _price(rng: random.Random, lo: float, hi: float) -> float:
    """A shop-like price in [lo, hi]: log-uniform, ending in 9, .9 or 8 (59, 299, 1999, 12.9, 2988)."""
    p = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    if p < 30:
        price = math.floor(p) + 0.9
    elif p < 100:
        price = rng.choice((math.floor(p / 10) * 10 + 9, math.floor(p) + 0.9))
    elif p < 1000:
        price = math.floor(p / 10) * 10 + rng.choice((9, 9, 9, 8))
    else:
        price = math.floor(p / 100) * 100 + rng.choice((99, 99, 88, 49))
    return round(min(max(price, lo), hi), 2)


def _stock(rng: random.Random) -> int:
    """Units in stock for an available product: mostly tens, a few hundreds, some nearly sold out."""
    return max(1, round(rng.triangular(1, 400, 30)))
