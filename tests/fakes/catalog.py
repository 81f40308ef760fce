"""Write a small catalog (JSON Lines + flat-colour images) and ingest it into a fake store, for tool tests."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.store import ProductStore
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex

# A small shop: near-duplicate dresses (D1/D2), shoes, earphones (E2 has no image), a mug.
SHOP_ROWS = [
    {"id": "D1", "title": "红色碎花连衣裙", "price": 199, "category": "服装", "brand": "云裳",
     "attributes": {"颜色": "红色", "尺码": "S/M/L", "材质": "雪纺"}, "stock": 5},
    {"id": "D2", "title": "红色碎花连衣裙 夏季款", "price": 209, "category": "服装", "brand": "云裳",
     "attributes": {"颜色": "红色", "尺码": "M/L", "材质": "雪纺"}, "stock": 3},
    {"id": "D3", "title": "红色真丝连衣裙", "price": 599, "category": "服装", "brand": "云裳",
     "attributes": {"颜色": "红色", "尺码": "L", "材质": "真丝"}, "stock": 2},
    {"id": "D4", "title": "蓝色牛仔连衣裙", "price": 259, "category": "服装", "brand": "Denim",
     "attributes": {"颜色": "蓝色"}, "stock": 0},
    {"id": "D5", "title": "白色纯棉T恤", "price": 89, "category": "服装", "brand": "云裳",
     "attributes": {"颜色": "白色", "尺码": "M/L/XL", "材质": "纯棉"}, "stock": 20},
    {"id": "S1", "title": "黑色跑步鞋", "price": 399, "category": "鞋靴", "brand": "Nike",
     "attributes": {"颜色": "黑色", "尺码": "41/42/43"}, "stock": 9},
    {"id": "S2", "title": "黑色运动跑鞋 轻量", "price": 459, "category": "鞋靴", "brand": "Nike",
     "attributes": {"颜色": "黑色", "尺码": "42"}, "stock": 4},
    {"id": "E1", "title": "蓝牙耳机 无线降噪", "price": 299, "category": "数码", "brand": "小米",
     "attributes": {"颜色": "黑色"}, "stock": 12},
    {"id": "E2", "title": "无线蓝牙耳机 运动款", "price": 199, "category": "数码", "brand": "小米",
     "attributes": {"颜色": "白色"}, "stock": 7, "images": []},
    {"id": "H1", "title": "白色陶瓷马克杯", "price": 39, "category": "家居", "brand": "暖居",
     "attributes": {"颜色": "白色", "材质": "陶瓷", "容量": "350ml"}, "stock": 30},
]


RGB = {"红色": (220, 30, 30), "蓝色": (30, 60, 220), "黑色": (20, 20, 20), "白色": (245, 245, 245),
       "绿色": (40, 160, 60), "灰色": (130, 130, 130)}


def load_catalog(store: ProductStore, settings: Settings, folder: Path, rows: list[dict]) -> CatalogIndex:
    """Ingest `rows`; a row without "images" gets a flat image in the colour of its 颜色 attribute."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for r in rows:
        if "images" not in r:
            colour = RGB.get(r.get("attributes", {}).get("颜色", ""), (128, 128, 128))
            Image.new("RGB", (32, 32), colour).save(folder / "img" / f"{r['id']}.png")
            r = {**r, "images": [f"img/{r['id']}.png"]}
        lines.append(json.dumps(r, ensure_ascii=False))
    path = folder / "catalog.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_catalogs([path], store, settings, progress=False)
    if not report.ok or report.written != len(rows):
        raise RuntimeError(f"test catalog did not load: {report.summary()}")
    return CatalogIndex(store).refresh()


class VocabularyIndex:
    """The part of a CatalogIndex that reading a turn uses, over a fixed vocabulary and id list (no store)."""

    def __init__(self, vocabulary, ids=(), titles=None) -> None:  # noqa: ANN001
        import numpy as np

        self.vocabulary = vocabulary
        self.ids = list(ids)
        self.pos = {pid: i for i, pid in enumerate(self.ids)}
        self._titles = dict(titles or {})
        self._np = np

    def lexical_scores(self, text: str):  # noqa: ANN201
        """Share of the text's Latin words and CJK characters each title holds (a crude stand-in for BM25)."""
        words = set(text.lower().split()) | {ch for ch in text if "\u3400" <= ch <= "\u9fff"}
        out = [len(words & (set(self._titles.get(pid, "").lower().split())
                            | set(self._titles.get(pid, "")))) / max(len(words), 1) for pid in self.ids]
        return self._np.array(out, dtype=float)

    def title_of(self, i: int) -> str:
        return self._titles.get(self.ids[i], "")

    @property
    def meta(self) -> list[dict]:
        return [{"id": pid, "title": self._titles.get(pid, "")} for pid in self.ids]
