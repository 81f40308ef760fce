"""Synthetic catalogs for the benchmarks: many realistic products from the demo ones, with cheap text vectors.

A synthetic product takes a base product (a demo product, or a recoloured copy of one) and varies its
brand, adjectives, model number, sizes, price and stock; product i depends only on (seed, i), so a smaller
catalog is a prefix of a larger one. Its text vector is normalise(base vector + gaussian noise), where the
base vectors are the real e5 passage vectors of the base products (embedded once, cached as .npy); the
`SyntheticTextEncoder` hands these out to `E5EmbeddingFunction` and embeds queries with the real e5.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
from common import Stopwatch, log

GEN_VERSION = "1"  # bump when the synthetic catalog changes, so that cached stores are rebuilt
EXTRA_BRANDS = {  # real-world-like brands per demo category, so that brand filters have work to do
    "服装": "优衣库 Uniqlo|太平鸟 Peacebird|森马 Semir",
    "鞋靴": "耐克 Nike|阿迪达斯 Adidas|李宁 Li-Ning|安踏 Anta",
    "箱包": "新秀丽 Samsonite|小米 Xiaomi|卡拉羊 Carany",
    "美妆": "欧莱雅 L'Oreal|完美日记 PerfectDiary|花西子 Florasis",
    "数码": "索尼 Sony|华为 Huawei|小米 Xiaomi|漫步者 Edifier",
    "家居": "宜家 IKEA|无印良品 MUJI|罗莱 Luolai",
    "厨具": "苏泊尔 Supor|九阳 Joyoung|美的 Midea",
    "运动": "迪卡侬 Decathlon|耐克 Nike|李宁 Li-Ning",
    "玩具": "乐高 LEGO|布鲁可 Bloks|孩之宝 Hasbro",
    "食品": "三只松鼠 ThreeSquirrels|良品铺子 Bestore|百草味 Baicaowei",
    "图书": "中信出版社 CITIC-Press|人民文学出版社 PLPH",
    "宠物": "皇家 RoyalCanin|伯纳天纯 PureNatural|麦富迪 Myfoodie",
}
ADJECTIVES = [("新款", "new"), ("加厚", "thick"), ("轻薄", "lightweight"), ("升级版", "upgraded"),
              ("经典款", "classic"), ("简约", "minimalist"), ("ins风", "trendy"), ("大容量", "large"),
              ("迷你", "mini"), ("高端", "premium"), ("复古", "retro"), ("网红", "viral"), ("百搭", "versatile"),
              ("家用", "home"), ("便携", "portable")]
LETTER_SIZES = ["S/M/L", "M/L/XL", "XS/S/M", "L/XL/XXL", "S/M/L/XL/XXL"]
SHOE_SIZES = ["35/36/37/38", "38/39/40", "39/40/41/42", "40/41/42/43/44", "42/43/44/45"]


# ---------------------------------------------------------------------------------------------- catalog
def base_products() -> list[Any]:
    """The demo products plus one recoloured copy of each (id + "c"): 624 base products."""
    from daogou.ingest.demo import demo_products
    from daogou.ingest.demo_data import COLOURS

    rng = random.Random(11)
    out = demo_products()
    for p in list(out):
        old = p.attributes.get("颜色")
        if old not in COLOURS:
            continue
        new = rng.choice([c for c in COLOURS if c != old])
        old_en, new_en = COLOURS[old][0], COLOURS[new][0]

        def sub(s: str, old: str = old, new: str = new, old_en: str = old_en, new_en: str = new_en) -> str:
            s = re.sub(rf"\b{old_en}\b", new_en, s.replace(old, new))
            return re.sub(rf"\b{old_en.capitalize()}\b", new_en.capitalize(), s)

        out.append(p.model_copy(update={
            "id": p.id + "c", "title": sub(p.title), "description": sub(p.description),
            "attributes": {k: sub(v) for k, v in p.attributes.items()}, "tags": [sub(t) for t in p.tags]}))
    return out


def synth_product(i: int, bases: list[Any], seed: int, image_dir: Path | None) -> tuple[Any, int]:
    """Synthetic product number i (deterministic: a smaller catalog is a prefix of a larger one)."""
    from daogou.ingest.schema import Product

    rng = random.Random(f"{seed}:{i}")
    b = rng.randrange(len(bases))
    base = bases[b]
    cn, _, en = base.title.partition(" / ")
    brand = base.brand if rng.random() < 0.5 else rng.choice(EXTRA_BRANDS[base.category].split("|"))
    brand_cn, _, brand_en = brand.partition(" ")
    adj_cn, adj_en = rng.choice(ADJECTIVES) if rng.random() < 0.7 else ("", "")
    model = ""
    if rng.random() < 0.6:
        model = rng.choice(["{L}{n}", "{L}{L}-{n}{n}{n}", "Pro {n}", "{n}{n}{n}0", "20{n}{n}款"]).format(
            L=rng.choice("ABCDKMSXZ"), n=rng.randrange(1, 10))
    title_cn = " ".join(x for x in (brand_cn, adj_cn + cn, model) if x)
    title_en = " ".join(x for x in (brand_en, adj_en, en, model) if x)
    attrs = dict(base.attributes)
    if "尺码" in attrs:
        attrs["尺码"] = rng.choice(SHOE_SIZES if any(c.isdigit() for c in attrs["尺码"]) else LETTER_SIZES)
    price = max(0.9, round((base.price or 100.0) * rng.uniform(0.6, 1.6)) - rng.choice([0, 0, 0.1, 1]))
    images = [str(image_dir / f"{base.id.rstrip('c')}.png")] if image_dir is not None else []
    pid = f"S{i + 1:06d}"
    product = Product(id=pid, title=f"{title_cn} / {title_en}" if en else title_cn, description=base.description,
                      category=base.category, brand=brand, price=price, currency="CNY", attributes=attrs,
                      tags=list(base.tags), images=images, stock=0 if rng.random() < 0.08 else rng.randrange(1, 500),
                      url=f"https://shop.example/p/{pid}")
    return product, b


def write_synthetic_catalog(path: Path, n: int, seed: int, image_dir: Path | None = None, first: int = 0) -> None:
    """Synthetic products [first, first+n) as a JSONL catalog file."""
    bases = base_products()
    with path.open("w", encoding="utf-8") as f:
        for i in range(first, first + n):
            f.write(synth_product(i, bases, seed, image_dir)[0].model_dump_json() + "\n")


def synthetic_encoder(home: Path, n: int, seed: int, noise: float, image_dir: Path | None = None,
                      first: int = 0) -> SyntheticTextEncoder:
    """The bench encoder with the passages of synthetic products [first, first+n) registered (the products are
    generated again, deterministically: a child process needs no table handed over)."""
    from daogou.ingest.encoders import text_encoder
    from daogou.ingest.text import embedding_text

    bases = base_products()
    synth = SyntheticTextEncoder(text_encoder(), base_vectors(home)[0], noise, seed)
    for i in range(first, first + n):
        product, b = synth_product(i, bases, seed, image_dir)
        synth.register(embedding_text(product), b, i)
    return synth


class SyntheticTextEncoder:
    """Bench-only text encoder: real e5 for queries; for a registered passage, normalise(base vector + noise)."""

    model_id = "intfloat/multilingual-e5-small"
    dim = 384

    def __init__(self, real: Any, base_vectors: np.ndarray, noise: float, seed: int) -> None:
        self.real, self.base, self.noise, self.seed = real, base_vectors, noise, seed
        digest = hashlib.sha256(base_vectors.tobytes()).hexdigest()[:12]
        self.fingerprint = f"bench-synthetic-{digest}-noise{noise}-{real.fingerprint}"
        self._passages: dict[str, tuple[int, int]] = {}

    def register(self, passage: str, base_index: int, product_index: int) -> None:
        """Say which base product (and noise draw) a passage comes from."""
        self._passages[passage] = (base_index, product_index)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """The real e5 query vectors."""
        return self.real.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Synthetic passage vectors (unit length)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for r, text in enumerate(texts):
            try:
                b, i = self._passages[text]
            except KeyError as e:
                raise KeyError(f"passage {text[:40]!r} was not registered with the synthetic encoder") from e
            v = self.base[b] + self.noise * np.random.default_rng([self.seed, i]).standard_normal(self.dim)
            out[r] = v / np.linalg.norm(v)
        return out


def base_vectors(home: Path) -> tuple[np.ndarray, float]:
    """Real e5 passage vectors of the base products, cached as .npy; (vectors, seconds spent embedding)."""
    from daogou.ingest.encoders import text_encoder
    from daogou.ingest.text import embedding_text

    passages = [embedding_text(p) for p in base_products()]
    enc = text_encoder()
    key = hashlib.sha256("\n".join([enc.fingerprint, *passages]).encode()).hexdigest()[:16]
    path = home / f"base-e5-{key}.npy"
    if path.exists():
        return np.load(path), 0.0
    log(f"embedding {len(passages)} base passages with the real e5 (once; cached in {path.name})")
    with Stopwatch() as sw:
        vecs = np.concatenate([enc.embed_passages(passages[s:s + 32]) for s in range(0, len(passages), 32)])
    np.save(path, vecs.astype(np.float32))
    return vecs.astype(np.float32), sw.s
