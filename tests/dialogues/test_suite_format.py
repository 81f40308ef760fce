"""Fast checks of the dialogue suites: the YAML files, their fit to their catalogs (the demo catalog; the catalog
derived from the Taobao titles in ../shared/data), and the checker itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from daogou.evals.dialogue_checks import TOOL_NAMES, CatalogFacts, args_match, product_violations, value_matches
from daogou.evals.dialogue_run import check_turn, literal_ids
from daogou.evals.dialogues import (
    DialogueFormatError,
    Expect,
    catalog_problems,
    format_report,
    load_catalog_rows,
    load_dialogues,
    run_suite,
)
from daogou.evals.reply_checks import detect_language
from daogou.ingest.demo import demo_products

HERE = Path(__file__).parent
EXTRA = HERE / "catalog_extra.jsonl"
TAOBAO = HERE / "taobao"
TITLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev" / "dev_corpus.jsonl"


@pytest.fixture(scope="module")
def files():
    return load_dialogues([HERE])


@pytest.fixture(scope="module")
def dialogues(files):
    return [d for f in files for d in f.dialogues]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [p.model_dump(mode="json") for p in demo_products()] + load_catalog_rows([EXTRA])


@pytest.fixture(scope="module")
def facts(rows) -> CatalogFacts:
    return CatalogFacts.from_rows(rows)


# ------------------------------------------------------------------------------------------------ the suite
def test_every_file_validates_and_names_its_group(files):
    stems = {Path(f.path).stem for f in files}
    assert stems >= {"search_zh", "search_en", "constraints_carry", "references", "similar", "recommend",
                     "details_compare", "answer", "copy", "chitchat", "no_match", "injection", "language"}
    assert all(f.group == Path(f.path).stem for f in files)


def test_size_and_language_balance(dialogues):
    zh = [d for d in dialogues if d.language == "zh"]
    en = [d for d in dialogues if d.language == "en"]
    assert len(dialogues) >= 40
    assert len(zh) >= 15 and len(en) >= 15
    assert all(2 <= len(d.turns) <= 6 for d in dialogues)


def test_every_tool_and_no_tool_is_expected_somewhere(dialogues):
    expected: set[str] = set()
    no_tool = 0
    for d in dialogues:
        for t in d.turns:
            expected |= set(t.expect.tools or []) | set(t.expect.tools_any_of or [])
            no_tool += t.expect.tools == []
    assert expected == set(TOOL_NAMES)
    assert no_tool >= 3


def test_behaviours_are_covered(dialogues):
    tags = {t for d in dialogues for t in d.tags}
    assert tags >= {"search", "carry_over", "revision", "reference", "similar", "image", "recommend", "details",
                    "compare", "answer", "not_in_catalog", "copy", "chitchat", "gift", "no_match", "injection",
                    "language", "price", "colour", "size", "brand", "in_stock"}


def test_ids_and_images_exist_in_the_catalog(files, facts):
    assert catalog_problems(files, facts) == []


def unsatisfiable_turns(dialogues, rows) -> list[str]:
    """Turns whose per-product constraints (those without @references) fewer than min_count catalog products meet,
    or whose include_ids break the turn's own constraints."""
    out = []
    for d in dialogues:
        for n, t in enumerate(d.turns, 1):
            if t.expect.products is None:
                continue
            checks = t.expect.products.model_dump(exclude_none=True)
            static = {k: v for k, v in checks.items() if "@" not in json.dumps(v, ensure_ascii=False)}
            ok = {r["id"] for r in rows if not product_violations(r, static)}
            need = checks.get("min_count", 0 if checks.get("max_count") == 0 else 1)
            if len(ok) < need:
                out.append(f"{d.id} turn {n}: only {sorted(ok)} meet {static}")
            missing = [i for i in static.get("include_ids", []) if i not in ok]
            if missing:
                out.append(f"{d.id} turn {n}: {missing} break the turn's own constraints")
    return out


def test_every_turn_can_be_satisfied_by_the_catalog(dialogues, rows):
    assert unsatisfiable_turns(dialogues, rows) == []


def test_no_match_premises_hold(rows):
    def where(**checks):
        return [r["id"] for r in rows if not product_violations(r, checks)]

    assert where(tag="手机", price_max=100) == []
    assert min(r["price"] for r in rows if "手机" in r["tags"]) == 1188
    assert where(tag="双肩包", color="黑色") == []
    assert where(tag="沙发", color="红色") == []
    assert where(category="鞋靴", size="45") == []
    assert where(tag="哑铃", brand_not=["劲动"]) == []
    by_id = {r["id"]: r for r in rows}
    for pid, word in (("P1105", "保修"), ("P1119", "电池"), ("P1001", "机洗")):
        assert word not in json.dumps(by_id[pid], ensure_ascii=False)


# ------------------------------------------------------------------------------------------------ the format
def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


_GOOD = """group: {group}
dialogues:
  - id: d1
    tags: [search]
    language: zh
    turns:
      - user: 红色连衣裙
        expect: {{tools: [search_catalog]}}
      - user: 第二个
        expect: {expect}
"""


@pytest.mark.parametrize(("expect", "message"), [
    ("{tool: [search_catalog]}", "tool.*Extra inputs"),
    ("{tools: [find_products]}", "unknown tool 'find_products'"),
    ("{args: {product_id: '@prev.second'}}", "not a reference"),
    ("{args: {product_id: '@turn3.1'}}", "only earlier turns"),
    ("{tools: [search_catalog], tools_any_of: [similar_products]}", "either tools"),
    ("{language: fr}", "language"),
    ("{text_matches: ['(unclosed']}", "not a regular expression"),
])
def test_malformed_dialogue_names_file_and_dialogue(tmp_path, expect, message):
    path = _write(tmp_path, "bad", _GOOD.format(group="bad", expect=expect))
    with pytest.raises(DialogueFormatError, match=rf"bad\.yaml: dialogue 'd1': .*{message}"):
        load_dialogues([path])


def test_file_level_mistakes_are_named(tmp_path):
    with pytest.raises(DialogueFormatError, match="group is 'other'; set it to the file name 'x'"):
        load_dialogues([_write(tmp_path, "x", _GOOD.format(group="other", expect="{}"))])
    one_turn = "group: y\ndialogues:\n  - {id: d1, tags: [a], language: en, turns: [{user: hi}]}\n"
    with pytest.raises(DialogueFormatError, match="y.yaml: dialogue 'd1': turns"):
        load_dialogues([_write(tmp_path, "y", one_turn)])
    a = _write(tmp_path, "a", _GOOD.format(group="a", expect="{}"))
    b = _write(tmp_path, "b", _GOOD.format(group="b", expect="{}"))
    with pytest.raises(DialogueFormatError, match="dialogue id 'd1' is also used in a.yaml"):
        load_dialogues([a, b])


# ------------------------------------------------------------------------------------------------ the checker
def _card(facts: CatalogFacts, pid: str) -> dict:
    r = facts.rows[pid]
    return {k: r[k] for k in ("id", "title", "price", "currency", "category", "brand", "attributes", "stock")}


def _check(facts, out, expect: dict, *, language="zh", history=(), users=("想买条红色的连衣裙，300块以内的",)):
    failures, *_ = check_turn(out, Expect.model_validate(expect), language, list(history), list(users), facts)
    return failures


def _out(text, products=(), calls=()):
    return {"text": text, "products": list(products), "tool_calls": list(calls), "timings_ms": {}}


def test_grounded_reply_passes(facts):
    dresses = [_card(facts, i) for i in ("P1024", "P1012")]
    out = _out("找到两条300元以内的红色连衣裙：“红色碎花连衣裙”亚麻材质，售价¥199.00，有 M/L/XL/XXL 4 个尺码；"
               "红色吊带连衣裙 129元，真丝的。两条差70元。", dresses,
               [{"name": "search_catalog",
                 "args": {"query": "红色连衣裙", "filters": {"max_price": "300", "colors": ["红"]}}}])
    expect = {"tools": ["search_catalog"], "args": {"price_max": 300, "color": "红色"}, "args_absent": ["brand"],
              "products": {"price_max": 300, "color": "红色", "category": "服装", "tag": "连衣裙", "min_count": 2}}
    assert _check(facts, out, expect) == []


def test_invented_price_fails(facts):
    out = _out("红色碎花连衣裙现在只要159元！", [_card(facts, "P1024")], [{"name": "search_catalog", "args": {}}])
    failures = _check(facts, out, {})
    assert [f.check for f in failures] == ["grounded"]
    assert "159" in failures[0].reason and "199" in failures[0].reason


def test_facts_of_a_product_looked_up_by_id_are_grounded(facts):
    call = {"name": "write_copy", "args": {"product_id": "P1024", "style": "小红书"}}
    copy = "夏日必入！这条红色碎花连衣裙亚麻面料，“一穿就心动”，只要199元！"
    assert _check(facts, _out(copy, calls=[call]), {"tools": ["write_copy"]}, users=["帮我写文案"]) == []
    assert _check(facts, _out(copy), {}, users=["帮我写文案"])[0].check == "grounded"


def test_invented_id_and_name_fail(facts):
    out = _out("推荐 P1999，还有“红色真丝连衣裙”。", [_card(facts, "P1024")])
    reasons = " | ".join(f.reason for f in _check(facts, out, {}))
    assert "P1999" in reasons and "红色真丝连衣裙" in reasons


def test_product_over_the_price_cap_fails(facts):
    out = _out("这两条都不错。", [_card(facts, "P1024"), _card(facts, "P1007")],
               [{"name": "search_catalog", "args": {}}])
    failures = _check(facts, out, {"products": {"price_max": 300, "color": "红色"}})
    assert [f.check for f in failures] == ["products"]
    assert "P1007 price 359.0 breaks price_max 300" in failures[0].reason


def test_wrong_tool_fails(facts):
    out = _out("这些和它很像。", [_card(facts, "P1012")], [{"name": "search_catalog", "args": {"query": "类似"}}])
    failures = _check(facts, out, {"tools": ["similar_products"], "args": {"product_id": "P1024"}})
    assert {f.check for f in failures} == {"tools", "args"}
    assert _check(facts, _out("你好！"), {"tools": []}) == []
    searched = _out("你好！", calls=[{"name": "search_catalog", "args": {}}])
    assert _check(facts, searched, {"tools": []})[0].check == "tools"


@pytest.mark.parametrize(("key", "want", "got", "ok"), [
    ("price_max", 300, "300元", True), ("price_max", 300, 299, False), ("color", "red", ["红"], True),
    ("color", "蓝色", ["红色"], False), ("size", "M", "medium", True), ("size", "42", 42, True),
    ("brand", "踏风", "踏风 Tafeng", True), ("category", "鞋靴", "shoes", True),
    ("product_ids", ["P1001", "P1002"], ["p1002", "P1001", "P1003"], True),
    ("product_ids", ["P1001", "P1002"], ["P1001"], False), ("price_max", {"lt": 300}, 250, True),
    ("exclude_brands", {"any_of": ["拾光", "Shiguang"]}, ["Shiguang"], True),
])
def test_argument_values_compare_by_meaning(key, want, got, ok):
    assert value_matches(key, want, got) is ok


def test_argument_aliases_and_nesting():
    args = {"query": "dress", "filters": {"max_price": 300, "colour": "red"}, "ids": ["P1001"]}
    assert args_match(args, {"price_max": 300, "color": "红色", "product_id": "P1001"}) == []
    assert args_match(args, {"price_min": 100}) == ["price_min=100 (got absent)"]


def test_invented_colour_argument_fails_args_absent(facts):
    call = {"name": "search_catalog", "args": {"query": "生日礼物", "max_price": 500, "color": "粉色"}}
    expect = {"tools": ["search_catalog"], "args_absent": ["color"]}
    failures = _check(facts, _out("给你挑了几样。", calls=[call]), expect)
    assert [f.check for f in failures] == ["args_absent"]
    ok = {"name": "search_catalog", "args": {"query": "生日礼物", "max_price": 500, "color": None}}
    assert _check(facts, _out("给你挑了几样。", calls=[ok]), {"args_absent": ["color"]}) == []


def test_chinese_reply_to_an_english_dialogue_fails_language(facts):
    boots = [_card(facts, "P1037")]
    zh = _check(facts, _out("有的，这双靴子防水，37码有货。", boots), {}, language="en", users=["Is it waterproof?"])
    assert [f.check for f in zh] == ["language"]
    en = "Yes — the 蓝色雪地靴子 / Blue snow boots (踏风 Tafeng) are waterproof (防水: 是) and come in size 37."
    assert _check(facts, _out(en, boots), {}, language="en", users=["Is it waterproof?"]) == []


def test_language_rule(facts):
    assert detect_language("这款连衣裙是 chiffon 材质，很适合夏天。", facts)[0] == "zh"
    assert detect_language("This dress is made of linen and costs 199 元.", facts)[0] == "en"
    assert detect_language("I think this dress is 很好看", facts)[0] is None
    assert detect_language("", facts) == (None, 0.0)


def test_references_resolve_against_earlier_turns(facts):
    shown = [_card(facts, i) for i in ("P1135", "P1142", "P1149")]
    call = {"name": "product_details", "args": {"product_id": "P1142"}}
    out = _out("黑色北欧台灯是陶瓷灯身，高52cm，售价529元。", [_card(facts, "P1142")], [call])
    expect = {"tools": ["product_details"], "args": {"product_id": "@prev.2"}, "products": {"include_ids": ["@prev.2"]},
              "text_contains_any": ["@prev.2.price"], "text_contains_all": ["@prev.2.attr.材质"]}
    assert _check(facts, out, expect, history=[shown], users=["台灯", "第二个详细说说"]) == []
    failures = _check(facts, out, {"args": {"product_id": "@prev.3"}}, history=[shown[:2]])
    assert "cannot check: @prev.3: that turn showed 2 product(s)" in failures[0].reason


def test_cheaper_and_not_that_brand(facts):
    before = [_card(facts, i) for i in ("P1009", "P1020", "P1024")]  # max price 269
    after = _out("再便宜点的有这些。", [_card(facts, "P1012"), _card(facts, "P1024")])
    assert _check(facts, after, {"products": {"price_below": "@prev.max_price", "ids_exclude": ["@prev.1"]}},
                  history=[before]) == []
    same = _out("还有这条。", [_card(facts, "P1009")])
    failures = _check(facts, same, {"products": {"brand_not": ["@prev.1.brand"]}}, history=[before])
    assert "brand '织语 Zhiyu' was excluded" in failures[0].reason


def test_units_counts_and_user_numbers_are_not_invented_prices(facts):
    phone = [_card(facts, "P1119")]
    text = "100元以内没有手机，最便宜的是灰色轻薄手机 256GB，6.7英寸，¥1188，库存67件，比你的预算多1088元。"
    assert _check(facts, _out(text, phone), {"says_no_match": True}, users=["100元以内的手机有吗"]) == []


def test_honesty_checks(facts):
    assert _check(facts, _out("商品信息里没有提到保修期限，建议咨询客服。"), {"says_unknown": True}) == []
    made_up = _check(facts, _out("这款手机保修一年。"), {"says_unknown": True})
    assert [f.check for f in made_up] == ["honesty"]


def test_malformed_output_is_a_failure_not_a_crash(facts):
    assert _check(facts, "not a dict", {})[0].check == "output"
    failures = _check(facts, {"text": "你好", "products": [{"title": "x"}], "tool_calls": [{"args": {}}]}, {})
    assert {f.check for f in failures} == {"output"}


# ------------------------------------------------------------------------------------------------ the runner
_MINI = """group: mini
dialogues:
  - id: mini-search
    tags: [search, price]
    language: zh
    turns:
      - user: 300以内的红色连衣裙
        expect:
          tools: [search_catalog]
          args: {price_max: 300}
          products: {price_max: 300, color: 红色}
      - user: 第一个什么材质？
        expect:
          text_contains_any: ["@prev.1.attr.材质"]
  - id: mini-image
    tags: [similar, image]
    language: en
    turns:
      - user: anything like this?
        image: P1055
        expect: {tools: [similar_products]}
      - user: thanks!
        expect: {tools: []}
"""


def test_run_suite_end_to_end_with_a_scripted_agent(tmp_path, rows, facts):
    path = _write(tmp_path, "mini", _MINI)
    seen: list[tuple[str, str, Path | None]] = []

    def agent(session: str, text: str, image: Path | None) -> dict:
        seen.append((session, text, image))
        if text.startswith("300"):
            return _out("有两条：红色碎花连衣裙 199元，红色波点连衣裙 359元。",
                        [_card(facts, "P1024"), _card(facts, "P1007")],
                        [{"name": "search_catalog", "args": {"max_price": 300}}])
        if "材质" in text:
            return _out("第一条是亚麻的。")
        if image is not None:
            raise RuntimeError("image model not loaded")
        return _out("You're welcome!")

    report = run_suite(agent, [path], rows, image_root=tmp_path)
    assert [d.id for d in report.dialogues] == ["mini-search", "mini-image"]
    first, second = report.dialogues[0].turns
    assert not first.passed and "P1007 price 359.0 breaks price_max 300" in str(first.failures)
    assert second.passed
    assert report.dialogues[1].turns[1].failures[0].reason.startswith("not run: turn 1 raised RuntimeError")
    assert len(seen) == 3 and seen[0][0] == seen[1][0] != seen[2][0]  # one session per dialogue
    assert seen[2][2] == tmp_path / "images/P1055.png"
    assert report.turn_rate().passed == 1 and report.turn_rate().total == 4
    assert report.by_tag()["price"].passed == 1 and report.by_language()["en"].passed == 0
    text = format_report(report)
    assert "turns passed: 1/4 (25%)" in text and "mini/mini-image" in text
    data = json.loads(report.to_json())
    assert data["turn_pass_rate"] == 0.25 and data["failures_by_check"]["products"] == 1
    progress: list[tuple[str, int]] = []
    only = run_suite(agent, [path], rows, only="similar", image_root=tmp_path,
                     on_turn=lambda d, t: progress.append((d, t.index)))
    assert [d.id for d in only.dialogues] == ["mini-image"]
    assert progress == [("mini-image", 1), ("mini-image", 2)]


def test_run_suite_refuses_a_catalog_without_the_dialogue_products(tmp_path, rows):
    path = _write(tmp_path, "mini", _MINI)
    without = [r for r in rows if r["id"] != "P1055"]
    with pytest.raises(DialogueFormatError, match="mini.yaml: dialogue 'mini-image' turn 1: unknown product id P1055"):
        run_suite(lambda s, t, i: _out(""), [path], without)


# ------------------------------------------------------------------------------------------------ the Taobao suite
@pytest.fixture(scope="module")
def taobao_rows(tmp_path_factory) -> list[dict]:
    if not TITLES.exists():
        pytest.skip(f"{TITLES} is absent (evaluation data lives in ../shared/data, outside the repository)")
    from daogou.evals.taobao_catalog import build_title_catalog

    return load_catalog_rows([build_title_catalog(TITLES, tmp_path_factory.mktemp("taobao"))])


@pytest.fixture(scope="module")
def taobao_files():
    return load_dialogues([TAOBAO])


def test_taobao_suite_size_languages_and_behaviours(taobao_files):
    dialogues = [d for f in taobao_files for d in f.dialogues]
    assert len(dialogues) >= 40
    en = [d for d in dialogues if d.language == "en"]
    assert 5 <= len(en) < len(dialogues) / 2  # zh mostly, some en
    tags = {t for d in dialogues for t in d.tags}
    assert tags >= {"need", "gift", "id", "name", "no_match", "follow_up", "long_text", "compare", "similar", "copy"}
    assert not {d.id for d in dialogues} & {d.id for f in load_dialogues([HERE]) for d in f.dialogues}


def test_taobao_ids_exist_and_turns_are_satisfiable(taobao_files, taobao_rows):
    assert catalog_problems(taobao_files, CatalogFacts.from_rows(taobao_rows)) == []
    assert unsatisfiable_turns([d for f in taobao_files for d in f.dialogues], taobao_rows) == []


def test_taobao_notes_name_the_products_that_make_each_dialogue_answerable(taobao_files, taobao_rows):
    ids = {r["id"] for r in taobao_rows}
    for f in taobao_files:
        for d in f.dialogues:
            named = set(re.findall(r"D\d{4}", d.note))
            assert named and named <= ids, f"{d.id}: note {d.note!r} names no catalog product"
            used = set().union(*(literal_ids(t) for t in d.turns))
            assert used <= named, f"{d.id}: note does not name {sorted(used - named)}"


def test_taobao_premises_hold(taobao_rows):
    """What the dialogues take as facts of the derived catalog: what it lacks, prices, stock and title texts."""
    by_id = {r["id"]: r for r in taobao_rows}

    def titled(word):
        return sorted(r["id"] for r in taobao_rows if word in r["title"])

    assert titled("洗碗机") == [] and titled("跑步机") == [] and titled("口红") == ["D0022"]
    assert [i for i in titled("吹风机") if "吹风机架" not in by_id[i]["title"]] == []
    assert [i for i in titled("空调") if "空调罩" in by_id[i]["title"]] == ["D0218"]
    tv_things = sorted(r["id"] for r in taobao_rows if "电视机" in r["tags"])
    assert tv_things == ["D0332", "D0550"] and "稳压器" in by_id["D0550"]["title"]  # the only TV, and a TV's stabiliser
    assert by_id["D0332"]["price"] == 619 and by_id["D0332"]["stock"] > 0
    assert min(r["price"] for r in taobao_rows if "蟑螂" in r["tags"]) > 200
    assert by_id["D0036"]["stock"] == 0 and by_id["D0670"]["stock"] == 0
    assert by_id["D0113"]["attributes"]["规格"] == "8只" and by_id["D0327"]["attributes"]["材质"] == "316不锈钢"
    for pid, price in (("D0576", 309), ("D0136", 159), ("D0402", 159), ("D0143", 49), ("D0218", 1298),
                       ("D0172", 449), ("D0317", 49), ("D0225", 729), ("D0303", 1898), ("D0327", 26.9)):
        assert by_id[pid]["price"] == price, pid
    assert "瓶" not in by_id["D0470"]["title"] and "粒" not in by_id["D0470"]["title"]  # says_unknown premise
