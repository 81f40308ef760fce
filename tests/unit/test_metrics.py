"""Ranking metrics on hand-computed examples, and the README's BM25 reference figure on the dev split."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from daogou.evals.metrics import (
    catalog_coverage,
    f1_at_k,
    intra_list_diversity,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

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


def test_precision_divides_by_k_and_f1_is_the_harmonic_mean():
    ranked = ["a", "x", "b", "y", "z"]
    assert precision_at_k(ranked, {"a", "b", "c", "d"}, 5) == pytest.approx(2 / 5)
    assert precision_at_k(["a"], {"a"}, 10) == pytest.approx(0.1)  # a short list is not rewarded
    assert precision_at_k(["a", "a", "b"], {"a"}, 2) == pytest.approx(0.5)  # duplicates earn nothing
    # P = 2/5, R = 2/4 -> F1 = 2 * 0.4 * 0.5 / 0.9
    assert f1_at_k(ranked, {"a", "b", "c", "d"}, 5) == pytest.approx(0.4 / 0.9)
    assert f1_at_k(["x"], {"a"}, 5) == 0.0


def test_catalog_coverage_counts_distinct_items_over_all_lists():
    assert catalog_coverage([["a", "b"], ["b", "c"], []], 10) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="catalog_size=0"):
        catalog_coverage([["a"]], 0)


def test_intra_list_diversity_hand_computed():
    v = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 2.0]), "c": np.array([3.0, 3.0])}
    # cos(a,b) = 0, cos(a,c) = cos(b,c) = 1/sqrt(2): mean = sqrt(2)/3
    assert intra_list_diversity(["a", "b", "c"], v) == pytest.approx(1 - np.sqrt(2) / 3)
    assert intra_list_diversity(["a", "a"], v) is None  # one distinct item: no pair
    assert intra_list_diversity(["a", "zzz"], v) is None  # ids without a vector are left out
    assert intra_list_diversity(["a", "c"], {"a": v["a"], "c": v["a"] * 5}) == pytest.approx(0.0)


def test_novelty_is_mean_self_information_with_add_one_smoothing():
    counts = {"hit": 7, "niche": 1}
    # p(hit) = 8/8 -> 0 bits; p(niche) = 2/8 -> 2 bits; never seen: 1/8 -> 3 bits
    assert novelty(["hit"], counts, 7) == pytest.approx(0.0)
    assert novelty(["hit", "niche", "new"], counts, 7) == pytest.approx((0 + 2 + 3) / 3)
    assert novelty([], counts, 7) is None


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
