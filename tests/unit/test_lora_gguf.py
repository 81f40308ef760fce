"""Converting a peft LoRA adapter to a GGUF LoRA: names, shapes, alpha and values as llama.cpp reads them, the
refusals (another model, DoRA, another base), and the hash-checked cache. A real peft adapter on a tiny random
Qwen2; the real model and engine are in tests/integration/test_lora_engine_real.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from daogou.llm import lora_gguf
from daogou.llm.adapters import AdapterInfo
from daogou.llm.lora_gguf import adapter_gguf_path, convert_adapter
from daogou.settings import Settings
from tests.fakes.gguf import write_gguf
from tests.unit.test_chat_model import _tiny_model_folder

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
BASE_SHA = "ab" * 32


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A peft LoRA (rank 4, random non-zero B) on the tiny 2-layer Qwen2 (hidden 64, ffn 128, kv 32)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = _tiny_model_folder(tmp_path_factory.mktemp("tiny"))
    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False))
    out = tmp_path_factory.mktemp("adapter") / "copy"
    model.save_pretrained(out)
    AdapterInfo(base_model=str(base), base_sha256=f"{BASE_SHA}:bfloat16", data="d", data_sha256="0" * 64,
                prompt_key="prompt_tuned").write(out)
    return out


@pytest.fixture()
def base_gguf(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "base.gguf", blocks=2, hidden=64, ffn=128, kv=32)


def test_conversion_writes_every_pair_as_llama_cpp_names_and_shapes_them(adapter: Path, base_gguf: Path,
                                                                         tmp_path: Path) -> None:
    import gguf
    from safetensors.numpy import load_file

    out = convert_adapter(adapter, tmp_path / "copy.gguf", base_gguf)
    reader = gguf.GGUFReader(out)
    field = reader.fields
    assert field["general.type"].contents() == "adapter" and field["adapter.type"].contents() == "lora"
    assert field["adapter.lora.alpha"].contents() == 8.0 and field["general.architecture"].contents() == "qwen2"
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * len(TARGETS) * 2  # two layers, seven modules, A and B
    peft = load_file(str(adapter / "adapter_model.safetensors"))
    a = peft["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]  # (rank, in) = (4, 128)
    b = peft["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"]  # (out, rank) = (64, 4)
    ta, tb = tensors["blk.1.ffn_down.weight.lora_a"], tensors["blk.1.ffn_down.weight.lora_b"]
    assert list(ta.shape) == [128, 4] and list(tb.shape) == [4, 64]  # ggml order, as the base weight's [128, 64]
    np.testing.assert_array_equal(np.asarray(ta.data).reshape(a.shape), a)
    np.testing.assert_array_equal(np.asarray(tb.data).reshape(b.shape), b)
    assert {"blk.0.attn_k.weight.lora_a", "blk.0.attn_output.weight.lora_b"} <= set(tensors)


def test_an_adapter_for_another_model_is_refused_with_the_tensor(adapter: Path, tmp_path: Path) -> None:
    other = write_gguf(tmp_path / "other.gguf", blocks=2, hidden=32, ffn=128, kv=32)
    with pytest.raises(ValueError, match=r"blk\.0\.attn_(k|output|q|v)\.weight lora_A .* do not fit the base weight"):
        convert_adapter(adapter, tmp_path / "x.gguf", other)
    shallow = write_gguf(tmp_path / "shallow.gguf", blocks=1, hidden=64, ffn=128, kv=32)
    with pytest.raises(ValueError, match=r"model\.layers\.1\..* has no counterpart in shallow\.gguf"):
        convert_adapter(adapter, tmp_path / "y.gguf", shallow)


@pytest.mark.parametrize(("key", "value", "match"), [("use_dora", True, "DoRA"),
                                                     ("modules_to_save", ["lm_head"], "fully trained modules"),
                                                     ("rank_pattern", {"q_proj": 8}, "per-module ranks")])
def test_what_llama_cpp_cannot_apply_is_refused(adapter: Path, base_gguf: Path, tmp_path: Path, key: str,
                                                value: object, match: str) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    for f in adapter.iterdir():
        (odd / f.name).write_bytes(f.read_bytes())
    config = json.loads((odd / "adapter_config.json").read_text())
    (odd / "adapter_config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(ValueError, match=f"uses {match}.*DAOGOU_LLM=transformers"):
        convert_adapter(odd, tmp_path / "z.gguf", base_gguf)


def test_rslora_alpha_keeps_peft_scaling(adapter: Path, base_gguf: Path, tmp_path: Path) -> None:
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert lora_gguf._alpha({**config, "use_rslora": True}, adapter) == pytest.approx(8 * 2)  # 8 / sqrt(4) = 16 / 4


def test_adapter_path_converts_once_checks_the_base_and_redoes_a_damaged_file(
    adapter: Path, base_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home")
    with pytest.raises(ValueError, match=r"was trained on base model abababab.* but the chat model is cdcdcdcd.*"
                                         r"retrain it with `daogou tune copy`"):
        adapter_gguf_path(adapter, base_gguf, "cd" * 32, settings)
    calls: list[Path] = []
    real = lora_gguf.convert_adapter
    monkeypatch.setattr(lora_gguf, "convert_adapter", lambda *a: (calls.append(a[1]), real(*a))[1])
    out = adapter_gguf_path(adapter, base_gguf, BASE_SHA, settings)
    assert out.parent == settings.models_dir / "adapters" and out.name.startswith("copy-")
    stamp = json.loads(out.with_name(out.name + ".sha256.json").read_text())
    assert stamp["size"] == out.stat().st_size and len(stamp["sha256"]) == 64
    assert adapter_gguf_path(adapter, base_gguf, BASE_SHA, settings) == out and len(calls) == 1  # cached
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte flipped, a later mtime
    out.write_bytes(bytes(data))
    os.utime(out, ns=(out.stat().st_mtime_ns + 10**9,) * 2)
    assert adapter_gguf_path(adapter, base_gguf, BASE_SHA, settings) == out and len(calls) == 2  # redone
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".partial")]


def test_a_folder_that_is_not_an_adapter_is_named(base_gguf: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a LoRA adapter folder"):
        adapter_gguf_path(tmp_path, base_gguf, BASE_SHA, Settings(home=tmp_path))
