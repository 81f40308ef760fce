"""`daogou serve` at its HTTP boundary, as an outside client sees it: a real Gradio server over a fake agent."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.fakes.widget import ScriptedWriter, serve_widget

SECRET = "daogou-secret-4f1c9a"

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its monitoring uses old pandas API


@pytest.fixture
def agent(fake_store, settings, tmp_path):
    from daogou.agent.agent import Agent
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex
    from tests.unit.test_store_search import ROWS, _catalog

    (tmp_path / "cat").mkdir()
    ingest_catalogs([_catalog(tmp_path / "cat", [dict(r) for r in ROWS])], fake_store, settings)
    return Agent(CatalogIndex(fake_store), writer=ScriptedWriter())


@pytest.fixture
def served(settings, agent, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-cache"))  # restored after the test
    with serve_widget(settings, agent) as s:
        yield s


def _call(client, api_name: str, data: list, headers: dict | None = None) -> tuple[str, object]:
    """The two-step /gradio_api/call API: POST the data, then read the SSE stream; (last event, its data)."""
    r = client.post(f"gradio_api/call/{api_name}", json={"data": data}, headers=headers or {})
    if r.status_code != 200:
        return f"http {r.status_code}", r.text
    event_id = r.json()["event_id"]
    event, payload = "", None
    with client.stream("GET", f"gradio_api/call/{api_name}/{event_id}", headers=headers or {}) as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                raw = line.split(":", 1)[1].strip()
                payload = json.loads(raw) if raw and raw != "null" else None
    return event, payload


def _files_containing(root: Path, needle: str) -> list[Path]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            try:
                if needle.encode() in p.read_bytes():
                    out.append(p)
            except OSError:
                pass
    return out


@pytest.mark.parametrize("path_kind", ["temp", "cwd"])
def test_a_server_path_sent_as_a_file_is_never_read(served, tmp_path, path_kind):
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) if path_kind == "temp" else Path.cwd()
    secret = folder / f"secret-{path_kind}.png"
    secret.write_text(SECRET)
    try:
        with served.client() as c:
            file_data = {"path": str(secret), "meta": {"_type": "gradio.FileData"}}
            event, payload = _call(c, "ask", ["", file_data, ""])
            assert SECRET not in json.dumps(payload)
            for root in (served.settings.home, tmp_path / "gradio-cache", Path(tempfile.gettempdir()) / "gradio"):
                assert [p for p in _files_containing(root, SECRET) if p != secret] == [], "copied into a cache"
            assert c.get(f"gradio_api/file={secret}").status_code != 200
    finally:
        secret.unlink()


def _upload(client, name: str, data: bytes, headers: dict | None = None) -> str:
    r = client.post("gradio_api/upload", files=[("files", (name, data))], headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()[0]


def _file(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def test_chat_box_and_history_cannot_carry_a_server_path_either(served, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_text(SECRET)
    with served.client() as c:
        for data in ([{"text": "hi", "files": [_file(str(secret))]}, [], None, []],  # the input box
                     [{"text": "hi", "files": []}, [{"role": "user", "content": _file(str(secret))}], None, []]):
            event, payload = _call(c, "chat", data)
            assert event == "error" and SECRET not in json.dumps(payload)
    assert [p for p in _files_containing(served.settings.home, SECRET)] == []


def test_a_url_as_a_file_is_not_fetched(served):
    import http.server
    import threading

    hits: list[str] = []

    class Beacon(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    beacon = http.server.HTTPServer(("127.0.0.1", 0), Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{beacon.server_port}/x.png"
        with served.client() as c:
            event, payload = _call(c, "ask", ["", {"path": url, "url": url, "meta": {"_type": "gradio.FileData"}}, ""])
        assert event == "error" and "URL" in json.dumps(payload) and hits == []
    finally:
        beacon.shutdown()


def test_run_route_cannot_bypass_the_queue_and_analytics_are_off(served):
    with served.client() as c:
        r = c.post("gradio_api/run/ask", json={"data": ["hi", None, ""]})
        assert r.status_code >= 400
        config = c.get("config").json()
    assert config["analytics_enabled"] is False


def test_predict_text_alone_issues_a_session_that_only_its_client_can_continue(served):
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    first = client.predict("红色连衣裙 300元以内", api_name="/ask")
    assert first["done"] and first["products"][0]["id"] == "D1" and first["session_id"]
    again = client.predict("便宜点的", None, first["session_id"], api_name="/ask")
    assert again["session_id"] == first["session_id"] and "error" not in again
    made_up = client.predict("hi", None, "s1", api_name="/ask")  # a client-chosen id is never a session
    client.close()
    assert "unknown session id 's1'" in made_up["error"]
    assert served.sessions.session_owner("s1") is None


def test_sessions_are_bound_to_the_client_that_got_them(shop_widget_factory):
    from types import SimpleNamespace

    widget = shop_widget_factory()
    alice = SimpleNamespace(client=SimpleNamespace(host="10.0.0.1"))
    bob = SimpleNamespace(client=SimpleNamespace(host="10.0.0.2"))
    sid = list(widget.ask("连衣裙", None, "", alice))[-1]["session_id"]
    stolen = list(widget.ask("第一个", None, sid, bob))[-1]
    assert "unknown session id" in stolen["error"] and len(widget.sessions.messages(sid)) == 2
    # two API sessions are two shoppers: their interactions (and so recommendations) do not mix
    other = list(widget.ask("连衣裙", None, "", alice))[-1]["session_id"]
    assert widget.sessions.session_owner(sid) != widget.sessions.session_owner(other)


@pytest.fixture
def shop_widget_factory(fake_store, settings, tmp_path):
    from daogou.agent.agent import Agent
    from daogou.app.session_store import SessionStore
    from daogou.app.webapp import ShopWidget
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex
    from tests.unit.test_store_search import ROWS, _catalog

    (tmp_path / "cat").mkdir()
    ingest_catalogs([_catalog(tmp_path / "cat", [dict(r) for r in ROWS])], fake_store, settings)
    index = CatalogIndex(fake_store)

    def make(writer=None, **changes):
        return ShopWidget(settings.with_(**changes), Agent(index, writer=writer or ScriptedWriter()),
                          SessionStore(":memory:"))

    return make


# -- the API key -----------------------------------------------------------------------------------------

KEY = "k" * 8 + "-test-key-1234567890"


def test_api_key_is_required_on_every_route_when_set(settings, agent, monkeypatch, tmp_path):
    from gradio_client import Client

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-cache"))
    with serve_widget(settings.with_(api_key=KEY), agent) as s, s.client() as c:
        for path in ("", "config", "gradio_api/info", "gradio.js"):
            r = c.get(path)
            assert r.status_code == 401 and "X-Api-Key" in r.json()["error"]
        assert c.post("gradio_api/upload", files=[("files", ("a.png", b"x"))]).status_code == 401
        assert c.get("config", headers={"X-Api-Key": KEY + "x"}).status_code == 401
        assert c.get("config", headers={"X-Api-Key": KEY}).status_code == 200
        assert c.get("config", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert c.options("config", headers={"Origin": "http://x", "Access-Control-Request-Method": "GET"}
                         ).status_code != 401  # CORS preflights carry no key
        client = Client(s.url, headers={"X-Api-Key": KEY}, verbose=False)
        turn = client.predict("连衣裙", api_name="/ask")
        client.close()
        assert turn["done"] and turn["products"]


def test_serve_refuses_a_public_interface_without_a_key_unless_waived(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from daogou.app import cli_serve
    from daogou.app.cli import app

    started: list[dict] = []
    monkeypatch.setattr(cli_serve, "_run", lambda settings, host, port: started.append({"host": host}))
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path))
    monkeypatch.delenv("DAOGOU_API_KEY", raising=False)
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--no-llm"])
    assert r.exit_code == 2 and "API key" in r.output and "--no-api-key" in r.output and not started
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--no-api-key", "--no-llm"])
    assert r.exit_code == 0, r.output
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--api-key-file", str(key_file), "--no-llm"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--no-llm"])  # loopback: no key needed
    assert r.exit_code == 0, r.output
    key_file.write_text("short")
    r = runner.invoke(app, ["serve", "--api-key-file", str(key_file), "--no-llm"])
    assert r.exit_code == 2 and "at least 16 characters" in r.output
    assert [s["host"] for s in started] == ["0.0.0.0", "0.0.0.0", "127.0.0.1"]


# -- uploads ---------------------------------------------------------------------------------------------

def _png_bytes(size=(32, 32)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_route_takes_one_bounded_photo_per_request(served):
    with served.client() as c:
        many = [("files", (f"{i}.png", b"x")) for i in range(1000)]
        r = c.post("gradio_api/upload", files=many)
        assert r.status_code == 400 and "1000 parts" in r.json()["error"]
        big = b"\0" * (served.settings.ui_max_upload_bytes + 100_000)
        r = c.post("gradio_api/upload", files=[("files", ("big.png", big))])
        assert r.status_code == 413 and "at most" in r.json()["error"]
        path = _upload(c, "ok.png", _png_bytes())
        assert Path(path).is_relative_to(served.widget.uploads.incoming)
    assert len(list(served.widget.uploads.incoming.rglob("*.png"))) == 1  # the refused ones left nothing


def test_uploads_are_rate_limited_per_client(settings, agent, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-cache"))
    with serve_widget(settings.with_(ui_rate_burst=2, ui_rate_per_min=1), agent) as s, s.client() as c:
        codes = [c.post("gradio_api/upload", files=[("files", ("a.png", _png_bytes()))]).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]


def test_a_used_photo_is_deleted_and_old_uploads_are_swept(served):
    with served.client() as c:
        used = _upload(c, "red.png", _png_bytes())
        event, payload = _call(c, "ask", ["", _file(used), ""])
        assert event == "complete" and payload[0]["products"] and not Path(used).exists()
        unused = Path(_upload(c, "left.png", _png_bytes((40, 40))))
    uploads = served.widget.uploads
    assert uploads.sweep() == 0 and unused.exists()  # young: kept
    assert uploads.sweep(now=unused.stat().st_mtime + uploads.max_age_s + 1) == 1 and not unused.exists()
    assert not any(p.is_file() for p in uploads.root.rglob("*"))


def test_user_delete_removes_the_shoppers_photos(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from daogou.app.cli import app
    from daogou.app.session_store import SessionStore
    from daogou.app.uploads import UploadFolder

    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path))
    store = SessionStore(tmp_path / "sessions.sqlite3")
    store.ensure_session("web-abc")
    store.close()
    folder = UploadFolder(tmp_path / "uploads")
    folder.create()
    (folder.incoming / "h").mkdir()
    (folder.incoming / "h" / "p.png").write_bytes(_png_bytes())
    claimed = folder.claim(folder.incoming / "h" / "p.png", "web-abc")  # a turn killed before it deleted it
    r = CliRunner().invoke(app, ["user", "delete", "web-abc", "--yes"])
    assert r.exit_code == 0 and "1 photo" in r.output and not claimed.exists()


def test_upload_size_cap_of_the_folder_deletes_the_oldest_first(tmp_path):
    import os

    from daogou.app.uploads import UploadFolder

    folder = UploadFolder(tmp_path / "u", max_age_s=3600, max_total_bytes=2500)
    folder.create()
    for i in range(5):
        p = folder.incoming / f"h{i}" / "a.png"
        p.parent.mkdir()
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
    assert folder.sweep(now=1010) == 3
    assert sorted(p.parent.name for p in folder.incoming.rglob("*.png")) == ["h3", "h4"]


def test_serve_installs_the_redacting_log_filter(monkeypatch, tmp_path):
    import io
    import logging

    from typer.testing import CliRunner

    from daogou.app import cli_serve
    from daogou.app.cli import app
    from daogou.app.logging_setup import RedactingFilter

    monkeypatch.setattr(cli_serve, "_run", lambda settings, host, port: None)
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path))
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        assert CliRunner().invoke(app, ["serve", "--no-llm", "--log-level", "INFO"]).exit_code == 0
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1 and any(isinstance(f, RedactingFilter) for f in ours[0].filters)
        buf = io.StringIO()
        ours[0].stream = buf  # the runner's stderr is closed by now
        logging.getLogger("uvicorn.error").warning("from shopper a.b@example.com user_id=web-123")
        assert "<email>" in buf.getvalue() and "web-123" not in buf.getvalue()
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_the_api_gives_a_products_picture_as_a_url_of_the_app_never_a_server_path(served, tmp_path):
    with served.client() as c:
        event, payload = _call(c, "ask", ["红色连衣裙", None, ""])
        products = payload[0]["products"]
        assert products and all(p["image"] == f"/images/{p['id']}" for p in products)
        assert str(tmp_path) not in json.dumps(payload)  # no path of the server's disk, anywhere in the turn
        r = c.get(f"images/{products[0]['id']}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
        missing = c.get("images/NO-SUCH-ID")
        assert missing.status_code == 404 and "NO-SUCH-ID" in missing.text
        assert c.get("images/..%2F..%2Fetc%2Fpasswd").status_code == 404  # an id, never a path


def test_a_catalog_picture_given_as_a_web_url_stays_that_url(served):
    cdn = {"id": "W1", "title": "x", "image": "https://cdn.example/w1.jpg"}
    local = {"id": "L/1", "title": "y", "image": "/srv/shop/img/l1.png"}
    none = {"id": "N1", "title": "z", "image": None}
    assert served.widget._public([cdn, local, none]) == [cdn, {**local, "image": "/images/L%2F1"}, none]
