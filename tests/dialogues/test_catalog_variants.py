"""The metamorphic variants: the demo catalog and its suite re-keyed by one map (ids, attribute keys, USD prices).

The rewriting itself is checked here; whether the agent passes a variant as often as the original is measured by
tests/dialogues/test_dialogues_real.py and `daogou eval dialogues --variant NAME`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from daogou.evals.agent_suite import prepare_suite
from daogou.evals.catalog_variants import (
    VARIANTS,
    make_map,
    rewrite_dialogue_file,
    usd_budget,
    usd_price,
    usd_text,
    variant_rows,
    write_variant,
)
from daogou.evals.dialogue_checks import CatalogFacts, product_violations
from daogou.evals.dialogues import catalog_problems, load_catalog_rows, load_dialogues
from daogou.ingest.demo import build_demo_catalog

from .test_suite_format import unsatisfiable_turns

HERE = Path(__file__).parent
DEMO_ID = re.compile(r"(?<![A-Za-z0-9])P\d{4}(?![0-9])")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    demo = build_demo_catalog(tmp_path_factory.mktemp("demo"))
    return load_catalog_rows([demo, HERE / "catalog_extra.jsonl"])


@pytest.fixture(scope="module")
def written(rows, tmp_path_factory):
    return {name: write_variant(rows, HERE, v, tmp_path_factory.mktemp(name)) for name, v in VARIANTS.items()}


def _raw_suite() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(HERE.glob("*.yaml"))}


# ------------------------------------------------------------------------------------------------ the map
@pytest.mark.parametrize(("name", "shape"), [("sku", r"SKU-\d{4}"), ("num12", r"[1-9]\d{11}"), ("all", r"SKU-\d{4}")])
def test_every_id_is_mapped_one_to_one_to_the_new_shape(rows, name, shape):
    vmap = make_map(rows, VARIANTS[name])
    assert set(vmap.ids) == {r["id"] for r in rows}
    assert len(set(vmap.ids.values())) == len(rows)
    assert all(re.fullmatch(shape, new) for new in vmap.ids.values())
    same_digits = sum(re.sub(r"\D", "", old) == re.sub(r"\D", "", new) for old, new in vmap.ids.items())
    assert same_digits <= 2  # a shuffle, not P1024 -> SKU-1024
    assert make_map(rows, VARIANTS[name]).ids == vmap.ids  # deterministic


def test_usd_prices_and_budgets_keep_every_limit():
    prices = [2.9, 5.9, 12.9, 59.0, 99.0, 199.0, 269.0, 299.0, 301.0, 1188.0, 1299.0, 2988.0]
    assert [usd_price(p) for p in prices[:3]] == [0.99, 0.99, 1.99]
    assert usd_price(199) == 27.99 and usd_price(1299) == 185.99 and usd_budget(300) == 43 and usd_budget(0) == 0
    for a in prices:
        assert str(usd_price(a)).endswith(".99")
        for b in prices:
            if a <= b:
                assert usd_price(a) <= usd_price(b)  # monotone: "within the limit" is kept
        for limit in (100, 150, 200, 300, 500, 1000, 3000):
            if a <= limit:
                assert usd_price(a) <= usd_price(limit) < usd_budget(limit)  # the product check and the agent's filter


@pytest.mark.parametrize(("text", "want"), [
    ("想买条红色的连衣裙，300块以内的", "想买条红色的连衣裙，$43以内的"),
    ("100元以内的手机有吗？", "$14以内的手机有吗？"),
    ("预算可以加到1000，要20寸能登机的", "预算可以加到$143，要20寸能登机的"),
    ("Looking for dumbbells between 50 and 150 yuan", "Looking for dumbbells between $7 and $21"),
    ("I need a waterproof backpack for my commute, 500 max", "I need a waterproof backpack for my commute, $71 max"),
    ("Something under 300 please", "Something under $43 please"),
    ("every item costs 1 yuan", "every item costs $1"),
    ("黑色5G手机 256GB 多少钱？我穿42码，要20寸的", "黑色5G手机 256GB 多少钱？我穿42码，要20寸的"),
    ("Show me running shoes in size 39, more than 2 colours", "Show me running shoes in size 39, more than 2 colours"),
])
def test_stated_prices_become_dollars_and_other_numbers_stay(text, want):
    assert usd_text(text) == want


def test_a_stated_catalog_price_becomes_that_products_variant_price():
    assert usd_text("那个199元的", frozenset({199.0})) == "那个$27.99的"


def test_english_keys_cover_the_catalog_or_name_what_is_missing(rows):
    assert set(make_map(rows, VARIANTS["en-keys"]).keys) == {k for r in rows for k in r["attributes"]}
    odd = [{"id": "X1", "title": "t", "attributes": {"风格": "简约"}}]
    with pytest.raises(ValueError, match=r"no English name for attribute keys \['风格'\]; add them to EN_KEYS"):
        make_map(odd, VARIANTS["en-keys"])


def test_an_unknown_variant_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown variant 'eur'; valid: sku, num12, en-keys, usd, all"):
        prepare_suite(HERE, tmp_path, variant="eur")


# ------------------------------------------------------------------------------------------------ the catalog
@pytest.mark.parametrize("name", list(VARIANTS))
def test_nothing_of_the_demo_is_left_in_the_variant_catalog(written, rows, name):
    variant = VARIANTS[name]
    new_rows = load_catalog_rows([written[name].catalog])
    text = json.dumps(new_rows, ensure_ascii=False)
    assert (DEMO_ID.search(text) is None) is (variant.ids != "keep")
    by_old = dict(zip([r["id"] for r in rows], new_rows, strict=True))
    for old in rows:
        new = by_old[old["id"]]
        assert new["title"] == old["title"] and new.get("category") == old.get("category")
        assert list(new["attributes"].values()) == list(old["attributes"].values())
        assert all(not _CJK.search(k) for k in new["attributes"]) is variant.english_keys
        assert (new["currency"], new["price"]) == (("USD", usd_price(old["price"])) if variant.usd
                                                   else ("CNY", old["price"]))
        assert [Path(p).is_file() for p in new["images"]] == [True] * len(old["images"])
        if variant.ids != "keep":
            assert all(new["id"] in Path(p).name for p in new["images"])


# ------------------------------------------------------------------------------------------------ the dialogues
@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_variant_suite_loads_and_fits_the_variant_catalog(written, name):
    files = load_dialogues([written[name].dialogues])
    assert [d.id for f in files for d in f.dialogues] == [d.id for f in load_dialogues([HERE]) for d in f.dialogues]
    new_rows = load_catalog_rows([written[name].catalog])
    assert catalog_problems(files, CatalogFacts.from_rows(new_rows)) == []
    assert unsatisfiable_turns([d for f in files for d in f.dialogues], new_rows) == []


@pytest.mark.parametrize("name", list(VARIANTS))
def test_nothing_of_the_demo_is_left_in_the_variant_dialogues(written, name):
    variant = VARIANTS[name]
    for path in sorted(written[name].dialogues.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for d in raw["dialogues"]:
            body = json.dumps({k: v for k, v in d.items() if k != "id"}, ensure_ascii=False)
            if variant.ids != "keep":
                assert DEMO_ID.search(body) is None, (d["id"], DEMO_ID.search(body))
            for turn in d["turns"]:
                if variant.usd:
                    assert not re.search(r"\d\s*(元|块|yuan)", turn["user"]), turn["user"]
                refs = re.findall(r"\.attr\.([^\"',\]]+)", json.dumps(turn.get("expect") or {}, ensure_ascii=False))
                keys = [*refs, *((turn.get("expect") or {}).get("products") or {}).get("attributes", {})]
                assert all(not _CJK.search(k) for k in keys) if variant.english_keys else True, keys


def test_each_part_of_a_dialogue_is_mapped_alike(rows):
    vmap = make_map(rows, VARIANTS["all"])
    suite = _raw_suite()
    red = rewrite_dialogue_file(suite["search_zh"], vmap)["dialogues"][0]
    assert red["turns"][0]["user"] == "想买条红色的连衣裙，$43以内的"
    assert red["turns"][0]["expect"]["args"] == {"price_max": 43.0, "color": "红色"}
    assert red["turns"][0]["expect"]["products"]["price_max"] == 42.99
    assert red["turns"][1]["expect"]["products"]["price_below"] == "@prev.max_price"  # references stay
    assert red["turns"][2]["expect"]["text_contains_any"] == ["@prev.1.attr.material"]
    assert vmap.ids["P1009"] in red["note"] and "[variant all:" in red["note"]
    phone = next(d for d in rewrite_dialogue_file(suite["answer"], vmap)["dialogues"]
                 if d["id"] == "zh-phone-warranty-unknown")
    assert phone["turns"][0]["expect"]["text_contains_any"] == ["185.99", "185.99"]  # "1299", "1,299"
    assert phone["turns"][1]["expect"]["text_not_contains"][:3] == ["一年", "两年", "三年"]  # not prices
    suitcase = next(d for d in rewrite_dialogue_file(suite["constraints_carry"], vmap)["dialogues"]
                    if d["id"] == "zh-suitcase-raise-budget")
    assert suitcase["turns"][1]["expect"]["products"]["attributes"] == {"dimensions": "20寸"}
    image = next(d for d in rewrite_dialogue_file(suite["similar"], vmap)["dialogues"]
                 if any(t.get("image") for t in d["turns"]))
    assert all(t.get("image") in (None, *vmap.ids.values()) for t in image["turns"])


@pytest.mark.parametrize("name", ["num12", "all"])  # ids alone (exact); ids, keys and prices together
def test_each_turn_is_met_by_the_same_products_in_the_variant(written, rows, name):
    """The metamorphic relation on the catalog side: a turn's static constraints pick the images of the products
    they picked in the original (id and key variants exactly; USD prices may let a few more through a limit)."""
    vmap = written[name].map
    new_rows = {r["id"]: r for r in load_catalog_rows([written[name].catalog])}
    old_files = load_dialogues([HERE])
    new_files = {d.id: d for f in load_dialogues([written[name].dialogues]) for d in f.dialogues}
    for d in (d for f in old_files for d in f.dialogues):
        for old_turn, new_turn in zip(d.turns, new_files[d.id].turns, strict=True):
            if old_turn.expect.products is None:
                continue
            old_checks = {k: v for k, v in old_turn.expect.products.model_dump(exclude_none=True).items()
                          if "@" not in json.dumps(v, ensure_ascii=False)}
            new_checks = {k: v for k, v in new_turn.expect.products.model_dump(exclude_none=True).items()
                          if "@" not in json.dumps(v, ensure_ascii=False)}
            before = {vmap.ids[r["id"]] for r in rows if not product_violations(r, old_checks)}
            after = {i for i, r in new_rows.items() if not product_violations(r, new_checks)}
            assert before <= after, (d.id, sorted(before - after))
            if not VARIANTS[name].usd:
                assert before == after, (d.id, sorted(after - before))


def test_variant_rows_rewrite_ids_inside_texts(rows):
    vmap = make_map(rows, VARIANTS["num12"])
    extra = next(r for r in variant_rows(rows, vmap) if r["url"].endswith(vmap.ids["P9001"]))
    assert extra["id"] == vmap.ids["P9001"] and "P9001" not in json.dumps(extra)
