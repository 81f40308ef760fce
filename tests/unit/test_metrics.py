"""Ranking metrics on hand-computed examples, and the README's BM25 reference figure on the dev split."""

import json
import logging
import math
from pathlib import Path

import pytest

from daogou.evals.metrics import mean_metrics, mrr_at_k, ndcg_at_k, recall_at_k

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev"


def test_ndcg_single_relevant_at_rank_3():
    assert ndcg_at_k(["a", "b", "c"], {"c"}, 10) == pytest.approx(1 / math.log2(4))


def test_ndcg_two_relevant_hand_computed():
    # DCG = 1/log2(2) + 1/log2(4) = 1.5 ; IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], ["a", "c"], 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_ndcg_perfect_and_miss_and_cutoff():
    assert ndcg_at_k(["a", "b"], ["a", "b"], 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], ["a"], 10) == 0.0
    ranked = [f"d{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranked, ["a"], 10) == 0.0
    assert ndcg_at_k(ranked, ["a"], 11) == pytest.approx(1 / math.log2(12))


def test_ndcg_ideal_is_capped_at_k():
    # 3 relevant, k=2: both top slots relevant is a perfect score
    assert ndcg_at_k(["a", "b", "x"], ["a", "b", "c"], 2) == pytest.approx(1.0)


def test_duplicates_in_a_ranking_earn_once():
    assert ndcg_at_k(["a", "a", "b"], ["a", "b"], 2) == pytest.approx(ndcg_at_k(["a", "b"], ["a", "b"], 2))
    assert recall_at_k(["a", "a"], ["a", "b"], 10) == 0.5


def test_mrr():
    assert mrr_at_k(["x", "a", "b"], {"a", "b"}, 10) == 0.5
    assert mrr_at_k(["x", "y", "a"], {"a"}, 2) == 0.0
    assert mrr_at_k([], {"a"}, 10) == 0.0


def test_recall():
    assert recall_at_k(["a", "x", "b"], ["a", "b", "c", "d"], 3) == 0.5
    assert recall_at_k(["a", "x", "b"], ["a", "b", "c", "d"], 1) == 0.25
    assert recall_at_k(["a"], [], 10) == 0.0


def test_mean_metrics_averages_and_counts():
    runs = [(["a", "b"], ["a"]), (["x", "b"], ["b"])]
    m = mean_metrics(runs, k=10)
    assert m["n"] == 2
    assert m["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert m["recall@10"] == 1.0
    assert set(m) == {"ndcg@10", "mrr@10", "recall@10", "n"}


def test_mean_metrics_empty_and_other_k():
    assert mean_metrics([], k=5) == {"ndcg@5": 0.0, "mrr@5": 0.0, "recall@5": 0.0, "n": 0}


def test_bad_inputs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="no relevant ids"):
        mean_metrics([(["a"], ["a"]), (["a"], [])])
    with pytest.raises(ValueError, match="positive integer"):
        ndcg_at_k(["a"], ["a"], 0)


@pytest.mark.skipif(not (DEV / "dev_corpus.jsonl").exists(), reason="../shared/data/dev not present")
def test_bm25_reference_figure_of_the_dev_readme_is_reproduced():
    """README: BM25 over jieba lcut_for_search (rank-bm25 Okapi) nDCG@10 0.805, MRR@10 0.777."""
    import jieba

    from daogou.tools.lexical import BM25Index

    jieba.setLogLevel(logging.WARNING)
    corpus = [json.loads(x) for x in (DEV / "dev_corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(x) for x in (DEV / "dev_queries.jsonl").open(encoding="utf-8")]

    def tok(text):
        return [w for w in jieba.lcut_for_search(text.lower()) if w.strip()]

    ids = [c["id"] for c in corpus]
    index = BM25Index(ids, [tok(c["title"]) for c in corpus])
    runs = [([d for d, _ in index.top_k(tok(q["query"]), 10)], q["relevant_ids"]) for q in queries]
    m = mean_metrics(runs)
    assert m["n"] == 100
    assert m["ndcg@10"] == pytest.approx(0.805, abs=0.01)
    assert m["mrr@10"] == pytest.approx(0.777, abs=0.01)
