"""The web widget's logic without a browser: card HTML escaping, upload checks, session mapping, streamed turns."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from PIL import Image

from daogou.app.browser_sessions import history_messages, restore_identity
from daogou.app.cards_html import ThumbnailCache, card_html, cards_html, escape_text
from daogou.app.session_store import SessionStore
from daogou.app.uploads import UploadError, read_upload
from daogou.settings import Settings

XSS_TITLE = '<img src=x onerror=alert(1)> 红色连衣裙 <script>alert("t")</script>'
CARD = {"id": "X1", "title": XSS_TITLE, "price": 199.0, "currency": "CNY", "brand": "<b>云裳</b>",
        "category": "服装", "attributes": {"颜色": "红色\"><script>x()</script>", "尺码": "M"}, "stock": 0,
        "image": None, "url": "", "score": 0.5}


def _png(path: Path, size=(64, 48), color=(200, 20, 20)) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def test_card_escapes_every_catalog_string():
    out = card_html(CARD, "zh")
    assert "<script" not in out and "<img src=x" not in out and "<b>" not in out
    assert html.escape(XSS_TITLE) in out  # shown literally
    assert "&lt;script&gt;x()&lt;/script&gt;" in out
    assert "¥199" in out and "缺货" in out and "无图" in out and '<span class="dg-id">X1</span>' in out
    assert "\n" not in cards_html([CARD, CARD], "zh")  # one line: Markdown keeps it one HTML block


def test_card_english_and_stock_and_foreign_currency():
    out = card_html({**CARD, "title": "Mug", "price": 12.5, "currency": "USD", "stock": 7}, "en")
    assert "12.50 USD" in out and "7 in stock" in out


def test_escape_text_neutralises_html():
    assert escape_text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_text("") == ""


def test_thumbnail_is_an_inline_jpeg_and_bad_paths_give_none(tmp_path):
    thumbs = ThumbnailCache(max_bytes=10_000_000, max_pixels=40_000_000, side=32)
    uri = thumbs.data_uri(str(_png(tmp_path / "a.png", (300, 200))))
    assert uri and uri.startswith("data:image/jpeg;base64,")
    assert thumbs.data_uri(str(_png(tmp_path / "a.png", (300, 200)))) == uri  # cached
    (tmp_path / "x.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    for bad in (None, "", str(tmp_path / "missing.png"), str(tmp_path / "x.txt"), str(tmp_path / "broken.png"),
                "/etc/passwd"):
        assert thumbs.data_uri(bad) is None
    out = card_html({**CARD, "image": str(tmp_path / "a.png")}, "zh", thumbs)
    assert re.search(r'<img src="data:image/jpeg;base64,[A-Za-z0-9+/=]+" alt="&lt;img', out)


def test_a_fresh_thumbnail_cache_inlines_images_and_stays_bounded(tmp_path):
    thumbs = ThumbnailCache(max_bytes=10_000_000, max_pixels=40_000_000, side=16, max_entries=3)
    first = card_html({**CARD, "image": str(_png(tmp_path / "first.png"))}, "zh", thumbs)  # empty cache
    assert "data:image/jpeg;base64," in first
    for i in range(10):
        thumbs.data_uri(str(_png(tmp_path / f"p{i}.png", (20 + i, 20))))
    assert thumbs.size == 3


@pytest.fixture
def ui_settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", ui_max_upload_bytes=2000)


def test_upload_accepts_a_small_image(tmp_path, ui_settings):
    im = read_upload(_png(tmp_path / "ok.png", (20, 20)), ui_settings, "zh")
    assert im.mode == "RGB" and im.size == (20, 20)


def test_upload_refuses_wrong_type_too_big_and_corrupt_with_friendly_words(tmp_path, ui_settings):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UploadError, match="只能上传图片.*notes.txt"):
        read_upload(tmp_path / "notes.txt", ui_settings, "zh")
    big = _png(tmp_path / "big.png", (400, 400))
    Image.effect_noise((400, 400), 80).convert("RGB").save(big)  # noise does not compress: well over 2000 bytes
    with pytest.raises(UploadError, match="too big .* under 0 MB|too big"):
        read_upload(big, ui_settings, "en")
    (tmp_path / "fake.png").write_bytes(b"this is text pretending to be a png")
    with pytest.raises(UploadError, match="打不开"):
        read_upload(tmp_path / "fake.png", ui_settings, "zh")
    with pytest.raises(UploadError, match="打不开"):
        read_upload(tmp_path / "gone.png", ui_settings, "zh")


def test_browser_identity_is_fresh_restored_or_replaced():
    store = SessionStore(":memory:")
    a = restore_identity(store, None, keep=True)
    b = restore_identity(store, None, keep=True)
    assert a.user_id != b.user_id and a.session_id != b.session_id and a.user_id.startswith("web-")
    assert restore_identity(store, a.to_saved(), keep=True) == a  # reload keeps the session
    assert restore_identity(store, a.to_saved(), keep=False) != a  # shop turned keeping off
    stolen = {"user": b.user_id, "session": a.session_id}  # another browser's session id
    assert restore_identity(store, stolen, keep=True).session_id != a.session_id
    for junk in ("x", {"user": "../../etc", "session": "1"}, {"user": "api", "session": a.session_id}, 42):
        fresh = restore_identity(store, junk, keep=True)
        assert fresh.user_id.startswith("web-") and fresh.session_id not in (a.session_id, b.session_id)


def test_history_messages_rebuild_cards_and_escape():
    store = SessionStore(":memory:")
    sid = store.ensure_session("web-1")
    store.append_message(sid, "user", "<script>hi</script>")
    store.append_message(sid, "assistant", "为你找到 1 件 <b>", [CARD])
    msgs = history_messages(store.messages(sid), "zh")
    assert [m["role"] for m in msgs] == ["user", "assistant", "assistant"]
    assert msgs[0]["content"] == "&lt;script&gt;hi&lt;/script&gt;"
    assert 'class="dg-cards"' in msgs[1]["content"] and "<script" not in msgs[1]["content"]
    assert msgs[2]["content"].endswith("&lt;b&gt;")


def test_ui_settings_from_env(monkeypatch):
    monkeypatch.setenv("DAOGOU_UI_LANG", "EN")
    monkeypatch.setenv("DAOGOU_UI_ORIGINS", "https://shop.example/, http://127.0.0.1:8001")
    monkeypatch.setenv("DAOGOU_UI_ROOT_PATH", "/shop/assistant/")
    monkeypatch.setenv("DAOGOU_UI_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("DAOGOU_UI_KEEP_SESSION", "0")
    s = Settings.from_env()
    assert (s.ui_lang, s.ui_root_path, s.ui_max_upload_bytes, s.ui_keep_session) == ("en", "/shop/assistant",
                                                                                      1234, False)
    assert s.ui_allowed_origins == ("https://shop.example", "http://127.0.0.1:8001")
    monkeypatch.setenv("DAOGOU_UI_LANG", "fr")
    with pytest.raises(ValueError, match="DAOGOU_UI_LANG='fr'.*zh, en"):
        Settings.from_env()
    monkeypatch.setenv("DAOGOU_UI_LANG", "zh")
    monkeypatch.setenv("DAOGOU_UI_ROOT_PATH", "shop")
    with pytest.raises(ValueError, match="must start with '/'"):
        Settings.from_env()
    monkeypatch.setenv("DAOGOU_UI_ROOT_PATH", "/a")
    monkeypatch.setenv("DAOGOU_UI_KEEP_SESSION", "maybe")
    with pytest.raises(ValueError, match="yes/no"):
        Settings.from_env()


@pytest.fixture
def shop_widget(fake_store, settings, tmp_path):
    from daogou.agent.agent import Agent
    from daogou.app.webapp import ShopWidget
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex
    from tests.unit.test_agent import INJECTED, ROWS, ScriptedWriter, _catalog

    ingest_catalogs([_catalog(tmp_path, [dict(r) for r in ROWS] + [dict(INJECTED)])], fake_store, settings)
    agent = Agent(CatalogIndex(fake_store), writer=ScriptedWriter("这件很适合夏天穿。"))
    return ShopWidget(settings.with_(ui_max_upload_bytes=5000), agent, SessionStore(":memory:"))


def test_widget_turn_streams_user_step_cards_then_growing_words(shop_widget):
    ident = shop_widget.on_load(None)[0]
    frames = list(shop_widget.chat({"text": "红色连衣裙 300元以内", "files": []}, [], ident, []))
    history = frames[-1][0]
    assert history[0] == {"role": "user", "content": "红色连衣裙 300元以内"}
    step = history[1]
    assert step["metadata"]["title"] == "搜索商品" and step["metadata"]["status"] == "done"
    assert 'class="dg-cards"' in history[2]["content"] and "D1" in history[2]["content"]
    words = [f[0][-1]["content"] for f in frames if f[0][-1]["role"] == "assistant" and "dg-cards" not in
             f[0][-1]["content"] and "metadata" not in f[0][-1]]
    assert len(set(words)) >= 2 and words[-1].startswith(words[0])  # the words grew over several frames
    assert all("raw" not in m for m in history)
    shown, pick = frames[-1][3], frames[-1][4]
    assert shown[0]["id"] == "D1" and pick.value == "D1"
    # the stored session gives the same conversation back after a reload
    reloaded = shop_widget.on_load(ident)
    assert reloaded[0] == ident and [m["role"] for m in reloaded[2]] == ["user", "assistant", "assistant"]


def test_widget_card_action_names_the_product(shop_widget):
    ident = shop_widget.on_load(None)[0]
    frames = list(shop_widget.act("similar")("D1", [], ident, [{"id": "D1", "title": "x"}]))
    assert frames[-1][0][0]["content"] == "找和 D1 类似的"
    assert frames[-1][2]  # identity kept


def _uploaded(widget, name: str, data: bytes) -> Path:
    """A file where Gradio's upload route puts it (the widget's incoming folder)."""
    folder = widget.uploads.incoming / "0123abcd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_widget_upload_errors_are_friendly_messages(shop_widget, tmp_path):
    ident = shop_widget.on_load(None)[0]
    fake = _uploaded(shop_widget, "fake.png", b"not a picture")
    frames = list(shop_widget.chat({"text": "", "files": [str(fake)]}, [], ident, []))
    assert len(frames) == 1 and "打不开" in frames[0][0][-1]["content"]
    notes = _uploaded(shop_widget, "notes.txt", b"x")
    frames = list(shop_widget.chat({"text": "找类似的", "files": [{"path": str(notes)}]}, [], ident, []))
    assert "只能上传图片" in frames[0][0][-1]["content"]
    assert not fake.exists() and not notes.exists()  # used uploads are deleted
    elsewhere = _png(tmp_path / "elsewhere.png")  # a path that was never uploaded: refused, left alone
    frames = list(shop_widget.chat({"text": "找类似的", "files": [str(elsewhere)]}, [], ident, []))
    assert "打不开" in frames[0][0][-1]["content"] and elsewhere.exists()


def test_widget_escapes_what_the_shopper_types(shop_widget):
    ident = shop_widget.on_load(None)[0]
    frames = list(shop_widget.chat("<script>alert(1)</script> 白色T恤", [], ident, []))
    assert frames[-1][0][0]["content"].startswith("&lt;script&gt;")


def test_api_ask_streams_and_continues(shop_widget):
    first = list(shop_widget.ask("红色连衣裙 300元以内", None, ""))
    assert first[-1]["done"] and first[-1]["products"][0]["id"] == "D1" and len(first) >= 2
    sid = first[-1]["session_id"]
    again = list(shop_widget.ask("第一个防水吗？", None, sid))[-1]
    assert again["session_id"] == sid and again["tool_calls"]
    assert list(shop_widget.ask("x", None, "bad id!"))[-1]["error"].startswith("bad session id")


def test_a_slow_reply_does_not_hold_back_another_shoppers_cards(fake_store, settings, tmp_path):
    """Two shoppers at once: B's cards arrive while A's words are still being written."""
    import threading

    from daogou.agent.agent import Agent
    from daogou.app.webapp import ShopWidget
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex
    from tests.unit.test_agent import ROWS, _catalog

    release = threading.Event()

    class SlowWriter:  # stands in for the LLM: holds its reply until told to go on
        def stream(self, messages, *, max_new_tokens=64):
            release.wait(10)
            yield "这件很适合你。"

    ingest_catalogs([_catalog(tmp_path, [dict(r) for r in ROWS])], fake_store, settings)
    widget = ShopWidget(settings, Agent(CatalogIndex(fake_store), writer=SlowWriter()), SessionStore(":memory:"))
    a, b = widget.on_load(None)[0], widget.on_load(None)[0]
    done_a = threading.Event()

    def shopper_a():
        list(widget.chat("连衣裙", [], a, []))
        done_a.set()

    t = threading.Thread(target=shopper_a)
    t.start()
    b_frames = widget.chat("跑步鞋", [], b, [])
    cards_seen = False
    for frame in b_frames:
        if any("dg-card" in str(m.get("content")) for m in frame[0]):
            cards_seen = True
            break
    assert cards_seen and not done_a.is_set()  # B saw cards while A was still waiting for its words
    release.set()
    list(b_frames)
    t.join(10)
    assert done_a.is_set()


def test_turns_of_one_session_run_one_after_the_other(shop_widget):
    import threading

    sid = list(shop_widget.ask("连衣裙", None, ""))[-1]["session_id"]
    first = shop_widget.ask("便宜点的", None, sid)
    next(first)  # the first turn is running and holds the session
    second = shop_widget.ask("第一个防水吗？", None, sid)
    got: list = []
    t = threading.Thread(target=lambda: got.append(next(second)))
    t.start()
    t.join(0.5)
    assert not got  # waits for the first turn of the same session
    list(first)
    t.join(10)
    assert got
