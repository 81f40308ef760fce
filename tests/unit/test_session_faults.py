"""SessionStore under faults: disk full, a failed COMMIT, a locked, read-only or corrupt file; recovery when the
fault is gone; one turn stored whole or not at all; sessions issued by the server only."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from daogou.app.session_store import SessionError, SessionStore, StoreUnavailable


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.sqlite3"


def _turn(store: SessionStore, sid: str, n: int) -> None:
    store.save_turn(sid, user_text=f"问题 {n}", reply_text=f"回答 {n} " + "长" * 2000,
                    products=[{"id": f"P{n}", "title": "x", "price": 1.0}], state={"turns": n},
                    interactions=[("web-u1", f"P{n}", "viewed")])


def test_disk_full_is_a_clear_error_and_the_store_recovers(path: Path):
    store = SessionStore(path)
    sid = store.ensure_session("web-u1")
    _turn(store, sid, 1)
    pages = store._connection().execute("PRAGMA page_count").fetchone()[0]
    store._connection().execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'database or disk is full'
    with pytest.raises(StoreUnavailable, match="full.*free some disk space"):
        for n in range(2, 50):
            _turn(store, sid, n)
    # the store still answers reads, a half-written turn is not there, and it writes again once there is room
    assert len(store.messages(sid)) % 2 == 0
    store._connection().execute("PRAGMA max_page_count = 1073741823")
    _turn(store, sid, 99)
    assert store.messages(sid)[-1]["content"].startswith("回答 99")


def test_a_failed_commit_is_rolled_back_and_the_next_write_works(path: Path):
    store = SessionStore(path)
    sid = store.ensure_session("web-u1")
    real = store._connection()

    class FailingCommit:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    store._conn = FailingCommit(real)
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        _turn(store, sid, 1)
    assert store._conn is None  # dropped: the next call opens the file again
    with sqlite3.connect(path) as fresh:
        assert fresh.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0  # rolled back, not half there
    _turn(store, sid, 2)
    assert [m["content"][:4] for m in store.messages(sid)] == ["问题 2", "回答 2"]


def test_a_locked_database_is_a_clear_error_not_a_traceback(path: Path, monkeypatch):
    import daogou.app.session_store as ss

    monkeypatch.setattr(ss, "BUSY_TIMEOUT_MS", 200)
    store = SessionStore(path)
    sid = store.ensure_session("web-u1")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked.*another program"):
            _turn(store, sid, 1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    _turn(store, sid, 2)
    assert len(store.messages(sid)) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_database_is_a_clear_error_and_recovers(path: Path):
    SessionStore(path).close()
    path.chmod(stat.S_IRUSR)
    store = SessionStore(path, lazy=True)
    with pytest.raises(StoreUnavailable, match="read-only"):
        store.ensure_session("web-u1")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert store.ensure_session("web-u1")


def test_a_corrupt_file_at_start_does_not_stop_a_lazy_store_and_it_recovers(path: Path):
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(SessionError, match="cannot use .* as a sessions database"):
        SessionStore(path)  # the CLI's user commands still refuse at once
    store = SessionStore(path, lazy=True)  # the server starts and says so per turn
    with pytest.raises(StoreUnavailable, match="damaged.*move the file away"):
        store.ensure_session("web-u1")
    path.unlink()
    assert store.ensure_session("web-u1")


def test_a_read_only_open_is_a_clear_error_and_recovers(path: Path, monkeypatch):
    """Root writes chmod-444 files anyway, so open the file read-only the way SQLite does for a read-only file."""
    import daogou.app.session_store as ss

    SessionStore(path).close()
    real_connect = sqlite3.connect
    monkeypatch.setattr(ss.sqlite3, "connect", lambda p, **kw: real_connect(f"file:{p}?mode=ro", uri=True, **kw))
    store = SessionStore(path, lazy=True)
    with pytest.raises(StoreUnavailable, match="read-only.*writable"):
        store.ensure_session("web-u1")
    monkeypatch.setattr(ss.sqlite3, "connect", real_connect)
    assert store.ensure_session("web-u1")


def test_save_turn_is_all_or_nothing(path: Path):
    store = SessionStore(path)
    sid = store.ensure_session("web-u1")
    with pytest.raises(SessionError, match="JSON-serialisable"):
        store.save_turn(sid, user_text="hi", reply_text="yo", products=[], state={"bad": object()},
                        interactions=[])
    assert store.messages(sid) == [] and store.load_state(sid) is None
    _turn(store, sid, 1)
    assert [m["role"] for m in store.messages(sid)] == ["user", "assistant"]
    assert store.load_state(sid) == {"turns": 1} and store.interactions("web-u1")[0]["product_id"] == "P1"


def test_session_owner(path: Path):
    store = SessionStore(path)
    sid = store.ensure_session("web-u1")
    assert store.session_owner(sid) == "web-u1" and store.session_owner("nope") is None
