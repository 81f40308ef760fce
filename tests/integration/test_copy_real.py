"""`daogou tune copy` and `daogou eval copy` with the real bundled model, as CLI subprocesses.

Small on purpose (8 records, 2 + 1 training steps, 2 records evaluated with a short budget): this checks that
training runs, checkpoints resume, the adapter loads and changes the model, and the eval prints its JSON.
The figures themselves come from the long runs in the README.
"""

from __future__ import annotations

import json

import pytest
import torch

from daogou.llm.torch_dtype import resolve_dtype
from daogou.llm.transformers_engine import LocalLLM
from daogou.settings import Settings
from tests.integration.helpers import MODELS, _env, _run

pytestmark = pytest.mark.integration

RECORDS = [
    ("类型#上衣*颜色#白色*材质#棉*衣样式#衬衫", "简约的白色衬衫，纯棉面料柔软亲肤，通勤休闲都好搭。"),
    ("类型#裙*颜色#黑色*裙长#中长裙*风格#优雅", "优雅的黑色中长裙，垂感好，走起路来很有气质。"),
    ("类型#裤*材质#牛仔布*裤型#直筒裤", "经典直筒牛仔裤，修饰腿型，百搭又耐穿。"),
    ("类型#上衣*衣样式#卫衣*图案#字母", "字母印花卫衣，宽松版型，随性又有活力。"),
    ("类型#裙*图案#碎花*材质#雪纺", "碎花雪纺裙，轻盈飘逸，夏天穿清爽又温柔。"),
    ("类型#上衣*衣样式#外套*颜色#卡其色", "卡其色外套，利落有型，春秋出门随手一披。"),
    ("类型#裤*裤长#九分裤*风格#休闲", "休闲九分裤，露出脚踝更显高，舒适自在。"),
    ("类型#上衣*衣样式#毛衣*材质#羊毛", "羊毛毛衣，柔软保暖，冬天贴身穿也不扎。"),
]
PROMPT = [{"role": "user", "content": "写一段连衣裙的文案。"}]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("copy") / "pairs.jsonl"
    path.write_text("".join(json.dumps({"content": c, "summary": s}, ensure_ascii=False) + "\n" for c, s in RECORDS),
                    encoding="utf-8")
    return path


def _tune(data, out, home, *extra):
    r = _run(["tune", "copy", "--data", str(data), "--part", "all", "--out", str(out), "--save-every", "1",
              "--max-len", "128", "--lr", "1e-3", "--json", *extra], _env(home),
             timeout=1500)  # the first call may convert the bf16 copy (~1-2 min); float32 without bf16 instructions
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _logits(llm: LocalLLM) -> torch.Tensor:
    ids = torch.tensor([llm.encode(llm.render(PROMPT))])
    with torch.no_grad():
        return llm.model(input_ids=ids).logits[0, -1].float()


def test_tune_resume_and_the_adapter_changes_the_model(data, tmp_path):
    out = tmp_path / "adapter"
    first = _tune(data, out, tmp_path, "--max-steps", "2")
    assert first["steps"] == 2 and first["examples"] == 8 and first["extra"]["resumed_from"] == 0
    assert first["extra"]["dtype"] == resolve_dtype("auto")  # float32 on a CPU without bf16 instructions
    assert (out / "adapter_model.safetensors").is_file() and (out / "checkpoint" / "state.json").is_file()
    meta = json.loads((out / "daogou_adapter.json").read_text())
    assert meta["prompt_key"] == "prompt_tuned" and meta["base_sha256"] and len(meta["data_sha256"]) == 64

    # one more step continues from the checkpoint at step 2 (its losses are kept)
    again = _tune(data, out, tmp_path, "--max-steps", "3")
    assert again["extra"]["resumed_from"] == 2 and again["steps"] == 3
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3 and len(state["losses"]) == 3

    # other settings cannot continue that checkpoint
    r = _run(["tune", "copy", "--data", str(data), "--part", "all", "--out", str(out), "--rank", "4",
              "--max-steps", "4"], _env(tmp_path))
    assert r.returncode == 1 and "rank" in r.stderr and "--no-resume" in r.stderr

    settings = Settings(home=MODELS.parent, models_path=MODELS)
    base = LocalLLM(settings=settings)
    tuned = LocalLLM(settings=settings, adapter=out)
    assert tuned.adapter is not None and tuned.adapter.steps == 3
    assert not torch.allclose(_logits(base), _logits(tuned))


def test_eval_copy_json_on_two_records(data, tmp_path):
    r = _run(["eval", "copy", "--data", str(data), "--part", "all", "--limit", "2", "--max-new-tokens", "40",
              "--json"], _env(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(r.stdout)
    assert d["n"] == 2 and d["decode_tokens"] > 0 and d["generation_s"] > 0
    for m in ("rouge-1", "rouge-2", "rouge-l", "bleu-4"):
        assert 0.0 <= d[m] <= 100.0
    assert d["settings"]["prompt_key"] == "prompt" and d["settings"]["adapter"] is None


def test_eval_copy_reports_bad_lines_and_a_missing_adapter(data, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(data.read_text(encoding="utf-8") + "{oops\n", encoding="utf-8")
    env = _env(tmp_path, DAOGOU_COPY_ADAPTER=str(tmp_path / "nowhere"))
    r = _run(["eval", "copy", "--data", str(bad), "--part", "all", "--limit", "1", "--json"], env)
    assert "bad.jsonl:line 9: invalid JSON" in r.stderr
    assert r.returncode == 1 and "not a LoRA adapter folder" in r.stderr

