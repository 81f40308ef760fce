"""`daogou user export|delete` through a small typer app, as the main CLI will mount it."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from daogou.app import cli_user
from daogou.app.cli_user import SESSIONS_FILE, user_app
from daogou.app.session_store import SessionStore

app = typer.Typer()
app.add_typer(user_app, name="user")


@app.callback()
def _root() -> None:
    """Keeps `user` a subcommand even with one group."""


runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def _seed(home: Path) -> None:
    with SessionStore(home / SESSIONS_FILE) as store:
        sid = store.ensure_session("alice", "alice-s1")
        store.append_message(sid, "user", "我要一条红色连衣裙")
        store.append_message(sid, "assistant", "为您找到 1 件", products=[{"id": "P1", "price": 259.0}])
        store.save_state(sid, {"filters": {"colour": "红色"}})
        store.record_interaction("alice", "P1", "liked")
        store.ensure_session("bob", "bob-s1")


def test_export_to_stdout(home: Path):
    _seed(home)
    result = runner.invoke(app, ["user", "export", "alice"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["user_id"] == "alice"
    assert doc["sessions"][0]["messages"][0]["content"] == "我要一条红色连衣裙"
    assert doc["sessions"][0]["state"] == {"filters": {"colour": "红色"}}
    assert doc["interactions"][0]["event"] == "liked"


def test_export_to_file_is_private(home: Path):
    _seed(home)
    out = home / "exports" / "alice.json"
    result = runner.invoke(app, ["user", "export", "alice", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 sessions, 2 messages, 1 interactions" in result.stderr
    assert result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["user_id"] == "alice"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_export_without_database_does_not_create_one(home: Path):
    result = runner.invoke(app, ["user", "export", "nobody"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sessions"] == []
    assert not (home / SESSIONS_FILE).exists()


def test_bad_id_names_the_rule(home: Path):
    for cmd in ("export", "delete"):
        result = runner.invoke(app, ["user", cmd, "bad id!"])
        assert result.exit_code == 2
        assert "bad user id 'bad id!'" in result.stderr and "1-128 characters" in result.stderr


def test_delete_with_yes_then_export_is_empty(home: Path):
    _seed(home)
    result = runner.invoke(app, ["user", "delete", "alice", "--yes"])
    assert result.exit_code == 0, result.output
    assert "deleted alice: 1 sessions, 2 messages, 1 interactions" in result.stdout
    doc = json.loads(runner.invoke(app, ["user", "export", "alice"]).stdout)
    assert doc["sessions"] == [] and doc["interactions"] == [] and doc["created"] is None
    assert json.loads(runner.invoke(app, ["user", "export", "bob"]).stdout)["sessions"]  # bob untouched


def test_delete_without_terminal_refuses(home: Path):
    _seed(home)
    result = runner.invoke(app, ["user", "delete", "alice"], input="y\n")  # stdin is not a terminal here
    assert result.exit_code == 2
    assert "refusing to delete alice without confirmation" in result.stderr and "--yes" in result.stderr
    with SessionStore(home / SESSIONS_FILE) as store:
        assert store.export_user("alice")["sessions"]  # nothing was deleted


def test_delete_asks_on_a_terminal(home: Path, monkeypatch: pytest.MonkeyPatch):
    _seed(home)
    monkeypatch.setattr(cli_user, "_interactive", lambda: True)
    no = runner.invoke(app, ["user", "delete", "alice"], input="n\n")
    assert no.exit_code == 1 and "nothing deleted" in no.stderr
    assert "1 sessions, 2 messages, 1 interactions" in no.stdout  # the prompt says what would go
    yes = runner.invoke(app, ["user", "delete", "alice"], input="y\n")
    assert yes.exit_code == 0 and "deleted alice" in yes.stdout
    with SessionStore(home / SESSIONS_FILE) as store:
        assert store.export_user("alice")["sessions"] == []


def test_delete_unknown_user_or_no_database(home: Path):
    result = runner.invoke(app, ["user", "delete", "ghost"])
    assert result.exit_code == 0 and "nothing stored about ghost" in result.stdout
    assert not (home / SESSIONS_FILE).exists()
    _seed(home)
    result = runner.invoke(app, ["user", "delete", "ghost"])
    assert result.exit_code == 0 and "nothing stored about ghost" in result.stdout


def test_ci_is_never_interactive(monkeypatch: pytest.MonkeyPatch):
    class _Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.delenv("CI", raising=False)
    assert cli_user._interactive() is True
    monkeypatch.setenv("CI", "true")
    assert cli_user._interactive() is False


def test_unusable_database_is_an_error_not_a_traceback(home: Path):
    (home / SESSIONS_FILE).write_bytes(b"garbage" * 200)
    result = runner.invoke(app, ["user", "export", "alice"])
    assert result.exit_code == 1
    assert "cannot use" in result.stderr and "sessions database" in result.stderr
