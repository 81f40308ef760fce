"""The widget and API under load and misuse: busy replies, rate limits, long messages, a vanished client, and a long
session that stays within its bounds (fake encoders, a scripted writer standing in for the LLM)."""

from __future__ import annotations

import json
import re
import threading
from types import SimpleNamespace

import pytest

from daogou.agent.state import DialogueState, ShownProduct
from daogou.app.conversation import MAX_SEEN_PRODUCTS, MAX_USER_NUMBERS, ChatSession, bound_state
from daogou.app.session_store import MAX_STATE_CHARS, SessionStore

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its monitoring uses old pandas API


class HeldWriter:
    """Streams its reply only after `release` is set; records whether its stream was closed early."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.closed_early = False

    def stream(self, messages, *, max_new_tokens=64):
        self.started.set()
        self.release.wait(10)
        done = False
        try:
            yield from ("这件", "很适合", "夏天穿。")
            done = True
        finally:
            self.closed_early = not done


@pytest.fixture
def make_widget(fake_store, settings, tmp_path):
    from daogou.agent.agent import Agent
    from daogou.app.webapp import ShopWidget
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex
    from tests.unit.test_store_search import ROWS, _catalog

    ingest_catalogs([_catalog(tmp_path, [dict(r) for r in ROWS])], fake_store, settings)
    index = CatalogIndex(fake_store)

    def make(writer=None, **changes):
        from tests.fakes.widget import ScriptedWriter

        return ShopWidget(settings.with_(**changes), Agent(index, writer=writer or ScriptedWriter()),
                          SessionStore(":memory:"))

    return make


def _host(ip: str) -> SimpleNamespace:
    return SimpleNamespace(client=SimpleNamespace(host=ip))


def _last_words(frames) -> str:
    return frames[-1][0][-1]["content"]


def test_a_full_house_gets_a_friendly_busy_reply_and_keeps_the_message(make_widget):
    writer = HeldWriter()
    widget = make_widget(writer, ui_queue_size=1)
    a, b = widget.on_load(None)[0], widget.on_load(None)[0]
    t = threading.Thread(target=lambda: list(widget.chat("连衣裙", [], a, [], _host("10.0.0.1"))))
    t.start()
    assert writer.started.wait(10)  # A's turn is running: the house (of one) is full
    message = {"text": "跑步鞋", "files": []}
    frames = list(widget.chat(message, [], b, [], _host("10.0.0.2")))
    assert len(frames) == 1 and "咨询的人太多" in _last_words(frames) and frames[0][1] == message
    busy = list(widget.ask("跑步鞋", None, "", _host("10.0.0.3")))[-1]
    assert busy["busy"] and busy["retry_after_s"] >= 1 and busy["done"]
    writer.release.set()
    t.join(10)
    assert widget.gate.admitted == 0
    assert "dg-cards" in str(list(widget.chat("跑步鞋", [], b, [], _host("10.0.0.2")))[-1][0])  # served again


def test_one_client_is_rate_limited_others_are_not(make_widget):
    widget = make_widget(ui_rate_burst=2, ui_rate_per_min=1)
    ident = widget.on_load(None)[0]
    for _ in range(2):
        assert "dg-cards" in str(list(widget.chat("连衣裙", [], ident, [], _host("10.0.0.1")))[-1][0])
    frames = list(widget.chat("连衣裙", [], ident, [], _host("10.0.0.1")))
    assert "发得有点快" in _last_words(frames) and frames[0][1] == "连衣裙"
    assert "dg-cards" in str(list(widget.chat("连衣裙", [], ident, [], _host("10.0.0.2")))[-1][0])


def test_a_too_long_message_is_refused_with_the_limit_and_kept(make_widget):
    widget = make_widget()
    ident = widget.on_load(None)[0]
    text = "红" * 100_000
    frames = list(widget.chat({"text": text, "files": []}, [], ident, []))
    assert "100000" in _last_words(frames) and "2000" in _last_words(frames)
    assert frames[0][1]["text"] == text  # nothing lost: the text is back in the box
    out = list(widget.ask(text))[-1]
    assert "over the limit of 2000" in out["error"]


def test_a_vanished_client_releases_the_model_the_session_and_its_place(make_widget):
    writer = HeldWriter()
    widget = make_widget(writer)
    ident = widget.on_load(None)[0]
    turn = widget.chat("连衣裙", [], ident, [])
    next(turn)  # the turn is admitted and running
    writer.release.set()
    for frame in turn:
        if "这件" in str(frame[0][-1].get("content")):
            break  # the first words are out
    turn.close()  # what Gradio does when the browser goes away
    assert writer.closed_early  # the model stopped writing
    assert widget.gate.admitted == 0 and widget.gate.sessions_held == 0
    frames = list(widget.chat("跑步鞋", [], ident, []))  # the same session goes on at once
    assert "dg-cards" in str(frames[-1][0])
    assert [m["role"] for m in widget.sessions.messages(ident["session"])] == ["user", "assistant"]  # only whole turns


def test_bound_state_keeps_what_can_be_referred_to_and_the_latest():
    state = DialogueState()
    for i in range(1000):
        state.catalog_seen[f"P{i}"] = ShownProduct(id=f"P{i}", title=f"t{i}", price=1.0)
    state.shown, state.focus, state.anchor = ["P3", "P4"], "P5", "P6"
    state.user_numbers = [float(i) for i in range(20_000)]
    bound_state(state, shown_now=["P1"])
    seen = set(state.catalog_seen)
    assert {"P1", "P3", "P4", "P5", "P6", "P999"} <= seen and "P500" not in seen
    assert len(seen) <= MAX_SEEN_PRODUCTS + 4 and len(state.user_numbers) == MAX_USER_NUMBERS
    assert state.user_numbers[-1] == 19_999.0
    assert len(json.dumps(state.model_dump(mode="json"))) < MAX_STATE_CHARS // 10


def test_a_300_turn_session_stays_within_its_bounds(make_widget, monkeypatch):
    import daogou.app.webapp as webapp

    monkeypatch.setattr(webapp, "STREAM_PAUSE_S", 0)
    widget = make_widget(ui_rate_per_min=0)
    ident = widget.on_load(None)[0]
    history: list = []
    sizes = []
    for n in range(300):
        frames = list(widget.chat(f"连衣裙 {n}元以内 {n * 7}", history, ident, []))
        history = frames[-1][0]
        sizes.append(len(widget.sessions.load_state(ident["session"]) and
                         json.dumps(widget.sessions.load_state(ident["session"]))))
    state = widget.sessions.load_state(ident["session"])
    assert state["turns"] == 300 and len(state["user_numbers"]) <= MAX_USER_NUMBERS
    assert max(sizes[150:]) <= max(sizes[:150]) * 1.5  # flat, not growing with the session
    assert len(history) <= 80 + 4  # the page keeps the latest messages only
    assert len(widget.sessions.messages(ident["session"])) == 600  # the store keeps the whole conversation
    assert widget.gate.sessions_held == 0 and widget.gate.admitted == 0
    reloaded = widget.on_load(ident)
    assert len(reloaded[2]) <= 3 * 80  # a reload shows the latest messages, not 600


def test_a_huge_saved_state_loads_bounded_and_the_session_goes_on(make_widget):
    widget = make_widget()
    ident = widget.on_load(None)[0]
    huge = DialogueState(user_numbers=[1.0] * 50_000).model_dump(mode="json")
    widget.sessions.save_state(ident["session"], huge)
    sess = ChatSession(agent=widget.agent, sessions=widget.sessions, user_id=ident["user"],
                       session_id=ident["session"])
    result = sess.run_turn("连衣裙")
    assert result.products and len(widget.sessions.load_state(ident["session"])["user_numbers"]) <= MAX_USER_NUMBERS


def test_a_full_disk_reaches_the_shopper_as_words_and_the_widget_recovers(make_widget, tmp_path):
    widget = make_widget()
    widget.sessions = SessionStore(tmp_path / "sessions.sqlite3")
    ident = widget.on_load(None)[0]

    def fill_the_disk() -> None:  # SQLite's own "database or disk is full", per connection
        conn = widget.sessions._connection()
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    long = "连衣裙 " + "很" * 1900  # needs new pages, which the "disk" no longer has
    fill_the_disk()
    frames = list(widget.chat(long, [], ident, []))
    assert "对话记录暂时无法" in str(frames[-1][0][-1]["content"]) or "没能保存" in str(frames[-1][0][-1]["content"])
    fill_the_disk()
    assert re.search("对话记录暂时无法|没能保存", list(widget.ask(long))[-1]["error"])
    assert widget.sessions.messages(ident["session"]) == []  # nothing half-written
    # the fault is gone (the store reopened the file after the error): the same session goes on
    assert "dg-cards" in str(list(widget.chat("连衣裙", [], ident, []))[-1][0])
    assert len(widget.sessions.messages(ident["session"])) == 2
