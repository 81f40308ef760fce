"""SessionStore: schema, ids, messages, state, interactions, export/erasure (down to the bytes), threads;
and the redacting log filter."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from daogou.app import logging_setup
from daogou.app.logging_setup import RedactingFilter, configure_logging, pseudonym, redact
from daogou.app.session_store import (
    EVENTS,
    MAX_CONTENT_CHARS,
    MAX_PRODUCTS,
    SCHEMA_VERSION,
    SessionError,
    SessionStore,
)

TABLES = ("users", "sessions", "messages", "interactions")


@pytest.fixture()
def store(tmp_path: Path):
    with SessionStore(tmp_path / "s.sqlite3") as s:
        yield s


def _all_cells(path: Path) -> list[str]:
    """Every value of every row of every table, as text, read through a fresh connection."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [str(v) for t in tables for row in conn.execute(f"SELECT * FROM {t}") for v in row]
    finally:
        conn.close()


def _fill(store: SessionStore, user: str, marker: str) -> list[str]:
    sids = [store.ensure_session(user), store.ensure_session(user, f"{user}-s2")]
    for sid in sids:
        store.append_message(sid, "user", f"我的电话是 {marker}", products=None)
        store.append_message(sid, "assistant", f"好的 {marker} " + "长" * 30_000,
                             products=[{"id": "P1", "title": f"{marker} 连衣裙", "price": 299.0}])
        store.save_state(sid, {"filters": {"max_price": 300}, "note": marker})
    for event in ("viewed", "liked", "bought"):
        store.record_interaction(user, f"P-{marker}", event)
    return sids


# -- schema and opening ----------------------------------------------------------------------------------

def test_schema_created_on_first_open_and_versioned(tmp_path: Path):
    path = tmp_path / "deep" / "dir" / "s.sqlite3"
    SessionStore(path).close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(TABLES) | {"meta"} <= tables
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with SessionStore(path) as again:  # reopening keeps the data, does not re-create
        again.ensure_session("u1", "s1")
    with SessionStore(path) as again:
        assert again.sessions("u1")[0]["session_id"] == "s1"


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "s.sqlite3"
    SessionStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(SessionError, match="schema version 99.*upgrade daogou"):
        SessionStore(path)


def test_not_a_database_is_refused(tmp_path: Path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SessionError, match="cannot use .* as a sessions database"):
        SessionStore(path)


def test_closed_store_says_so():
    s = SessionStore(":memory:")
    s.close()
    with pytest.raises(SessionError, match="closed"):
        s.ensure_session("u1")


# -- ids and validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "用户", "../etc", "a/b", "a;drop"])
def test_bad_ids_are_refused_with_the_rule(store: SessionStore, bad: str):
    with pytest.raises(ValueError, match=r"bad user id .*1-128 characters of A-Z a-z 0-9 _ \. : -"):
        store.ensure_session(bad)
    with pytest.raises(ValueError, match="bad session id"):
        store.ensure_session("ok-user", bad)


def test_good_ids(store: SessionStore):
    for good in ("a", "x" * 128, "user:42", "3f2a-b.c_d"):
        assert store.ensure_session(good, good) == good


def test_session_of_another_user_is_refused(store: SessionStore):
    store.ensure_session("alice", "s1")
    with pytest.raises(SessionError, match="belongs to another user"):
        store.ensure_session("bob", "s1")
    assert store.ensure_session("alice", "s1") == "s1"  # same owner: fine


def test_new_session_ids_are_unique(store: SessionStore):
    sids = {store.ensure_session("u") for _ in range(20)}
    assert len(sids) == 20
    assert [s["session_id"] for s in store.sessions("u")][0] in sids


def test_bad_role_event_and_unknown_session(store: SessionStore):
    sid = store.ensure_session("u")
    with pytest.raises(SessionError, match="unknown role 'bot'; use one of user, assistant"):
        store.append_message(sid, "bot", "hi")
    with pytest.raises(SessionError, match="unknown session id 'nope'.*ensure_session"):
        store.append_message("nope", "user", "hi")
    with pytest.raises(SessionError, match="unknown interaction event 'loved'; use one of " + ", ".join(EVENTS)):
        store.record_interaction("u", "P1", "loved")
    with pytest.raises(SessionError, match="bad product id"):
        store.record_interaction("u", "", "viewed")
    with pytest.raises(SessionError, match="JSON-serialisable"):
        store.append_message(sid, "assistant", "x", products=[{"price": object()}])
    with pytest.raises(SessionError, match="list of dicts"):
        store.append_message(sid, "assistant", "x", products=["P1"])  # type: ignore[list-item]


# -- messages ------------------------------------------------------------------------------------------------

def test_messages_round_trip_order_and_limit(store: SessionStore):
    sid = store.ensure_session("u")
    cards = [{"id": "P1", "title": "红色连衣裙", "price": 259.0, "attributes": {"颜色": "红色"}}]
    for i in range(5):
        store.append_message(sid, "user" if i % 2 == 0 else "assistant", f"消息 {i}",
                             products=cards if i == 1 else None)
    msgs = store.messages(sid)
    assert [m["content"] for m in msgs] == [f"消息 {i}" for i in range(5)]
    assert msgs[1]["products"] == cards and msgs[0]["products"] is None
    assert [m["content"] for m in store.messages(sid, limit=2)] == ["消息 3", "消息 4"]
    assert store.messages(sid, limit=0) == []
    assert store.messages("unknown-session") == []
    with pytest.raises(SessionError, match="limit"):
        store.messages(sid, limit=-1)


def test_huge_message_is_capped_not_refused(store: SessionStore):
    sid = store.ensure_session("u")
    store.append_message(sid, "user", "好" * 1_000_000)
    (msg,) = store.messages(sid)
    assert len(msg["content"]) <= MAX_CONTENT_CHARS
    assert msg["content"].startswith("好" * 1000)
    assert "truncated" in msg["content"]
    store.append_message(sid, "user", "x" * MAX_CONTENT_CHARS)  # exactly at the cap: kept whole
    assert store.messages(sid)[-1]["content"] == "x" * MAX_CONTENT_CHARS


def test_odd_text_is_stored(store: SessionStore):
    sid = store.ensure_session("u")
    store.append_message(sid, "user", "a\x00b \ud800 c 🙂")
    assert store.messages(sid)[0]["content"] == "a\x00b ? c 🙂"


def test_too_many_products_are_cut(store: SessionStore):
    sid = store.ensure_session("u")
    store.append_message(sid, "assistant", "many", products=[{"id": f"P{i}"} for i in range(MAX_PRODUCTS + 5)])
    assert len(store.messages(sid)[0]["products"]) == MAX_PRODUCTS


# -- state -----------------------------------------------------------------------------------------------------

def test_state_round_trip(store: SessionStore):
    sid = store.ensure_session("u")
    assert store.load_state(sid) is None
    state = {"filters": {"max_price": 300, "colour": "红色"}, "shown": ["P1", "P2"], "turn": 3,
             "nested": {"a": [1, 2.5, None, True]}}
    store.save_state(sid, state)
    assert store.load_state(sid) == state
    store.save_state(sid, {"turn": 4})
    assert store.load_state(sid) == {"turn": 4}
    assert store.load_state("no-such-session") is None
    with pytest.raises(SessionError, match="unknown session"):
        store.save_state("no-such-session", {})
    with pytest.raises(SessionError, match="JSON-serialisable.*model_dump"):
        store.save_state(sid, {"x": {1, 2}})
    with pytest.raises(SessionError, match="exceeds"):
        store.save_state(sid, {"x": "y" * 2_000_000})
    assert store.load_state(sid) == {"turn": 4}  # failed saves change nothing


def test_state_survives_reopen(tmp_path: Path):
    path = tmp_path / "s.sqlite3"
    with SessionStore(path) as s:
        sid = s.ensure_session("u")
        s.save_state(sid, {"k": "值"})
    with SessionStore(path) as s:
        assert s.load_state(sid) == {"k": "值"}


# -- interactions -------------------------------------------------------------------------------------------

def test_interactions(store: SessionStore):
    for event in EVENTS:
        store.record_interaction("u", "P9", event)
    store.record_interaction("other", "P1", "viewed")
    got = store.interactions("u")
    assert [i["event"] for i in got] == list(EVENTS)
    assert {i["product_id"] for i in got} == {"P9"}
    assert store.interactions("nobody") == []


# -- export and erasure ------------------------------------------------------------------------------------

def test_export_then_delete_then_export_is_empty(tmp_path: Path):
    path = tmp_path / "s.sqlite3"
    with SessionStore(path) as store:
        sids = _fill(store, "alice", "13812345678")
        _fill(store, "bob", "bobsecret")
        doc = store.export_user("alice")
        json.dumps(doc)  # serialisable
        assert doc["user_id"] == "alice" and doc["created"]
        assert {s["session_id"] for s in doc["sessions"]} == set(sids)
        assert all(len(s["messages"]) == 2 and s["state"]["note"] == "13812345678" for s in doc["sessions"])
        assert [i["event"] for i in doc["interactions"]] == ["viewed", "liked", "bought"]

        counts = store.delete_user("alice")
        assert counts == {"messages": 4, "sessions": 2, "interactions": 3, "users": 1, "purged": True}
        after = store.export_user("alice")
        assert after["created"] is None and after["sessions"] == [] and after["interactions"] == []
        assert store.messages(sids[0]) == [] and store.load_state(sids[0]) is None
        assert store.delete_user("alice")["users"] == 0  # idempotent
        assert len(store.export_user("bob")["sessions"]) == 2  # others untouched

    cells = _all_cells(path)
    for needle in ("alice", "13812345678", *sids):
        assert not any(needle in c for c in cells), f"{needle} still in a table"
    assert any("bobsecret" in c for c in cells)


def test_deleted_data_is_not_left_in_the_files(tmp_path: Path):
    """secure_delete zeroes the freed cells and pages; the WAL checkpoint leaves no old frames."""
    path = tmp_path / "s.sqlite3"
    store = SessionStore(path)
    marker = "ZQXJ-secret-7731"
    user = "user-PRIVATE-4242"
    _fill(store, user, marker)
    _fill(store, "keeper", "kept-data")
    store.delete_user(user)
    wal = Path(f"{path}-wal")
    for f in (path, wal):
        raw = f.read_bytes() if f.exists() else b""
        assert marker.encode() not in raw, f"marker left in {f.name}"
        assert user.encode() not in raw, f"user id left in {f.name}"
    store.close()
    assert b"kept-data" in path.read_bytes()


def test_export_of_unknown_user_is_empty(store: SessionStore):
    doc = store.export_user("ghost")
    assert doc["sessions"] == [] and doc["interactions"] == [] and doc["created"] is None


# -- threads -------------------------------------------------------------------------------------------------

def test_threads_append_to_different_sessions_at_once(store: SessionStore):
    n_threads, n_msgs = 8, 40
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def worker(k: int) -> None:
        try:
            sid = store.ensure_session(f"user{k}", f"sess{k}")
            barrier.wait()
            for i in range(n_msgs):
                store.append_message(sid, "user", f"{k}:{i}", products=[{"id": f"P{i}"}])
                store.record_interaction(f"user{k}", f"P{i}", "viewed")
                store.save_state(sid, {"i": i})
                store.messages(sid, limit=3)
        except BaseException as e:  # collected and re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for k in range(n_threads):
        assert [m["content"] for m in store.messages(f"sess{k}")] == [f"{k}:{i}" for i in range(n_msgs)]
        assert store.load_state(f"sess{k}") == {"i": n_msgs - 1}
        assert len(store.interactions(f"user{k}")) == n_msgs


def test_two_stores_on_one_file_share_it(tmp_path: Path):
    """Two connections (as two app processes would have) writing at once wait for each other, not fail."""
    path = tmp_path / "s.sqlite3"
    stores = [SessionStore(path), SessionStore(path)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            sid = stores[k].ensure_session(f"u{k}", f"s{k}")
            for i in range(50):
                stores[k].append_message(sid, "user", str(i))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores[0].messages("s1")) == 50 and len(stores[1].messages("s0")) == 50
    for s in stores:
        s.close()


# -- logging -----------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _restore_logging():
    """configure_logging changes process-wide state: put the root logger, salt and warnings back."""
    root = logging.getLogger()
    level, handlers, salt = root.level, list(root.handlers), logging_setup._salt
    yield
    for h in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(h)
    for h in handlers:
        for f in [f for f in h.filters if isinstance(f, RedactingFilter)]:
            h.removeFilter(f)
    root.setLevel(level)
    logging_setup._salt = salt
    logging.captureWarnings(False)


@pytest.mark.parametrize("text, hidden, shown", [
    ("contact alice.w@example.com now", "alice.w@example.com", "<email>"),
    ("call 13812345678 or +86 138-1234-5678", "1234", "<phone>"),
    ("office 010-62345678", "62345678", "<phone>"),
    ("us (555) 123-4567 and +44 20 7946 0958", "7946", "<phone>"),
    ("身份证 11010519491231002X", "11010519491231002X", "<id-number>"),
    ("card 4111 1111 1111 1111", "4111", "<card>"),
    ("client 203.0.113.7 connected", "203.0.113.7", "<ip>"),
    ("user_id=alice42 session_id: s-99", "alice42", "user_id=u_"),
])
def test_redact(text: str, hidden: str, shown: str):
    out = redact(text)
    assert hidden not in out and shown in out


def test_redact_leaves_ordinary_text():
    for text in ("search 红色连衣裙 300元以内 took 123 ms, 10 products, P1023",
                 "Running on http://127.0.0.1:7860", "session: 12 messages", "version 2.13.0"):
        assert redact(text) == text


def test_filter_redacts_records_from_any_logger():
    buf = io.StringIO()
    handler = configure_logging("debug", stream=buf, salt="a-test-salt-of-16+bytes")
    try:
        lib = logging.getLogger("some.library.child")
        lib.info("mail %s phone %s", "bob@example.org", "13912345678")
        lib.warning("turn", extra={"user_id": "bob", "text": "我想买连衣裙"})
        try:
            raise ValueError("bad user bob@example.org")
        except ValueError:
            lib.exception("failed for user_id=bob")
        handler.flush()
        out = buf.getvalue()
        assert "bob@example.org" not in out and "13912345678" not in out and "user_id=bob" not in out
        assert "ValueError: bad user <email>" in out and "<phone>" in out and pseudonym("bob") in out
    finally:
        logging.getLogger().removeHandler(handler)


def test_filter_joins_existing_root_handlers():
    root = logging.getLogger()
    buf = io.StringIO()
    theirs = logging.StreamHandler(buf)
    root.addHandler(theirs)
    ours = configure_logging("INFO", stream=io.StringIO())
    configure_logging("INFO", stream=io.StringIO())  # again: no second filter
    try:
        assert sum(isinstance(f, RedactingFilter) for f in theirs.filters) == 1
        logging.getLogger("x").warning("mail dave@example.com")
        assert buf.getvalue() == "mail <email>\n"
    finally:
        for h in (theirs, ours, *[h for h in root.handlers if isinstance(h, logging_setup._DaogouHandler)]):
            root.removeHandler(h)


def test_filter_replaces_personal_extra_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("a@b.cn",), None)
    record.user_id, record.text = "carol", "我的地址是…"
    RedactingFilter().filter(record)
    assert record.getMessage() == "hello <email>"
    assert record.user_id == pseudonym("carol") and record.text == "<redacted 6 chars>"


def test_pseudonym_is_stable_short_and_salted():
    a = pseudonym("alice")
    assert a == pseudonym("alice") and a != pseudonym("bob") and len(a) == 14 and "alice" not in a
    old = logging_setup._salt
    try:
        handler = configure_logging("INFO", salt="another-salt-0123456789", stream=io.StringIO())
        logging.getLogger().removeHandler(handler)
        assert pseudonym("alice") != a
    finally:
        logging_setup._salt = old


def test_configure_logging_errors_and_idempotence():
    with pytest.raises(ValueError, match="unknown log level 'LOUD'; use one of DEBUG, INFO"):
        configure_logging("LOUD")
    with pytest.raises(ValueError, match="too short"):
        configure_logging("INFO", salt="short")
    h1 = configure_logging("INFO", stream=io.StringIO())
    h2 = configure_logging("WARNING", stream=io.StringIO())
    root = logging.getLogger()
    try:
        assert h1 not in root.handlers and h2 in root.handlers and root.level == logging.WARNING
    finally:
        root.removeHandler(h2)
        root.setLevel(logging.WARNING)
