"""Where the store is: DAOGOU_CHROMA_URL / --chroma-url, the older DAOGOU_CHROMA_HOST/PORT, and bad values."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from daogou.app.cli import app
from daogou.settings import Settings, normalize_chroma_url

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for var in ("DAOGOU_CHROMA_URL", "DAOGOU_CHROMA_HOST", "DAOGOU_CHROMA_PORT", "DAOGOU_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize(("raw", "url"), [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"), ("localhost", "http://localhost:8000"),
    ("db.internal:9000/", "http://db.internal:9000"), ("https://chroma.example", "https://chroma.example:443"),
    ("http://[::1]:8001", "http://[::1]:8001"),
])
def test_urls_are_normalised(raw, url):
    assert normalize_chroma_url(raw) == url


@pytest.mark.parametrize(("raw", "why"), [
    ("ftp://x", "not http"), ("http://h:99999", "bad port"), ("http://h/chroma", "no path"), ("http://", "not http"),
])
def test_bad_urls_name_the_value_and_the_form(raw, why):
    with pytest.raises(ValueError, match=why) as e:
        normalize_chroma_url(raw)
    assert repr(raw) in str(e.value) and "http://127.0.0.1:8000" in str(e.value)


def test_host_and_port_map_onto_the_url(monkeypatch):
    monkeypatch.setenv("DAOGOU_CHROMA_HOST", "10.0.0.5")
    assert Settings.from_env().chroma_url == "http://10.0.0.5:8000"
    monkeypatch.setenv("DAOGOU_CHROMA_PORT", "8100")
    assert Settings.from_env().chroma_url == "http://10.0.0.5:8100"
    monkeypatch.setenv("DAOGOU_CHROMA_URL", "http://10.0.0.5:8100/")  # the same server twice is fine
    assert Settings.from_env().chroma_url == "http://10.0.0.5:8100"
    monkeypatch.setenv("DAOGOU_CHROMA_URL", "http://10.0.0.6:8100")
    with pytest.raises(ValueError, match="name different servers"):
        Settings.from_env()


def test_a_port_without_a_host_is_refused(monkeypatch):
    monkeypatch.setenv("DAOGOU_CHROMA_PORT", "8100")
    with pytest.raises(ValueError, match="DAOGOU_CHROMA_PORT='8100' is set without DAOGOU_CHROMA_HOST"):
        Settings.from_env()


def test_the_flag_wins_over_nothing_and_is_checked(monkeypatch):
    assert Settings.from_env(chroma_url="127.0.0.1:8123").chroma_url == "http://127.0.0.1:8123"
    r = runner.invoke(app, ["search", "x", "--chroma-url", "ftp://nowhere"])
    assert r.exit_code == 2 and "ftp://nowhere" in r.output and "Traceback" not in r.output


def test_a_server_and_a_folder_together_are_refused(tmp_path):
    r = runner.invoke(app, ["search", "x", "--chroma-url", "http://127.0.0.1:9", "--store", str(tmp_path / "s")])
    assert r.exit_code == 1 and "both a Chroma server (http://127.0.0.1:9) and a store folder" in r.output
