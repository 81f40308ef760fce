"""Hybrid score fusion: the default rule, missing scores, ties, empty input, NaN/inf guards, RRF."""

import numpy as np
import pytest

from daogou.tools.fusion import DEFAULT_METHOD, DEFAULT_WEIGHT, METHODS, fuse_scores, rrf, top_k


def test_defaults_are_the_measured_winner():
    assert (DEFAULT_METHOD, DEFAULT_WEIGHT) == ("linear", 0.05)


def test_linear_is_a_convex_combination():
    dense = np.array([0.80, 0.85, 0.82])
    lexical = np.array([1.0, 0.0, 0.5])
    np.testing.assert_allclose(fuse_scores(dense, lexical), 0.95 * dense + 0.05 * lexical)
    # a full lexical match outweighs a cosine gap of 0.05; half a match does not make up 0.03
    assert top_k(fuse_scores(dense, lexical), 3).tolist() == [0, 1, 2]
    assert top_k(fuse_scores(np.array([0.7, 0.85]), np.array([1.0, 0.0])), 2).tolist() == [1, 0]


def test_weight_zero_is_dense_and_one_is_lexical():
    dense = np.array([0.1, 0.9, 0.5])
    lexical = np.array([3.0, 1.0, 2.0])
    for method in METHODS:
        assert top_k(fuse_scores(dense, lexical, 0.0, method), 3).tolist() == [1, 2, 0]
        assert top_k(fuse_scores(dense, lexical, 1.0, method), 3).tolist() == [0, 2, 1]


@pytest.mark.parametrize("method", METHODS)
def test_all_zero_lexical_keeps_the_dense_order(method):
    dense = np.array([0.3, 0.9, 0.6, 0.1])
    fused = fuse_scores(dense, np.zeros(4), 0.3, method)
    assert top_k(fused, 4).tolist() == [1, 2, 0, 3]
    assert np.isfinite(fused).all()


@pytest.mark.parametrize("method", METHODS)
def test_constant_inputs_do_not_divide_by_zero(method):
    fused = fuse_scores(np.full(3, 0.5), np.full(3, 2.0), 0.5, method)
    assert np.isfinite(fused).all()
    assert top_k(fused, 3).tolist() == [0, 1, 2]  # all tied: index order


@pytest.mark.parametrize("method", METHODS)
def test_empty_corpus(method):
    assert fuse_scores([], [], method=method).shape == (0,)
    assert top_k(np.array([]), 10).tolist() == []


def test_missing_dense_gets_the_lowest_returned_cosine():
    # dense top-2 only; doc 2 is a lexical-only hit
    dense = np.array([0.90, 0.80, np.nan, np.nan])
    lexical = np.array([0.0, 0.0, 1.0, 0.0])
    fused = fuse_scores(dense, lexical)
    np.testing.assert_allclose(fused[2], 0.95 * 0.80 + 0.05 * 1.0)
    np.testing.assert_allclose(fused[3], 0.95 * 0.80)
    assert top_k(fused, 4).tolist() == [0, 2, 1, 3]


@pytest.mark.parametrize("method", METHODS)
def test_nan_guard(method):
    all_missing = fuse_scores([np.nan, np.nan, np.nan], [0.2, np.nan, 0.9], 0.5, method)
    assert np.isfinite(all_missing).all()
    assert top_k(all_missing, 3).tolist() == [2, 0, 1]  # lexical alone; NaN lexical = no match
    mixed = fuse_scores([0.5, np.nan, 0.7], [np.nan, 1.0, 0.0], 0.5, method)
    assert np.isfinite(mixed).all()


def test_infinite_scores_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="document #1 is inf"):
        fuse_scores([0.1, np.inf], [0.0, 0.0])
    with pytest.raises(ValueError, match="align both"):
        fuse_scores([0.1, 0.2], [0.0])
    with pytest.raises(ValueError, match="1-d"):
        fuse_scores([[0.1]], [[0.0]])
    with pytest.raises(ValueError, match="choose one of"):
        fuse_scores([0.1], [0.0], method="rrf")
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"in \[0, 1\]"):
            fuse_scores([0.1], [0.0], weight=bad)


def test_minmax_and_zscore_hand_computed():
    dense = np.array([0.2, 0.4, 0.6])
    lexical = np.array([0.0, 10.0, 5.0])
    np.testing.assert_allclose(fuse_scores(dense, lexical, 0.5, "minmax"), [0.0, 0.75, 0.75])
    z = fuse_scores(dense, lexical, 0.5, "zscore")
    expected = 0.5 * (dense - dense.mean()) / dense.std() + 0.5 * (lexical - 5) / lexical.std()
    np.testing.assert_allclose(z, expected)


def test_top_k_ties_nan_and_bounds():
    s = np.array([0.5, np.nan, 0.9, 0.5, 0.5, 0.1])
    assert top_k(s, 3).tolist() == [2, 0, 3]  # ties in index order, NaN never ranks
    assert top_k(s, 10).tolist() == [2, 0, 3, 4, 5]
    assert top_k(s, 0).tolist() == []
    with pytest.raises(ValueError, match="k=-1"):
        top_k(s, -1)


def test_rrf_hand_computed():
    fused = rrf([["a", "b"], ["b", "c"]])
    assert [d for d, _ in fused] == ["b", "a", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["c"] == pytest.approx(1 / 62)


def test_rrf_weights_k_ties_and_duplicates():
    assert [d for d, _ in rrf([["a"], ["b"]], weights=[1, 2])] == ["b", "a"]
    assert [d for d, _ in rrf([["a"], ["b"]])] == ["a", "b"]  # tie: first met first
    assert dict(rrf([["a", "a", "b"]], k=0)) == {"a": 1.0, "b": 0.5}  # a repeat is dropped
    assert rrf([]) == [] and rrf([[], []]) == []


def test_rrf_bad_arguments():
    with pytest.raises(ValueError, match="one finite weight"):
        rrf([["a"], ["b"]], weights=[1])
    with pytest.raises(ValueError, match="one finite weight"):
        rrf([["a"]], weights=[-1])
    with pytest.raises(ValueError, match="k=-1"):
        rrf([["a"]], k=-1)
