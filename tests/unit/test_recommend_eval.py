"""The per-user time split, and the recommend evaluation over a real in-memory Chroma with fake encoders."""

import pytest

from daogou.evals.interactions import LogEvent
from daogou.evals.recommend_eval import evaluate_recommend, format_report, split_log
from tests.fakes.catalog import SHOP_ROWS, load_catalog


def ev(user, item, event, t, line=0):
    return LogEvent(user=user, item=item, event=event, time=float(t), line=line)


def test_the_last_fifth_of_each_users_events_is_the_future():
    events = [ev("a", f"P{t}", "viewed", t) for t in range(1, 9)] + [ev("a", "P9", "liked", 9),
                                                                       ev("a", "P10", "bought", 10)]
    split = split_log(events)
    (case,) = split.cases
    assert [i.product_id for i in case.past] == [f"P{t}" for t in range(1, 9)]
    assert case.truth == {"P9", "P10"}
    assert [e.item for e in split.train] == [f"P{t}" for t in range(1, 9)]  # the future is not training data


def test_events_at_the_split_second_go_to_the_future():
    events = [ev("a", f"P{t}", "viewed", t) for t in range(1, 8)] + [
        ev("a", "P8", "liked", 8, line=1), ev("a", "P9", "liked", 8, line=2), ev("a", "P10", "bought", 9)]
    (case,) = split_log(events, future_share=0.2).cases  # the cut falls between the two events at t=8
    assert case.truth == {"P8", "P9", "P10"} and len(case.past) == 7


def test_only_liked_carted_bought_are_truth_and_discovery_leaves_out_past_items():
    events = [ev("a", "P1", "liked", 1), ev("a", "P2", "viewed", 2), ev("a", "P3", "bought", 3),
              ev("a", "P4", "viewed", 4), ev("a", "P5", "disliked", 5), ev("a", "P6", "viewed", 6),
              ev("a", "P1", "bought", 7),  # future: a repeat of a past item
              ev("a", "P7", "viewed", 8), ev("a", "P8", "carted", 9), ev("a", "P2", "carted", 10)]
    discovery = split_log(events, future_share=0.4).cases[0]
    assert discovery.truth == {"P8"}  # P7 was only viewed; P1 and P2 were seen before
    assert discovery.excluded == {"P1", "P2", "P3", "P4", "P5", "P6"}
    repeats = split_log(events, future_share=0.4, exclude_seen=False).cases[0]
    assert repeats.excluded == {"P3", "P5"}  # bought and disliked: never shown back
    assert repeats.truth == {"P1", "P2", "P8"}


def test_users_who_cannot_be_scored_are_counted_by_reason():
    events = [ev("short", "P1", "liked", t) for t in range(3)]
    events += [ev("browser", f"P{t}", "viewed", t) for t in range(10)]
    events += [ev("same-time", f"P{t}", "liked", 5) for t in range(6)]
    split = split_log(events)
    assert split.cases == []
    assert split.skipped == {"fewer than 5 events": 1, "no new liked/carted/bought item in the future": 1,
                             "no past before the split": 1}
    with pytest.raises(ValueError, match="future_share=1"):
        split_log(events, future_share=1)


@pytest.fixture
def index(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(r) for r in SHOP_ROWS])


def test_for_you_popularity_and_random_on_a_hand_made_log(index):
    # Shopper "red" liked two red dresses and later bought the third; others made H1 and S1 popular.
    events = [ev("red", "D1", "liked", 1), ev("red", "D2", "carted", 2), ev("red", "E1", "viewed", 3),
              ev("red", "H1", "viewed", 4), ev("red", "D3", "bought", 5)]
    for u in ("o1", "o2", "o3"):
        events += [ev(u, "H1", "bought", 1), ev(u, "S1", "liked", 2), ev(u, "S2", "viewed", 3),
                   ev(u, "E2", "viewed", 4), ev(u, "D5", "viewed", 5)]
    split = split_log(events)
    assert [c.user for c in split.cases] == ["red"]
    res = evaluate_recommend(index, split, k=3, seed=1)
    assert set(res) == {"for_you", "popularity", "random"}
    fy, pop = res["for_you"], res["popularity"]
    assert fy["ndcg@3"] == pytest.approx(1.0)  # the third red dress comes first
    assert fy["precision@3"] == pytest.approx(1 / 3) and fy["recall@3"] == pytest.approx(1.0)
    assert fy["f1@3"] == pytest.approx(0.5)
    # popularity: S1 (3 users liked it), then S2/E2/D5 by viewers (3 each) in catalog order; D3 is not among them
    assert pop["ndcg@3"] == 0.0 and pop["coverage"] == pytest.approx(3 / len(SHOP_ROWS))
    for m in res.values():
        assert m["n"] == 1 and 0.0 <= m["diversity"] <= 2.0 and m["novelty"] >= 0.0
    assert res == evaluate_recommend(index, split, k=3, seed=1)  # the random baseline is seeded
    assert "for_you" in format_report({"k": 3, "methods": res, "log": {"source": "x", "events": 20, "users": 4,
                                                                       "rejected": 0},
                                       "catalog": {"source": "y", "products": 10},
                                       "split": {"future_share": 0.2, "protocol": "discovery", "users_evaluated": 1,
                                                 "skipped": {}, "past_events_mean": 4, "truth_items_mean": 1}})


def test_no_method_shows_an_excluded_item(index):
    events = [ev("a", i, "viewed", t) for t, i in enumerate(["D1", "D2", "D4", "D5", "S1", "S2", "E1", "E2"])]
    events += [ev("a", "D3", "liked", 20), ev("a", "H1", "bought", 21)]
    split = split_log(events)
    res = evaluate_recommend(index, split, k=10, seed=3)
    # 8 items seen in the past leave 2 eligible, both are truth: every method that fills the list finds both
    for m in res.values():
        assert m["recall@10"] == pytest.approx(1.0)
        assert m["coverage"] == pytest.approx(2 / len(SHOP_ROWS))
