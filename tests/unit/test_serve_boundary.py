"""`daogou serve` at its HTTP boundary, as an outside client sees it: a real Gradio server over a fake agent."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.fakes.widget import ScriptedWriter, serve_widget

SECRET = "daogou-secret-4f1c9a"


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
