"""Per-shopper sessions in one SQLite file: messages, dialogue state, product interactions, export and erasure.

`SessionStore(path)` is the only module that touches the sessions database. It is safe to share between
threads (one connection behind a lock; WAL mode and a busy timeout let several processes share the file).

Privacy: ``PRAGMA secure_delete=ON`` makes SQLite overwrite deleted rows (and freed pages) with zeros, and
`delete_user` then checkpoints and truncates the write-ahead log, so after it returns with
``"purged": True`` the shopper's data is in neither the database file nor the WAL. (Copies outside SQLite,
such as backups, exports or the disk's own remapped blocks, are beyond its reach.) The file is created
readable by its owner only.

Faults: every SQLite error (disk full, a lock held by another program, a read-only or damaged file) becomes
`StoreUnavailable`, whose message says what is wrong and what to do; the transaction is rolled back (also
when COMMIT itself fails), the connection is dropped and the next call opens the file again, so the store
recovers as soon as the fault is gone. `save_turn` stores one whole turn in one transaction: after a crash a
turn is either all there or not at all. ``SessionStore(path, lazy=True)`` (the server) starts even when the
file cannot be opened yet and reports the fault on each use instead.

Limits: ids are 1-128 characters of ``A-Z a-z 0-9 _ . : -``; message text longer than
`MAX_CONTENT_CHARS` is cut and marked rather than refused; at most `MAX_PRODUCTS` product cards are kept
per message; a dialogue state may take up to `MAX_STATE_CHARS` characters of JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daogou.app.logging_setup import pseudonym
from daogou.app.session_errors import SessionError, StoreUnavailable, unavailable, validate_id

__all__ = ["EVENTS", "MAX_CONTENT_CHARS", "MAX_PRODUCTS", "MAX_STATE_CHARS", "ROLES", "SCHEMA_VERSION",
           "SessionError", "SessionStore", "StoreUnavailable", "empty_export", "validate_id"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_CONTENT_CHARS = 20_000  # stored message text, truncation marker included
MAX_PRODUCTS = 100  # product cards kept per message
MAX_STATE_CHARS = 1_000_000  # JSON of one dialogue state
MAX_PRODUCT_ID_CHARS = 256
ROLES = ("user", "assistant", "system", "tool")
EVENTS = ("viewed", "clicked", "liked", "carted", "bought", "disliked", "rejected")
BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another process's write


# Migration N takes the database from version N-1 to N. Version 0 is an empty file.
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE users (user_id TEXT PRIMARY KEY, created TEXT NOT NULL);
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        created TEXT NOT NULL, updated TEXT NOT NULL, state_json TEXT);
    CREATE INDEX sessions_by_user ON sessions(user_id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        role TEXT NOT NULL, content TEXT NOT NULL, products_json TEXT, ts TEXT NOT NULL);
    CREATE INDEX messages_by_session ON messages(session_id, id);
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        product_id TEXT NOT NULL, event TEXT NOT NULL, ts TEXT NOT NULL);
    CREATE INDEX interactions_by_user ON interactions(user_id, id);
    """,
}


def empty_export(user_id: str) -> dict[str, Any]:
    """What `SessionStore.export_user` returns for a user of whom nothing is stored."""
    return {"user_id": validate_id(user_id), "created": None, "schema_version": SCHEMA_VERSION,
            "exported": _now(), "sessions": [], "interactions": []}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _clean_text(text: str) -> str:
    """Lone surrogates cannot be stored as UTF-8; replace them rather than fail."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _cap(content: str) -> str:
    if len(content) <= MAX_CONTENT_CHARS:
        return content
    keep = MAX_CONTENT_CHARS - 64  # room for the marker
    return content[:keep] + f"\n…[truncated: {len(content) - keep} more characters]"


class SessionStore:
    """Sessions, messages, dialogue state and interactions of shoppers, in one SQLite file.

    >>> store = SessionStore(":memory:")
    >>> sid = store.ensure_session("shopper-1")
    >>> store.append_message(sid, "user", "红色连衣裙 300元以内")
    1
    >>> [m["content"] for m in store.messages(sid)]
    ['红色连衣裙 300元以内']

    `path` is a file (created, with its folder, on first open) or ``":memory:"`` for tests.
    """

    def __init__(self, path: Path | str, *, lazy: bool = False) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        try:
            self._connect()
        except StoreUnavailable as e:
            if lazy:
                log.error("%s (the server starts anyway and retries on each turn)", e)
                return
            self.close()
            cause = e.__cause__ if e.__cause__ is not None else e
            raise SessionError(f"cannot use {self.path} as a sessions database ({cause}); move the file away "
                               "or point DAOGOU_HOME elsewhere") from e
        except SessionError:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        """Open the file and bring its schema up to date; `StoreUnavailable` when SQLite cannot."""
        try:
            self._conn = self._open()
        except (sqlite3.Error, OSError) as e:
            self._drop()
            raise unavailable(self.path, e if isinstance(e, sqlite3.Error) else sqlite3.OperationalError(
                f"unable to open: {e}")) from e
        self._migrate()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # personal data: owner-only; SQLite gives -wal/-shm the same mode
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        if isinstance(self.path, Path):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the app, not of the OS
        return conn

    def _migrate(self) -> None:
        with self._tx() as c:
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise SessionError(f"{self.path} has schema version {version}, but this daogou knows up to "
                                   f"{SCHEMA_VERSION}; upgrade daogou or point DAOGOU_HOME elsewhere")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                    c.execute(statement)
            if version < SCHEMA_VERSION:
                c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                c.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (_now(),))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock (BEGIN IMMEDIATE: waits for other writers up front).

        Any SQLite error, COMMIT's included, rolls back, drops the connection and raises `StoreUnavailable`.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
            except sqlite3.Error as e:
                self._drop()
                raise unavailable(self.path, e) from e

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is dropped next; SQLite rolls back what a closed connection left open

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as e:
                self._drop()
                raise unavailable(self.path, e) from e

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise SessionError(f"the session store at {self.path} is closed; open a new SessionStore")
        if self._conn is None:  # dropped after a fault (or never opened): try again
            if str(self.path) == ":memory:":
                raise StoreUnavailable("the in-memory sessions database was lost after an error")
            return self._connect()
        return self._conn

    def _drop(self) -> None:
        """Forget the connection after a fault; the next call opens the file again."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            self._drop()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions ---------------------------------------------------------------------------------------

    def ensure_session(self, user_id: str, session_id: str | None = None) -> str:
        """Return `session_id` (a new one when None), creating the user and the session if needed.

        Raises `SessionError` if the session exists but belongs to another user.
        """
        validate_id(user_id)
        session_id = uuid.uuid4().hex if session_id is None else validate_id(session_id, "session id")
        now = _now()
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user_id, now))
            row = c.execute("SELECT user_id FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is None:
                c.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL)", (session_id, user_id, now, now))
                log.debug("new session %s for %s", pseudonym(session_id), pseudonym(user_id))
            elif row[0] != user_id:
                raise SessionError(f"session id {session_id!r} belongs to another user; start a new session "
                                   "(ensure_session(user_id) without a session id)")
        return session_id

    def session_owner(self, session_id: str) -> str | None:
        """The user id the session belongs to, or None when there is no such session."""
        rows = self._read("SELECT user_id FROM sessions WHERE session_id = ?", (validate_id(session_id, "session id"),))
        return rows[0][0] if rows else None

    def sessions(self, user_id: str) -> list[dict[str, Any]]:
        """The user's sessions, most recently updated first: session_id, created, updated, messages (count)."""
        rows = self._read("SELECT s.session_id, s.created, s.updated, COUNT(m.id) AS messages FROM sessions s "
                          "LEFT JOIN messages m ON m.session_id = s.session_id WHERE s.user_id = ? "
                          "GROUP BY s.session_id ORDER BY s.updated DESC, s.rowid DESC", (validate_id(user_id),))
        return [dict(r) for r in rows]

    def append_message(self, session_id: str, role: str, content: str,
                       products: list[dict[str, Any]] | None = None) -> int:
        """Add one message to a session; returns its id. Text over `MAX_CONTENT_CHARS` is cut and marked."""
        validate_id(session_id, "session id")
        if role not in ROLES:
            raise SessionError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise SessionError(f"message content must be a str, not {type(content).__name__}")
        stored = _cap(_clean_text(content))
        if len(content) > MAX_CONTENT_CHARS:
            log.warning("message in session %s cut from %d to %d characters", pseudonym(session_id),
                        len(content), len(stored))
        products_json = None if products is None else self._products_json(products)
        now = _now()
        with self._tx() as c:
            if c.execute("UPDATE sessions SET updated = ? WHERE session_id = ?", (now, session_id)).rowcount == 0:
                raise SessionError(f"unknown session id {session_id!r}; create it with ensure_session(user_id, "
                                   "session_id) first")
            cur = c.execute("INSERT INTO messages (session_id, role, content, products_json, ts) "
                            "VALUES (?, ?, ?, ?, ?)", (session_id, role, stored, products_json, now))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _products_json(products: list[dict[str, Any]]) -> str:
        if not isinstance(products, list) or not all(isinstance(p, dict) for p in products):
            raise SessionError(f"products must be a list of dicts (product cards), not {type(products).__name__}")
        if len(products) > MAX_PRODUCTS:
            log.warning("message with %d products: keeping the first %d", len(products), MAX_PRODUCTS)
            products = products[:MAX_PRODUCTS]
        try:
            return _clean_text(json.dumps(products, ensure_ascii=False))
        except (TypeError, ValueError) as e:
            raise SessionError(f"products must be JSON-serialisable ({e}); pass card.to_dict() values") from e

    @staticmethod
    def _state_json(state: dict[str, Any]) -> str:
        if not isinstance(state, dict):
            raise SessionError(f"state must be a dict, not {type(state).__name__}")
        try:
            state_json = json.dumps(state, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise SessionError(f"dialogue state must be JSON-serialisable ({e}); convert it to plain "
                               "dicts, lists, strings and numbers (e.g. model_dump(mode='json'))") from e
        if len(state_json) > MAX_STATE_CHARS:
            raise SessionError(f"dialogue state of {len(state_json)} characters exceeds {MAX_STATE_CHARS}; keep "
                               "only what the next turn needs (ids, filters), not whole results")
        return _clean_text(state_json)

    def messages(self, session_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The session's messages, oldest first (with `limit`: the last `limit` of them); [] if unknown.

        Each is {"id", "role", "content", "products" (list of dicts or None), "ts"}.
        """
        validate_id(session_id, "session id")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise SessionError(f"limit must be a whole number >= 0 or None, not {limit!r}")
        sql = "SELECT id, role, content, products_json, ts FROM messages WHERE session_id = ? ORDER BY id DESC"
        rows = self._read(sql + (" LIMIT ?" if limit is not None else ""),
                          (session_id, limit) if limit is not None else (session_id,))
        return [{"id": r["id"], "role": r["role"], "content": r["content"],
                 "products": None if r["products_json"] is None else json.loads(r["products_json"]),
                 "ts": r["ts"]} for r in reversed(rows)]

    def save_state(self, session_id: str, state: dict[str, Any]) -> None:
        """Store the session's dialogue state (a JSON-serialisable dict), replacing the previous one."""
        validate_id(session_id, "session id")
        state_json = self._state_json(state)
        with self._tx() as c:
            n = c.execute("UPDATE sessions SET state_json = ?, updated = ? WHERE session_id = ?",
                          (state_json, _now(), session_id)).rowcount
            if n == 0:
                raise SessionError(f"unknown session id {session_id!r}; create it with ensure_session first")

    def save_turn(self, session_id: str, *, user_text: str, reply_text: str, products: list[dict[str, Any]],
                  state: dict[str, Any], interactions: list[tuple[str, str, str]]) -> None:
        """Store one whole turn in one transaction: the shopper's message, the reply with its products, the new
        dialogue state and the (user_id, product_id, event) interactions. All of it, or nothing on any error."""
        validate_id(session_id, "session id")
        for user_id, product_id, event in interactions:
            self._check_interaction(user_id, product_id, event)
        state_json = self._state_json(state)
        products_json = self._products_json(products)
        messages = [("user", _cap(_clean_text(user_text)), None),
                    ("assistant", _cap(_clean_text(reply_text)), products_json)]
        now = _now()
        with self._tx() as c:
            if c.execute("UPDATE sessions SET state_json = ?, updated = ? WHERE session_id = ?",
                         (state_json, now, session_id)).rowcount == 0:
                raise SessionError(f"unknown session id {session_id!r}; create it with ensure_session first")
            c.executemany("INSERT INTO messages (session_id, role, content, products_json, ts) VALUES (?, ?, ?, ?, ?)",
                          [(session_id, role, text, pj, now) for role, text, pj in messages])
            for user_id, product_id, event in interactions:
                c.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user_id, now))
                c.execute("INSERT INTO interactions (user_id, product_id, event, ts) VALUES (?, ?, ?, ?)",
                          (user_id, _clean_text(product_id), event, now))

    def load_state(self, session_id: str) -> dict[str, Any] | None:
        """The last saved dialogue state of the session, or None (no state saved, or no such session)."""
        rows = self._read("SELECT state_json FROM sessions WHERE session_id = ?",
                          (validate_id(session_id, "session id"),))
        return json.loads(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- interactions -----------------------------------------------------------------------------------

    def record_interaction(self, user_id: str, product_id: str, event: str) -> int:
        """Record that the user `event`-ed a product (one of `EVENTS`); returns the row id."""
        self._check_interaction(user_id, product_id, event)
        now = _now()
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user_id, now))
            cur = c.execute("INSERT INTO interactions (user_id, product_id, event, ts) VALUES (?, ?, ?, ?)",
                            (user_id, _clean_text(product_id), event, now))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _check_interaction(user_id: str, product_id: str, event: str) -> None:
        validate_id(user_id)
        if event not in EVENTS:
            raise SessionError(f"unknown interaction event {event!r}; use one of {', '.join(EVENTS)}")
        if not isinstance(product_id, str) or not product_id.strip() or len(product_id) > MAX_PRODUCT_ID_CHARS:
            raise SessionError(f"bad product id {str(product_id)[:60]!r}: give the catalog id, a non-empty "
                               f"string of at most {MAX_PRODUCT_ID_CHARS} characters")

    def interactions(self, user_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The user's interactions, oldest first (with `limit`: the latest `limit`): {"id", "product_id", "event",
        "ts"}."""
        validate_id(user_id)
        if limit is None:
            rows = self._read("SELECT id, product_id, event, ts FROM interactions WHERE user_id = ? ORDER BY id",
                              (user_id,))
        else:
            rows = self._read("SELECT * FROM (SELECT id, product_id, event, ts FROM interactions WHERE user_id = ? "
                              "ORDER BY id DESC LIMIT ?) ORDER BY id", (user_id, int(limit)))
        return [dict(r) for r in rows]

    # -- export and erasure -----------------------------------------------------------------------------

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, JSON-serialisable (`empty_export` shape when nothing is).

        {"user_id", "created", "schema_version", "exported", "interactions": [...],
         "sessions": [{"session_id", "created", "updated", "state", "messages": [...]}]}
        """
        doc = empty_export(user_id)
        with self._lock:  # one consistent snapshot
            user = self._read("SELECT created FROM users WHERE user_id = ?", (user_id,))
            doc["created"] = user[0][0] if user else None
            for s in self._read("SELECT session_id, created, updated, state_json FROM sessions WHERE user_id = ? "
                                "ORDER BY created, rowid", (user_id,)):
                doc["sessions"].append({
                    "session_id": s["session_id"], "created": s["created"], "updated": s["updated"],
                    "state": None if s["state_json"] is None else json.loads(s["state_json"]),
                    "messages": self.messages(s["session_id"])})
            doc["interactions"] = self.interactions(user_id)
        return doc

    def delete_user(self, user_id: str) -> dict[str, Any]:
        """Erase everything stored about the user; returns counts per table and whether the WAL was purged.

        {"users", "sessions", "messages", "interactions": rows deleted, "purged": bool}. With
        ``purged`` False another process held the log open; the rows are gone from queries and zeroed in
        their pages, but old copies may linger in the WAL until the next checkpoint (call `purge()`).
        """
        validate_id(user_id)
        with self._tx() as c:
            sub = "SELECT session_id FROM sessions WHERE user_id = ?"
            counts = {
                "messages": c.execute(f"DELETE FROM messages WHERE session_id IN ({sub})", (user_id,)).rowcount,
                "sessions": c.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount,
                "interactions": c.execute("DELETE FROM interactions WHERE user_id = ?", (user_id,)).rowcount,
                "users": c.execute("DELETE FROM users WHERE user_id = ?", (user_id,)).rowcount,
            }
        purged = self.purge()
        log.info("deleted user %s: %s (purged=%s)", pseudonym(user_id), counts, purged)
        return {**counts, "purged": purged}

    def purge(self) -> bool:
        """Copy the WAL into the database and truncate it, so no deleted data stays in the log.

        Returns False when another connection kept the checkpoint from completing.
        """
        busy, _log_frames, _done = self._read("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        return busy == 0
