"""The copy LoRA adapter on the same llama.cpp engine as the chat, on the real bundled 0.5B.

A real peft adapter is made on the bf16 copy (random, seeded, scaled down: a visible but sane change), converted
to a GGUF LoRA and loaded into one engine beside the base model. Applied per request it changes the output, and
the change is the one the transformers reference makes with the same adapter merged into its weights: the
conversion is right, not only different. Requests that do not ask for it get the base model's words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daogou.llm.adapters import AdapterInfo, base_model_hash
from daogou.llm.backends import make_copy_writer, make_writer
from daogou.llm.llama_engine import LlamaEngine, shared_engine
from daogou.llm.lora_gguf import adapter_gguf_path
from daogou.llm.provision import LLM_SHA256, llm_gguf_path, llm_transformers_dir
from daogou.settings import Settings

pytestmark = pytest.mark.integration

PROMPT = [{"role": "user", "content": "写一段连衣裙的文案。"}]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def adapter(models_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = llm_transformers_dir(Settings(home=models_home))
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                           LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, init_lora_weights=False))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.mul_(0.05)
    out = tmp_path_factory.mktemp("adapter") / "copy"
    model.save_pretrained(out)
    AdapterInfo(base_model=str(base), base_sha256=base_model_hash(base), data="synthetic", data_sha256="0" * 64,
                prompt_key="prompt_tuned").write(out)
    return out


def test_the_adapter_runs_on_the_same_engine_and_matches_the_reference(adapter: Path, models_home: Path,
                                                                       tmp_path: Path) -> None:
    from daogou.llm.transformers_engine import LocalLLM

    settings = Settings(home=models_home)
    gguf = llm_gguf_path(settings)
    lora = adapter_gguf_path(adapter, gguf, LLM_SHA256, settings.with_(models_path=tmp_path))
    engine = LlamaEngine(gguf, adapters={"copy": lora})
    try:
        base = engine.generate(PROMPT, max_new_tokens=16)
        tuned = engine.generate(PROMPT, max_new_tokens=16, lora="copy")
        assert engine.generate(PROMPT, max_new_tokens=16) == base  # a base request after a tuned one: no leak
    finally:
        engine.close()
    assert base == shared_engine(gguf).generate(PROMPT, max_new_tokens=16)  # loaded at scale 0: no change
    assert tuned[:6] != base[:6]
    reference = LocalLLM(settings=settings, adapter=adapter).generate(PROMPT, max_new_tokens=16)
    assert tuned[:6] == reference[:6]  # Q4 + GGUF LoRA writes what bf16 + merged peft LoRA writes


def test_settings_give_one_engine_for_chat_and_copy(adapter: Path, models_home: Path, tmp_path: Path) -> None:
    settings = Settings(home=models_home, models_path=models_home / "models", copy_adapter=adapter)
    writer, copy_writer = make_writer(settings), make_copy_writer(settings)
    assert copy_writer.engine is writer  # no second model for copy
    assert copy_writer.adapter.prompt_key == "prompt_tuned"
    assert copy_writer.generate(PROMPT, max_new_tokens=6) != writer.generate(PROMPT, max_new_tokens=6)
    other = settings.with_(copy_adapter=tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a LoRA adapter folder"):
        make_copy_writer(other)
