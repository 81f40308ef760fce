import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from daogou.ingest.demo import DEMO_VERSION, build_demo_catalog, demo_products
from daogou.ingest.demo_data import CATEGORIES, COLOURS
from daogou.ingest.demo_images import SHAPES, draw_product_image
from daogou.ingest.schema import Product
from daogou.ingest.vocab import colors_in_text

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Product]]:
    catalog = build_demo_catalog(tmp_path_factory.mktemp("demo"))
    lines = catalog.read_text(encoding="utf-8").splitlines()
    return catalog, [Product.model_validate(json.loads(line)) for line in lines]


def _pixels(catalog: Path, p: Product) -> np.ndarray:
    return np.asarray(Image.open(catalog.parent / p.images[0]).convert("RGB"), dtype=np.float32)


def test_every_line_is_a_product_with_unique_ids(built):
    catalog, products = built
    assert catalog.name == "catalog.jsonl"
    assert (catalog.parent / "VERSION").read_text().startswith(f"daogou-demo {DEMO_VERSION} ")
    assert len(products) >= 300
    assert len({p.id for p in products}) == len(products)
    assert all(re.fullmatch(r"P\d{4}", p.id) for p in products)
    assert len({p.category for p in products}) >= 12
    assert {c.cn for c in CATEGORIES} == {p.category for p in products}


def test_fields_look_like_a_shop(built):
    _, products = built
    for p in products:
        zh, en = p.title.split(" / ")
        assert _CJK.search(zh) and not _CJK.search(en), p.title
        assert p.tags[2] in zh and p.tags[0] in {c.en for c in CATEGORIES}, p
        assert _CJK.search(p.description) and re.search(r"[A-Za-z]{4,} [a-z]+", p.description)
        assert "<" not in p.title + p.description and "lorem" not in p.description.lower()
        assert p.currency == "CNY" and p.price is not None and 0 < p.price == round(p.price, 2)
        assert p.attributes["颜色"] in COLOURS and p.stock is not None and p.stock >= 0
        assert p.images == [f"images/{p.id}.png"] and p.url == f"https://shop.example/p/{p.id}"
        assert p.brand and " " in p.brand


def test_category_specific_attributes(built):
    _, products = built
    by_cat = {c.cn: [p for p in products if p.category == c.cn] for c in CATEGORIES}
    assert all("尺码" in p.attributes and "材质" in p.attributes for p in by_cat["服装"] + by_cat["鞋靴"])
    assert all({"作者", "出版社"} <= p.attributes.keys() for p in by_cat["图书"])
    assert all("净含量" in p.attributes for p in by_cat["食品"])
    assert all({"材质", "尺寸"} & p.attributes.keys() for p in by_cat["家居"])
    assert any("容量" in p.attributes for p in by_cat["数码"])
    assert any("屏幕" in p.attributes for p in by_cat["数码"])
    waterproof = {p.attributes["防水"] for p in products if "防水" in p.attributes}
    assert waterproof == {"是", "否"}
    assert any("防水" in p.attributes for p in products if p.tags[1] == "jacket")


def test_search_questions_have_real_answers_and_non_answers(built):
    _, products = built
    red_dresses = [p for p in products if p.attributes["颜色"] == "红色" and "连衣裙" in p.title]
    assert sum(p.price <= 300 and p.stock > 0 for p in red_dresses) >= 3
    assert sum(p.price > 300 for p in red_dresses) >= 2
    colours = [p.attributes["颜色"] for p in products]
    assert all(colours.count(c) >= 5 for c in COLOURS)
    sold_out = sum(p.stock == 0 for p in products)
    assert 0.04 * len(products) <= sold_out <= 0.12 * len(products)
    prices = sorted(p.price for p in products)
    assert prices[0] < 20 and prices[-1] > 3000


def test_colour_words_in_copy_are_the_products_own(built):
    _, products = built
    unavoidable = {"口红", "粉底液", "咖啡豆"}  # 口"红", "粉"底液, "coffee" (brown)
    for p in products:
        if p.tags[2] in unavoidable:
            continue
        assert set(colors_in_text(p.title + " " + p.description)) <= {p.attributes["颜色"]}, p


def test_images_exist_and_are_filled_with_the_products_colour(built):
    catalog, products = built
    for p in products:
        img = Image.open(catalog.parent / p.images[0])
        assert img.format == "PNG" and img.size == (256, 256) and img.mode == "RGB"
        share = np.all(np.asarray(img) == COLOURS[p.attributes["颜色"]][1], axis=-1).mean()
        assert share > 0.02, (p.id, p.title, share)
        assert (catalog.parent / p.images[0]).stat().st_size < 12_000


def test_same_subtype_and_colour_look_closer_than_other_categories(built):
    catalog, products = built
    groups: dict[tuple[str, str], list[Product]] = {}
    for p in products:
        groups.setdefault((p.tags[1], p.attributes["颜色"]), []).append(p)
    same = [np.abs(_pixels(catalog, a) - _pixels(catalog, b)).mean()
            for g in groups.values() if len(g) > 1 for a, b in itertools.combinations(g[:3], 2)]
    firsts = {}
    for p in products:
        firsts.setdefault(p.category, p)
    cross = [np.abs(_pixels(catalog, a) - _pixels(catalog, b)).mean()
             for a, b in itertools.combinations(firsts.values(), 2)]
    assert len(same) >= 10 and min(cross) > 1.0
    assert np.mean(same) < 0.6 * np.mean(cross), (np.mean(same), np.mean(cross))


def test_every_shape_draws():
    import random

    for shape in SHAPES:
        img = draw_product_image(shape, (212, 38, 44), random.Random(shape), "stripes")
        assert img.size == (256, 256)
    with pytest.raises(ValueError, match="unknown demo shape 'spaceship'"):
        draw_product_image("spaceship", (0, 0, 0), random.Random(0))


def test_second_call_is_a_no_op(built):
    catalog, products = built
    image = catalog.parent / products[0].images[0]
    before = catalog.stat().st_mtime_ns, image.stat().st_mtime_ns
    assert build_demo_catalog(catalog.parent) == catalog
    assert (catalog.stat().st_mtime_ns, image.stat().st_mtime_ns) == before


def test_same_seed_same_bytes_and_repairs_a_broken_folder(built, tmp_path):
    catalog, products = built
    other = build_demo_catalog(tmp_path)
    assert other.read_bytes() == catalog.read_bytes()
    for p in products[:: len(products) // 5]:
        assert (tmp_path / p.images[0]).read_bytes() == (catalog.parent / p.images[0]).read_bytes()
    (tmp_path / products[3].images[0]).unlink()  # a half-deleted folder is redrawn
    (tmp_path / "images" / "P9999.png").write_bytes(b"stale")  # pictures of vanished products go
    build_demo_catalog(tmp_path)
    assert (tmp_path / products[3].images[0]).is_file() and not (tmp_path / "images" / "P9999.png").exists()


def test_other_seed_other_catalog():
    a, b = demo_products(seed=7), demo_products(seed=8)
    assert len(a) == len(b) and [p.title for p in a] != [p.title for p in b]
