"""The embedded llama.cpp engine on the real bundled 0.5B GGUF: streaming, KV reuse, sessions, cancel, lock-down,
constrained JSON over many prompts, and clear errors for a damaged model file.

One engine per session (the shared one, as the app uses it). Greedy decoding throughout, so the same prompt
gives the same words; no assertion is on a timing.
"""

from __future__ import annotations

import http.client
import json
import socket
import stat
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from daogou.llm.generation import GenerationError, GenerationStats
from daogou.llm.llama_engine import LlamaEngine, shared_engine
from daogou.llm.provision import llm_gguf_path
from daogou.model_files import ModelError
from daogou.settings import Settings

pytestmark = pytest.mark.integration

SYSTEM = "你是本店的导购助手，帮顾客找到合适的商品。回答简短，使用顾客的语言。"


@pytest.fixture(scope="session")
def gguf(models_home: Path) -> Path:
    return llm_gguf_path(Settings(home=models_home))


@pytest.fixture(scope="session")
def engine(gguf: Path) -> LlamaEngine:
    return shared_engine(gguf)


def _chat(*turns: str, system: str = SYSTEM) -> list[dict[str, str]]:
    chat = [{"role": "system", "content": system}]
    for i, text in enumerate(turns):
        chat.append({"role": "assistant" if i % 2 else "user", "content": text})
    return chat


def test_stream_gives_pieces_in_order_that_join_to_the_whole_reply(engine: LlamaEngine) -> None:
    chat = _chat("推荐一双适合跑步的鞋，说两句话。")
    stamps: list[tuple[float, str]] = []
    for piece in engine.stream(chat, max_new_tokens=40):
        stamps.append((time.perf_counter(), piece))
    pieces = [p for _, p in stamps]
    assert len(pieces) > 3 and all(pieces)
    assert not any("\ufffd" in p for p in pieces)  # never half a character
    assert [t for t, _ in stamps] == sorted(t for t, _ in stamps)
    assert "".join(pieces) == engine.generate(chat, max_new_tokens=40)  # the same words, streamed or not
    assert engine.last_stats is not None and engine.last_stats.decode_tokens <= 40


def test_a_stop_string_ends_the_reply_before_it(engine: LlamaEngine) -> None:
    chat = _chat("Count from 1 to 10, separated by commas, nothing else.", system="You are terse.")
    full = engine.generate(chat, max_new_tokens=40)
    assert "4" in full
    cut = engine.generate(chat, max_new_tokens=40, stop=["4"])
    assert "4" not in cut and full.startswith(cut.rstrip())


def test_the_previous_turn_is_read_from_the_kv_cache(engine: LlamaEngine) -> None:
    first = _chat("你好，我想买一件外套。")
    s1, s2 = GenerationStats(), GenerationStats()
    reply = engine.generate(first, max_new_tokens=16, stats=s1)
    engine.generate(_chat("你好，我想买一件外套。", reply, "要防水的"), max_new_tokens=8, stats=s2)
    assert s2.prompt_tokens > s1.prompt_tokens
    assert s2.cached_tokens >= s1.prompt_tokens - 1  # the whole earlier prompt, only the new turn prefilled
    assert s2.prefill_tokens == s2.prompt_tokens - s2.cached_tokens


def test_two_sessions_at_once_keep_their_own_kv(engine: LlamaEngine) -> None:
    a = _chat("推荐一双跑步鞋")
    b = _chat("I want a red dress under 300 yuan", system="You are a shop assistant. Answer briefly in English.")
    a1, b1 = engine.generate(a, max_new_tokens=12), engine.generate(b, max_new_tokens=12)
    a2 = a + [{"role": "assistant", "content": a1}, {"role": "user", "content": "便宜一点的呢？"}]
    b2 = b + [{"role": "assistant", "content": b1}, {"role": "user", "content": "cheaper ones?"}]
    alone = {"a": engine.generate(a2, max_new_tokens=16), "b": engine.generate(b2, max_new_tokens=16)}
    together: dict[str, list[str]] = {"a": [], "b": []}
    stats: dict[str, list[GenerationStats]] = {"a": [], "b": []}

    def session(name: str, chat: list[dict[str, str]]) -> None:
        for _ in range(2):
            s = GenerationStats()
            together[name].append(engine.generate(chat, max_new_tokens=16, stats=s))
            stats[name].append(s)

    threads = [threading.Thread(target=session, args=("a", a2)), threading.Thread(target=session, args=("b", b2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == {"a": [alone["a"]] * 2, "b": [alone["b"]] * 2}  # no words from the other session
    # each session's earlier turns come back from the cache even though the other one ran in between
    assert all(s.cached_tokens > s.prompt_tokens // 2 for name in stats for s in stats[name])


def test_a_client_that_stops_reading_frees_the_engine(engine: LlamaEngine) -> None:
    before = engine.metrics()["tokens_predicted_total"]
    chat = _chat("写一篇一千字的文章，介绍跑步鞋的历史。")
    gen = engine.stream(chat, max_new_tokens=400)
    got = [next(gen) for _ in range(3)]
    gen.close()  # what a disconnecting shopper's turn does
    assert all(got)
    deadline = time.monotonic() + 60  # the cancel is taken between two decode steps of the engine's loop
    while engine.metrics()["requests_processing"] and time.monotonic() < deadline:
        time.sleep(0.05)
    m = engine.metrics()
    assert m["requests_processing"] == 0  # the slot is free
    assert m["tokens_predicted_total"] - before < 20  # far from the 400 asked: decoding stopped
    assert engine.generate(_chat("你好"), max_new_tokens=4)  # and the next shopper is served


def _unix_request(sock_path: str, key: str | None) -> tuple[int, bytes]:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(sock_path)

    conn = UnixConnection("localhost", timeout=60)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    conn.request("POST", "/v1/completions", body=json.dumps({"prompt": "hi", "max_tokens": 1}), headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def test_the_bindings_http_listener_is_locked(engine: LlamaEngine) -> None:
    address = engine.listening_address
    assert address.startswith("unix://")  # no TCP port at all
    sock = Path(address.removeprefix("unix://"))
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700  # only this user can reach the socket
    status, body = _unix_request(str(sock), None)
    assert status == 401 and b"Invalid API Key" in body
    assert _unix_request(str(sock), "guessed-key")[0] == 401
    assert _unix_request(str(sock), engine._api_key)[0] == 200  # it is the engine, and the key opens it


def test_a_truncated_model_file_is_refused_with_the_fix(gguf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with gguf.open("rb") as src:
        cut.write_bytes(src.read(20 * 1024 * 1024))  # the header and vocabulary, not the weights
    with pytest.raises(ModelError, match=r"llama.cpp could not load .*cut\.gguf.*Fix: check that the file is a "
                                         r"complete GGUF"):
        LlamaEngine(cut)
    (tmp_path / "junk.gguf").write_bytes(b"\0" * 4096)
    with pytest.raises(ModelError, match=r"junk\.gguf is not a readable GGUF model file"):
        LlamaEngine(tmp_path / "junk.gguf")


def test_a_request_longer_than_the_context_is_a_clear_error(gguf: Path) -> None:
    small = LlamaEngine(gguf, ctx_per_slot=256)
    try:
        with pytest.raises(GenerationError, match="exceeds the available context size.*raise DAOGOU_LLM_CTX"):
            small.generate(_chat("很长的问题。" * 200), max_new_tokens=4)
    finally:
        small.close()


# ------------------------------------------------------------------------- constrained JSON, property test
READING = {  # a turn reading with bounded numbers, closed choices and short strings
    "type": "object",
    "properties": {
        "intent": {"enum": ["search", "similar", "details", "compare", "recommend", "copy", "chat"]},
        "query": {"type": "string", "maxLength": 40},
        "max_price": {"type": "integer", "minimum": 0, "maximum": 100000},
        "colors": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
        "in_stock": {"type": "boolean"},
    },
    "required": ["intent", "query"],
    "additionalProperties": False,
}
PROMPTS = [
    "帮我找300元以内的红色连衣裙", "有没有适合跑步的鞋", "给我推荐几款蓝色的T恤", "P1023和P1024哪个好",
    "和第二个类似的还有吗", "这件有货吗", "帮P1005写一段活泼的文案", "预算五百，想买个包", "黑色或者白色的运动鞋",
    "便宜点的", "换成绿色", "要大一号的", "不要Nike的", "你好", "谢谢，再见", "送女朋友什么礼物好",
    "我想要一件防水的外套，价格两千以下", "儿童雨靴有吗", "这个手机壳是什么材质", "最便宜的耳机是哪款",
    "帮我比较一下这三款", "有没有打折的商品", "推荐一款适合夏天的帽子", "我喜欢简约风格",
    "3000块以内的笔记本电脑", "红色的，M码", "猜你喜欢", "这双鞋多重", "看看详情", "写一段高端的文案",
    "Show me running shoes under 500", "Any red dresses?", "Compare P1001 and P1002", "Is this one in stock?",
    "Something like the first one", "Cheaper please", "In blue instead", "Recommend me something",
    "Write catchy copy for P1010", "Hello there", "Thanks, bye", "A gift for my dad, around 200 yuan",
    "Waterproof jacket, size L, under 1500", "What material is the phone case?", "Black or white sneakers",
    "Do you have kids' rain boots?", "I need a laptop under 3000", "Not Adidas please", "One size larger",
    "What's the cheapest headphone?", "¥99以下的袜子", "有没有 organic cotton 的 T 恤", "emoji 🙂 就行",
    "价格无所谓，要最好的", "一百块钱能买啥",
]


def test_constrained_output_is_always_schema_valid_over_many_prompts(engine: LlamaEngine) -> None:
    assert len(PROMPTS) >= 50
    system = ("Read the shopper's message into JSON: intent, query (their words), max_price only when they give a "
              "price, colors only when they name colours, in_stock only when they ask. 读取顾客的话。")
    seen_intents = set()
    for text in PROMPTS:
        value = engine.generate_json([{"role": "system", "content": system}, {"role": "user", "content": text}],
                                     READING, max_new_tokens=96)
        jsonschema.validate(value, READING)
        seen_intents.add(value["intent"])
    assert len(seen_intents) >= 3  # the model reads, it does not answer one constant
