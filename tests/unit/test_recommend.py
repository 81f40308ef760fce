"""similar_products, user vectors, MMR and recommend_for_user over a real in-memory Chroma with fake encoders."""

import numpy as np
import pytest

from daogou.ingest.filters import Filters
from daogou.tools.errors import ToolError
from daogou.tools.recommend import (
    EVENT_WEIGHTS,
    Interaction,
    mmr,
    recommend_for_user,
    similar_products,
    user_vector,
)
from tests.fakes.catalog import SHOP_ROWS as ROWS
from tests.fakes.catalog import load_catalog


@pytest.fixture
def index(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(r) for r in ROWS])


def ids(result):
    return [c.id for c in result.cards]


# -- similar_products ------------------------------------------------------------------------------------
@pytest.mark.parametrize("modality", ["text", "image", "fused"])
def test_similar_excludes_the_product_itself_and_ranks_the_near_copy_first(index, modality):
    res = similar_products(index, "D1", k=3, modality=modality)
    assert "D1" not in ids(res) and len(res.cards) == 3
    assert ids(res)[0] in {"D2", "D3"}  # the red dresses
    scores = [c.score for c in res.cards]
    assert scores == sorted(scores, reverse=True)


def test_similar_trace_names_product_modality_and_counts(index):
    res = similar_products(index, "D1", k=5, fusion="early")
    assert res.trace == "similar to D1 by early fusion of text+image: 5 of 9 products"
    assert ids(res)[:2] == ["D2", "D3"]


def test_similar_respects_hard_filters(index):
    res = similar_products(index, "D1", k=9, filters=Filters(price_max=300, in_stock=True))
    assert res.cards and all(c.price <= 300 and c.stock > 0 for c in res.cards)
    assert "D3" not in ids(res) and "D4" not in ids(res)  # too dear / out of stock
    assert "≤300" in res.trace and "in stock" in res.trace


def test_similar_by_category_filter_only_returns_that_category(index):
    res = similar_products(index, "E1", k=5, filters=Filters(categories=("服装",)))
    assert {c.category for c in res.cards} == {"服装"}


def test_similar_without_image_falls_back_to_text(index):
    res = similar_products(index, "E2", k=2, modality="image")
    assert ids(res)[0] == "E1"
    assert "by text" in res.trace and "E2 has no image" in res.trace


def test_similar_nothing_meets_the_filters_says_so(index):
    res = similar_products(index, "D1", filters=Filters(price_min=10_000))
    assert res.cards == [] and "nothing else meets" in res.trace


def test_similar_accepts_the_id_in_another_case(index):
    assert similar_products(index, " d1 ", k=1).trace.startswith("similar to D1")


def test_similar_unknown_id_is_a_tool_error_with_examples(index):
    with pytest.raises(ToolError, match=r"Unknown product id 'P9999'\. Use an id from the products shown in this "
                                        r"conversation, e\.g\. "):
        similar_products(index, "P9999")
    with pytest.raises(ToolError, match="e.g. D1"):  # a near spelling is suggested
        similar_products(index, "D11")


def test_similar_bad_modality_and_k_are_tool_errors(index):
    with pytest.raises(ToolError, match=r"Unknown modality 'sound'\. Valid values: fused, text, image"):
        similar_products(index, "D1", modality="sound")
    with pytest.raises(ToolError, match="between 1 and 50"):
        similar_products(index, "D1", k=0)


# -- interactions and the user vector ----------------------------------------------------------------------
def test_unknown_event_lists_the_valid_ones():
    with pytest.raises(ToolError, match=r"Unknown event 'loved'\. Valid values: viewed, clicked, liked"):
        Interaction("D1", "loved")
    assert EVENT_WEIGHTS["bought"] > EVENT_WEIGHTS["liked"] > EVENT_WEIGHTS["viewed"] > 0 > EVENT_WEIGHTS["disliked"]


def test_user_vector_none_without_positive_history(index):
    assert user_vector(index, []) is None
    assert user_vector(index, [Interaction("D1", "disliked")]) is None
    assert user_vector(index, [Interaction("GONE", "liked")]) is None  # no longer in the catalog


def test_user_vector_is_unit_and_dislikes_push_away(index):
    liked = user_vector(index, [Interaction("D1", "liked")])
    both = user_vector(index, [Interaction("D1", "liked"), Interaction("D3", "disliked")])
    assert np.isclose(np.linalg.norm(both), 1.0, atol=1e-5)
    d3 = index.store.text_vectors(["D3"])["D3"]
    assert float(both @ d3) < float(liked @ d3) - 0.5


def test_user_vector_recency_decay_favours_recent(index):
    history = [Interaction("D1", "liked", ts=0.0), Interaction("S1", "liked", ts=3600.0)]
    d1, s1 = (index.store.text_vectors([i])[i] for i in ("D1", "S1"))
    flat = user_vector(index, history)
    decayed = user_vector(index, history, half_life_s=600.0)
    assert abs(float(flat @ d1) - float(flat @ s1)) < 1e-4
    assert float(decayed @ s1) > float(decayed @ d1) + 0.3
    with pytest.raises(ToolError, match="positive"):
        user_vector(index, history, half_life_s=0)


# -- MMR --------------------------------------------------------------------------------------------------
def test_mmr_pushes_a_near_duplicate_down():
    a = np.array([1.0, 0.0, 0.0])
    a_copy = np.array([0.99, 0.141, 0.0])
    b = np.array([0.0, 0.0, 1.0])
    vecs = np.stack([a, a_copy, b])
    rel = [0.9, 0.89, 0.6]
    assert mmr(["a", "a'", "b"], rel, vecs, 3, lambda_=1.0) == ["a", "a'", "b"]
    assert mmr(["a", "a'", "b"], rel, vecs, 3, lambda_=0.5) == ["a", "b", "a'"]
    assert mmr(["a", "a'", "b"], rel, vecs, 2, lambda_=0.5) == ["a", "b"]
    assert mmr([], [], np.zeros((0, 3)), 5, 0.7) == []
    with pytest.raises(ValueError, match="one relevance and one vector per candidate"):
        mmr(["a"], [1.0, 2.0], vecs[:1], 1, 0.5)


# -- recommend_for_user ------------------------------------------------------------------------------------
def test_recommend_excludes_bought_and_disliked(index):
    history = [Interaction("S1", "bought"), Interaction("E1", "disliked"), Interaction("D4", "rejected"),
               Interaction("S2", "viewed")]
    res = recommend_for_user(index, history, k=10)
    assert not {"S1", "E1", "D4"} & set(ids(res))
    assert ids(res)[0] == "S2"
    assert "3 bought/disliked left out" in res.trace and "MMR λ=0.70" in res.trace


def test_recommend_exclude_seen_leaves_out_everything_touched(index):
    res = recommend_for_user(index, [Interaction("D1", "liked")], k=3, exclude_seen=True)
    assert "D1" not in ids(res) and ids(res)[0] == "D2"


def test_recommend_diversity_pushes_the_near_copy_down(index):
    history = [Interaction("D1", "liked"), Interaction("S1", "liked")]
    plain = ids(recommend_for_user(index, history, k=4, diversity=0.0))
    varied = ids(recommend_for_user(index, history, k=4, diversity=0.3))
    assert plain.index("D2") == 2  # D2 is a near copy of D1, next in plain relevance order
    assert "D2" not in varied[:3]
    assert set(varied[:2]) == {"D1", "S1"}


def test_recommend_respects_filters(index):
    res = recommend_for_user(index, [Interaction("D1", "liked")], k=10, filters=Filters(price_max=250))
    assert res.cards and all(c.price <= 250 for c in res.cards)
    assert "≤250" in res.trace


def test_recommend_without_history_spreads_in_stock_picks_over_categories(index):
    res = recommend_for_user(index, [], k=4)
    assert {c.category for c in res.cards} == {"服装", "鞋靴", "数码", "家居"}
    assert all(c.stock > 0 for c in res.cards)
    assert "no history yet" in res.trace and "not personalised" in res.trace


def test_recommend_with_only_dislikes_falls_back_but_still_excludes(index):
    res = recommend_for_user(index, [Interaction("D5", "disliked")], k=10)
    assert "D5" not in ids(res) and "no liked or viewed products yet" in res.trace
    assert ids(res)[-1] == "D4"  # the out-of-stock product comes last


def test_recommend_bad_arguments_are_tool_errors(index):
    with pytest.raises(ToolError, match=r"diversity=1.5 is out of range"):
        recommend_for_user(index, [], diversity=1.5)
    with pytest.raises(ToolError, match="between 1 and 50"):
        recommend_for_user(index, [], k=100)
