"""Tokenisation of mixed Chinese/English/number text, and BM25Index against Okapi BM25."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from daogou.tools.lexical import SCHEMES, BM25Builder, BM25Index, tokenize

CORPUS = [
    "红色连衣裙 夏季 雪纺",
    "iPhone15 Pro 手机壳 透明",
    "蓝色连衣裙 长款",
    "华为 Mate60 手机壳",
    "红色 运动鞋 男",
    "连衣裙 连衣裙 碎花 红色",
    "儿童 雪地靴 加绒",
]


def test_chinese_with_price_words():
    assert tokenize("红色连衣裙 300元以内") == [
        "红", "色", "连", "衣", "裙", "红色", "色连", "连衣", "衣裙",
        "300",
        "元", "以", "内", "元以", "以内",
    ]  # fmt: skip


def test_latin_lowercased_with_letter_and_digit_parts():
    assert tokenize("iPhone15 Pro 手机壳") == [
        "iphone15", "iphone", "15", "pro", "手", "机", "壳", "手机", "机壳",
    ]  # fmt: skip


def test_punctuation_fullwidth_and_decimals():
    assert tokenize("【包邮】ＡＢＣ１２，0.2mm！") == [
        "包", "邮", "包邮", "abc12", "abc", "12", "0.2mm", "0.2", "mm",
    ]  # fmt: skip
    assert tokenize("es-lf50") == ["es", "lf50", "lf", "50"]
    assert tokenize("  ，。！  ") == []
    assert tokenize("") == []


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_drops_spaces_and_punctuation(scheme):
    tokens = tokenize("iPhone15 Pro 手机壳，红色连衣裙【包邮】 300元以内", scheme)
    assert tokens and all(t.strip() and t == t.lower() for t in tokens)
    assert not any(ch in t for t in tokens for ch in "，【】 ")
    assert "iphone15" in tokens and "300" in tokens


def test_jieba_search_scheme():
    expected = ["红色", "连衣", "衣裙", "连衣裙", "300", "元", "以内"]
    assert tokenize("红色连衣裙 300元以内", "search") == expected


def test_unknown_scheme_names_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        tokenize("x", "bigrams")


def test_jieba_initialises_quietly():
    code = "from daogou.tools.lexical import tokenize; print(tokenize('红色连衣裙', 'search'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert "连衣裙" in r.stdout


def _index(**kw):
    docs = [tokenize(t) for t in CORPUS]
    return BM25Index([f"P{i}" for i in range(len(docs))], docs, **kw), docs


def test_scores_equal_rank_bm25_okapi():
    rank_bm25 = pytest.importorskip("rank_bm25")
    index, docs = _index()
    ref = rank_bm25.BM25Okapi(docs)
    for query in ["红色连衣裙", "手机壳 iphone", "雪地靴", "连衣裙 连衣裙", "不存在的词", "色"]:
        q = tokenize(query)
        np.testing.assert_allclose(index.scores(q, normalized=False), ref.get_scores(q), rtol=1e-5, atol=1e-6)


def test_okapi_idf_floor_and_k1_b_equal_rank_bm25():
    rank_bm25 = pytest.importorskip("rank_bm25")
    docs = [["a", "b"], ["a", "c"], ["a", "d", "d"], ["e"]]  # "a" in 3 of 4 docs: negative raw idf
    index = BM25Index(list("wxyz"), docs, k1=1.2, b=0.5, epsilon=0.3)
    ref = rank_bm25.BM25Okapi(docs, k1=1.2, b=0.5, epsilon=0.3)
    for q in (["a"], ["a", "d"], ["d", "d", "e"]):
        np.testing.assert_allclose(index.scores(q, normalized=False), ref.get_scores(q), rtol=1e-5)


def test_scores_hand_computed():
    docs = [["红", "裙"], ["蓝", "裙"], ["蓝", "鞋"], ["白", "鞋"], ["白", "帽"]]
    index = BM25Index(list("abcde"), docs)
    # all docs have length 2 = avgdl, tf 1: saturation (k1+1)/(1+k1) = 1, score = sum of idf
    idf_red, idf_skirt = math.log(4.5 / 1.5), math.log(3.5 / 2.5)
    np.testing.assert_allclose(
        index.scores(["红", "裙"], normalized=False), [idf_red + idf_skirt, idf_skirt, 0, 0, 0], rtol=1e-6
    )
    assert index.query_weight(["红", "裙", "未知"]) == pytest.approx(idf_red + idf_skirt)
    # normalised: the share of the query's idf mass a document matches
    np.testing.assert_allclose(
        index.scores(["红", "裙"]), [1.0, idf_skirt / (idf_red + idf_skirt), 0, 0, 0], rtol=1e-6
    )


def test_repeated_query_terms_count_each_time():
    index, _ = _index()
    once = index.scores(["雪"], normalized=False)
    np.testing.assert_allclose(index.scores(["雪", "雪"], normalized=False), 2 * once)


def test_unknown_and_empty_queries_score_zero():
    index, _ = _index()
    assert not index.scores(["不存在"]).any()
    assert not index.scores([]).any()
    assert index.scores([]).shape == (len(CORPUS),)
    assert index.top_k(["不存在"], 5) == []


def test_top_k_best_first():
    index, _ = _index()
    top = index.top_k(tokenize("红色连衣裙"), 3)
    assert [i for i, _ in top][0] in ("P0", "P5")
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert len(index.top_k(tokenize("红色连衣裙"), 100)) == 4  # only docs that match anything


def test_empty_corpus():
    index = BM25Index([], [])
    assert len(index) == 0
    assert index.scores(["a"]).shape == (0,)
    assert index.top_k(["a"], 3) == []
    assert len(BM25Index.from_state(index.to_state())) == 0


def test_lucene_idf_is_never_negative():
    docs = [["a", "b"], ["a", "c"], ["a", "d"], ["e"]]
    index = BM25Index(list("wxyz"), docs, idf="lucene")
    assert (index.idf > 0).all()


def test_state_round_trip_through_json():
    index, _ = _index(k1=1.2, b=0.6)
    state = index.to_state()
    plain = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()}
    as_json = json.loads(json.dumps(plain))
    again = BM25Index.from_state(as_json)
    assert again.ids == index.ids and (again.k1, again.b) == (1.2, 0.6)
    for q in ["红色连衣裙", "iphone15 手机壳", "雪地靴"]:
        np.testing.assert_array_equal(again.scores(tokenize(q)), index.scores(tokenize(q)))


def test_bad_state_and_bad_arguments_are_refused():
    index, _ = _index()
    state = index.to_state()
    with pytest.raises(ValueError, match="version"):
        BM25Index.from_state({**state, "version": 99})
    with pytest.raises(ValueError, match="inconsistent"):
        BM25Index.from_state({**state, "terms": state["terms"][:-1]})
    with pytest.raises(ValueError, match="duplicate document id 'a'"):
        BM25Index(["a", "a"], [["x"], ["y"]])
    with pytest.raises(ValueError, match="one token list per id"):
        BM25Index(["a"], [["x"], ["y"]])
    with pytest.raises(ValueError, match="k1"):
        BM25Index(["a"], [["x"]], b=1.5)
    with pytest.raises(ValueError, match="'okapi' or 'lucene'"):
        BM25Index(["a"], [["x"]], idf="tfidf")


def _same_scores(a: BM25Index, b: BM25Index, queries: list[str]) -> None:
    for query in queries:
        q = tokenize(query)
        sa = dict(zip(a.ids, a.scores(q), strict=True))
        sb = dict(zip(b.ids, b.scores(q), strict=True))
        assert sa.keys() == sb.keys()
        np.testing.assert_allclose([sa[i] for i in sorted(sa)], [sb[i] for i in sorted(sa)], rtol=1e-5, atol=1e-6)


def test_updated_equals_an_index_built_from_scratch():
    index, docs = _index()
    ids = list(index.ids)
    keep = np.array([i % 3 != 1 for i in range(len(ids))])  # drop every third document
    new_ids = ["N1", "N2", ids[1]]  # two new documents, and one dropped id coming back with new text
    new_docs = [tokenize("全新款 蓝色雪地靴 防水"), tokenize("zzz 独有词"), tokenize("红色连衣裙 夏季")]
    updated = index.updated(keep, new_ids, new_docs)
    kept = [(i, d) for i, d, k in zip(ids, docs, keep, strict=True) if k]
    scratch = BM25Index([i for i, _ in kept] + new_ids, [d for _, d in kept] + new_docs)
    assert updated.ids == scratch.ids
    assert set(updated.vocab) == set(scratch.vocab)  # terms only the dropped documents held are gone
    _same_scores(updated, scratch, ["红色连衣裙", "雪地靴 防水", "独有词", "手机壳 iphone", "色"])
    assert updated.query_weight(tokenize("独有词")) == pytest.approx(scratch.query_weight(tokenize("独有词")))


def test_updated_refuses_a_duplicate_id_and_a_wrong_mask():
    index, _ = _index()
    with pytest.raises(ValueError, match="duplicate document id"):
        index.updated(np.ones(len(index), dtype=bool), [index.ids[0]], [["x"]])
    with pytest.raises(ValueError, match="one per document"):
        index.updated(np.ones(2, dtype=bool), [], [])


def test_save_and_load_memory_maps_the_same_index(tmp_path):
    index, _ = _index(idf="lucene")
    index.save(tmp_path / "bm25")
    again = BM25Index.load(tmp_path / "bm25", list(index.ids))
    assert isinstance(again.doc_idx, np.memmap) and again.idf_kind == "lucene"
    _same_scores(index, again, ["红色连衣裙", "手机壳 iphone"])
    with pytest.raises(ValueError, match="rebuild the index"):
        BM25Index.load(tmp_path / "bm25", list(index.ids)[:-1])


def test_builder_page_by_page_equals_one_build():
    index, docs = _index()
    builder = BM25Builder()
    for start in range(0, len(docs), 3):
        builder.add(index.ids[start:start + 3], docs[start:start + 3])
    paged = builder.build()
    assert np.array_equal(paged.indptr, index.indptr) and np.array_equal(paged.doc_idx, index.doc_idx)
    _same_scores(paged, index, ["红色连衣裙", "手机壳 iphone"])
