"""`daogou eval dialogues`: bad suite, catalog, titles and variant arguments get an error that names them and the fix,
before any store or model is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from daogou.app.cli import app

runner = CliRunner()
SUITE = Path(__file__).resolve().parents[1] / "dialogues"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAOGOU_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("args", "message"), [
    (["--suite", "no/such/folder"], "no/such/folder is not a folder of dialogue files"),
    (["--variant", "eur"], "unknown variant 'eur'; valid: sku, num12, en-keys, usd, all"),
    (["--catalog", "missing.jsonl"], "catalog file missing.jsonl does not exist"),
    (["--titles", "missing.jsonl"], "titles file missing.jsonl does not exist"),
    (["--catalog", "a.jsonl", "--titles", "b.jsonl"],
     "give a catalog file (a.jsonl) or a title corpus (b.jsonl), not both"),
])
def test_bad_arguments_are_named(args, message):
    suite = [] if "--suite" in args else ["--suite", str(SUITE)]
    result = runner.invoke(app, ["eval", "dialogues", "--no-llm", *args, *suite])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
