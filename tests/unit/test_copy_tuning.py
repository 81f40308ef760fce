"""Training data for `daogou tune copy` (labels masked on the prompt), the step plan, and adapter metadata checks."""

import json

import pytest

from daogou.evals.copy_data import CopyExample
from daogou.llm.adapters import AdapterInfo, base_model_hash, merge_adapter, read_adapter_info
from daogou.tuning.copy_lora import PROMPT_KEY, TARGET_PREFIX, TuneConfig, _plan, data_hash, encode_example

EX = CopyExample(line=1, attributes={"类型": "裙", "颜色": "白色"}, reference="白色的裙子", content="类型#裙*颜色#白色")


class CharTokenizer:
    """One token per character; the chat template wraps the message in <u>...<a>."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        assert not tokenize and add_generation_prompt
        return "<u>" + messages[0]["content"] + "<a>"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def _text(ids):
    return "".join(chr(i) for i in ids)


def test_labels_are_masked_on_the_prompt_and_hold_the_copy():
    ids, labels = encode_example(CharTokenizer(), EX, max_len=4000)
    assert len(ids) == len(labels)
    n_prompt = labels.count(-100)
    prompt, target = _text(ids[:n_prompt]), _text(ids[n_prompt:])
    assert prompt.startswith("<u>") and prompt.endswith("<a>") and "颜色：白色" in prompt
    assert "【示例】" not in prompt  # the tuned template: no few-shot example
    assert target == TARGET_PREFIX + "白色的裙子<|im_end|>"
    assert labels[n_prompt:] == ids[n_prompt:] and all(x == -100 for x in labels[:n_prompt])


def test_long_copy_is_cut_and_a_prompt_that_leaves_no_room_is_skipped():
    full, _ = encode_example(CharTokenizer(), EX, max_len=4000)
    n = len(full) - 3
    ids, labels = encode_example(CharTokenizer(), EX, max_len=n)
    assert len(ids) == n and ids == full[:n]
    n_prompt = labels.count(-100)
    assert encode_example(CharTokenizer(), EX, max_len=n_prompt + 7) is None


def test_plan_is_seeded_and_respects_epochs_and_max_steps(tmp_path):
    cfg = TuneConfig(out=tmp_path, epochs=2, seed=1)
    plan = _plan(5, cfg)
    assert len(plan) == 10 and sorted(plan[:5]) == list(range(5)) and sorted(plan[5:]) == list(range(5))
    assert plan == _plan(5, cfg) and plan != _plan(5, TuneConfig(out=tmp_path, epochs=2, seed=2))
    assert len(_plan(5, TuneConfig(out=tmp_path, epochs=2, max_steps=3))) == 3
    assert len(_plan(10, TuneConfig(out=tmp_path, epochs=0.5))) == 5


def test_data_hash_changes_with_the_data():
    other = CopyExample(line=1, attributes={}, reference="别的文案", content=EX.content)
    assert data_hash([EX]) == data_hash([EX]) != data_hash([other]) != data_hash([EX, other])


def test_adapter_folder_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a LoRA adapter folder"):
        read_adapter_info(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match="daogou tune copy"):
        read_adapter_info(tmp_path)


def test_base_model_hash_prefers_the_manifest(tmp_path):
    (tmp_path / "daogou_manifest.json").write_text(json.dumps({"source_sha256": "abc", "dtype": "bfloat16"}))
    assert base_model_hash(tmp_path) == "abc:bfloat16"
    (tmp_path / "daogou_manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors"):
        base_model_hash(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert len(base_model_hash(tmp_path)) == 64


def test_merge_refuses_an_adapter_of_another_base_model(tmp_path):
    adapter, base = tmp_path / "adapter", tmp_path / "base"
    adapter.mkdir()
    base.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    AdapterInfo(base_model="x", base_sha256="other:bfloat16", data="d", data_sha256="h", prompt_key=PROMPT_KEY
                ).write(adapter)
    (base / "daogou_manifest.json").write_text(json.dumps({"source_sha256": "abc", "dtype": "bfloat16"}))
    with pytest.raises(ValueError, match="trained on base model other"):
        merge_adapter(object(), adapter, base)
