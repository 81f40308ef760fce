"""`daogou serve` under faults, as a real server with the real models: `kill -9` mid-turn, a locked, read-only,
full or damaged sessions database, a client that goes away mid-reply, and a 300-turn session.

Each test runs its own server (a subprocess on a free port) over a copy of the demo home, and talks to it as an
outside client does (gradio_client, raw HTTP). What is checked: the shopper gets words, never a traceback; the
server keeps serving; it recovers when the fault is gone; the database only ever holds whole turns.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.integration.helpers import DAOGOU, _env
from tests.integration.test_widget_browser import _free_port, _wait_http

pytestmark = pytest.mark.integration

STORE_WORDS = "对话记录暂时无法"  # the widget's words when the sessions database cannot be used (zh)


class Server:
    """One `daogou serve` subprocess over `home`; start, stop (SIGTERM) or kill -9, start again."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.home, self.args, self.env = home, list(args), env
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        port = _free_port()
        env = _env(self.home, DAOGOU_UI_RATE_PER_MIN="0", OMP_WAIT_POLICY="PASSIVE", **self.env)
        self.log = self.home.parent / "serve.log"
        with open(self.log, "a", encoding="utf-8") as out:  # a file, not a pipe: a full pipe would block the server
            self.proc = subprocess.Popen(DAOGOU + ["serve", "--port", str(port), *self.args], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{port}/"
        _wait_http(self.url, self.proc, 600)
        return self.url

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)
        self.proc = None

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False)


@pytest.fixture
def home(demo_home, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(demo_home, copy)
    return copy


@pytest.fixture
def server(home):
    srv = Server(home)
    yield srv
    srv.stop(signal.SIGKILL)


def _sessions(home: Path) -> dict[str, list[str]]:
    """Roles of every stored session's messages, read through a fresh read-only connection."""
    conn = sqlite3.connect(f"file:{home / 'sessions.sqlite3'}?mode=ro", uri=True)
    try:
        out: dict[str, list[str]] = {}
        for sid, role in conn.execute("SELECT session_id, role FROM messages ORDER BY id"):
            out.setdefault(sid, []).append(role)
        return out
    finally:
        conn.close()


def _whole_turns_only(home: Path) -> None:
    for sid, roles in _sessions(home).items():
        assert roles == ["user", "assistant"] * (len(roles) // 2), f"session {sid} holds a half turn: {roles}"


def test_kill_9_mid_turn_then_restart_keeps_every_session_whole(server, home):
    server.start()
    c = server.client()
    a = c.predict("红色连衣裙 300元以内", api_name="/ask")
    c.predict("便宜点的", None, a["session_id"], api_name="/ask")
    b = c.predict("无线耳机", api_name="/ask")
    job = c.submit("便宜点的", None, b["session_id"], api_name="/ask")
    for partial in job:
        if partial.get("products"):
            break  # the cards are out, the model is writing its words: the turn is half done
    server.stop(signal.SIGKILL)
    c.close()
    _whole_turns_only(home)
    stored = _sessions(home)
    assert len(stored[a["session_id"]]) == 4 and len(stored[b["session_id"]]) == 2  # the killed turn is not there

    server.start()
    c = server.client()
    again = c.predict("第一个怎么样？", None, a["session_id"], api_name="/ask")
    assert "error" not in again and again["session_id"] == a["session_id"] and again["done"]
    assert len(_sessions(home)[a["session_id"]]) == 6
    c.close()


def _turn_error(c, text: str, sid: str = "") -> str | None:
    out = c.predict(text, None, sid, api_name="/ask")
    assert out["done"]
    return out.get("error")


def test_locked_full_and_read_only_database_get_words_and_the_server_recovers(server, home):
    server.start()
    c = server.client()
    sid = c.predict("白色马克杯", api_name="/ask")["session_id"]
    db = home / "sessions.sqlite3"

    # locked by another program: the turn waits for the lock (10 s), then says so; the page still loads
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert STORE_WORDS in (_turn_error(c, "黑色跑步鞋") or "")
        assert httpx.get(server.url, timeout=30).status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _turn_error(c, "便宜点的", sid) is None

    # the disk is full (a file-size limit on the server process: every write that grows a file fails)
    soft, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (4096, hard))
    try:
        words = _turn_error(c, "给第一个写一段文案", sid) or ""
        assert STORE_WORDS in words or "没能保存" in words
        assert httpx.get(server.url, timeout=30).status_code == 200
    finally:
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert _turn_error(c, "第一个怎么样？", sid) is None

    # read-only files (immutable: root cannot write them either)
    files = [p for p in (db, Path(f"{db}-wal")) if p.exists()]
    subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    try:
        words = _turn_error(c, "有别的颜色吗", sid) or ""
        assert STORE_WORDS in words or "没能保存" in words
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)
    assert _turn_error(c, "还有别的吗", sid) is None
    c.close()
    server.stop()
    _whole_turns_only(home)
    print(server.log.read_text(encoding="utf-8")[-3000:])  # what the operator reads: the fault and its fix


def test_a_damaged_database_at_start_still_serves_and_recovers(server, home):
    db = home / "sessions.sqlite3"
    db.write_bytes(b"this is not a database " * 1000)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    server.start()  # starts anyway
    c = server.client()
    assert STORE_WORDS in (_turn_error(c, "红色连衣裙") or "")
    assert httpx.get(server.url, timeout=30).status_code == 200
    shutil.move(db, home / "sessions.damaged")  # the operator moves it away, as the log says
    assert _turn_error(c, "红色连衣裙") is None
    c.close()


def test_a_client_that_goes_away_mid_reply_releases_the_model_and_the_session(server):
    server.start()
    c = server.client()
    sid = c.predict("黑色跑步鞋", api_name="/ask")["session_id"]
    with httpx.Client(base_url=server.url, timeout=120) as http:
        event_id = http.post("gradio_api/call/ask", json={"data": ["便宜点的", None, sid]}).json()["event_id"]
        seen: list[dict] = []
        with http.stream("GET", f"gradio_api/call/ask/{event_id}") as stream:
            for line in stream.iter_lines():
                raw = line[5:].strip() if line.startswith("data:") else ""
                data = json.loads(raw) if raw not in ("", "null") else None
                if isinstance(data, list) and data and isinstance(data[0], dict):
                    seen.append(data[0])
                    if data[0].get("products"):
                        break  # the cards are out and the model is writing: now the client goes away
    assert seen and not seen[-1]["done"], "the turn ended before the client could leave in the middle of it"
    results: dict[str, object] = {}

    def turn(name: str, text: str, session: str) -> None:
        results[name] = c.predict(text, None, session, api_name="/ask")

    threads = [threading.Thread(target=turn, args=("same", "第一个怎么样？", sid)),
               threading.Thread(target=turn, args=("other", "白色马克杯", ""))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)  # a generous bound: a held lock would hang forever
    assert all(not t.is_alive() for t in threads), "a turn after the disconnect never finished"
    assert "error" not in results["same"] and "error" not in results["other"]
    c.close()


def test_a_300_turn_session_stays_within_its_bounds(home):
    import psutil

    srv = Server(home, "--no-llm")  # the store, the encoders and the server are real; the words are fixed sentences
    srv.start()
    try:
        c = srv.client()
        sid = ""
        rss: list[float] = []
        texts = ["红色连衣裙 300元以内", "便宜点的", "第二个怎么样？", "找和第一个类似的", "蓝色的有吗 200元以内"]
        for n in range(300):
            out = c.predict(f"{texts[n % len(texts)]} {n}", None, sid, api_name="/ask")
            assert "error" not in out, (n, out.get("error"))
            sid = out["session_id"]
            if n in (50, 299):
                rss.append(psutil.Process(srv.proc.pid).memory_info().rss / 2**20)
        c.close()
        conn = sqlite3.connect(f"file:{home / 'sessions.sqlite3'}?mode=ro", uri=True)
        state = json.loads(conn.execute("SELECT state_json FROM sessions WHERE session_id = ?", (sid,)).fetchone()[0])
        n_messages = conn.execute("SELECT COUNT(*) FROM messages WHERE session_id = ?", (sid,)).fetchone()[0]
        conn.close()
        assert state["turns"] == 300 and n_messages == 600
        assert len(state["user_numbers"]) <= 100 and len(state["catalog_seen"]) <= 200 + 4
        assert len(json.dumps(state)) < 200_000
        print(f"\n300-turn session: state {len(json.dumps(state)):,} chars, RSS {rss[0]:.0f} -> {rss[1]:.0f} MiB")
        assert rss[1] - rss[0] < 300  # memory does not grow with the session (loose: allocator noise)
    finally:
        srv.stop()
