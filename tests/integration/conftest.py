"""Integration fixtures: the demo catalog and a home with it ingested by the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import _env, _run


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory) -> Path:
    from daogou.ingest.demo import build_demo_catalog

    return build_demo_catalog(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory, demo_catalog) -> Path:
    """A home with the demo catalog ingested by the real CLI (real e5 + EfficientNet, persistent Chroma)."""
    home = tmp_path_factory.mktemp("home")
    r = _run(["ingest", str(demo_catalog)], _env(home))
    assert r.returncode == 0, r.stderr[-3000:]
    return home
