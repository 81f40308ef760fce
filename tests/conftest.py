"""Shared fixtures: settings in a temp home, stores over fake encoders (unit) and real models (integration)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any OpenMP runtime starts (see bench/README.md)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the daogou command: numpy BLAS threads spin too

import uuid
from pathlib import Path

import pytest

from daogou.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private home and store folder; never the user's ~/.daogou."""
    return Settings(home=tmp_path / "home", store_dir=tmp_path / "store")


@pytest.fixture
def fake_store(settings: Settings):
    """A real Chroma store (in-memory) whose embedding functions wrap the fake encoders."""
    from daogou.ingest.store import E5EmbeddingFunction, EfficientNetEmbeddingFunction, open_store
    from tests.fakes.encoders import FakeImageEncoder, FakeTextEncoder

    s = settings.with_(ephemeral=True, store_dir=None, collection_prefix=f"t{uuid.uuid4().hex[:12]}")
    store = open_store(s, text_ef=E5EmbeddingFunction(FakeTextEncoder()),
                       image_ef=EfficientNetEmbeddingFunction(FakeImageEncoder()))
    yield store
    store.drop()


@pytest.fixture(scope="session")
def models_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where integration tests keep assembled/converted models: $DAOGOU_HOME if set (CI caches it), else temp."""
    home = os.environ.get("DAOGOU_HOME")
    return Path(home) if home else tmp_path_factory.mktemp("daogou-home")
