"""The synthetic interaction log (tastes show in the data) and the log reader (bad rows reported, not dropped)."""

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from daogou.evals.interactions import generate_log, price_bands, read_interaction_log, simulate_log, write_log
from daogou.ingest.demo import demo_products


@pytest.fixture(scope="module")
def products():
    return demo_products()


@pytest.fixture(scope="module")
def log(products):
    return generate_log(products, n_users=120, seed=3)


def _by_user(rows):
    out = defaultdict(list)
    for r in rows:
        out[r["user"]].append(r)
    return out


def _top_share(values):
    counts = Counter(values)
    return counts.most_common(1)[0][1] / len(values) if values else 0.0


def test_generator_is_deterministic_and_seeded(products, log):
    assert generate_log(products, n_users=120, seed=3) == log
    assert generate_log(products, n_users=120, seed=4) != log


def test_rows_are_sorted_iso_times_with_known_events(products, log):
    assert {r["event"] for r in log} == {"view", "like", "cart", "buy", "dislike"}
    times = [datetime.fromisoformat(r["time"]) for r in log]
    assert times == sorted(times) and all(t.tzinfo == UTC for t in times)
    ids = {p.id for p in products}
    assert all(r["item"] in ids for r in log)
    assert len({r["user"] for r in log}) == 120


def test_favourite_category_dominates_each_users_views(products, log):
    cat = {p.id: p.category for p in products}
    shares = [_top_share([cat[r["item"]] for r in rows if r["event"] == "view"]) for rows in _by_user(log).values()]
    # 12 categories: a shopper without taste would put ~1/12 of their views in their top category
    assert sum(shares) / len(shares) > 0.55


def test_tastes_are_stable_over_time(products, log):
    cat = {p.id: p.category for p in products}
    same = 0
    users = _by_user(log)
    for rows in users.values():
        views = [cat[r["item"]] for r in rows if r["event"] == "view"]
        half = len(views) // 2
        same += Counter(views[:half]).most_common(1)[0][0] == Counter(views[half:]).most_common(1)[0][0] \
            or Counter(views[half:]).most_common(1)[0][0] in dict(Counter(views[:half]).most_common(2))
    assert same / len(users) > 0.8


def test_liked_and_bought_items_follow_the_simulated_tastes(products):
    tastes, rows = simulate_log(products, n_users=120, seed=3)
    taste = {t.user: t for t in tastes}
    product = {p.id: p for p in products}
    band = price_bands(products)

    def share(events, fits):
        hits = [fits(taste[r["user"]], r["item"]) for r in rows if r["event"] in events]
        return sum(hits) / len(hits)

    def in_category(t, i):
        return product[i].category in dict(t.categories)

    def in_colour(t, i):
        return product[i].attributes["颜色"] in t.colours

    def in_band(t, i):
        return band[i] == t.band

    # what a shopper without taste would give: the catalog's share of their categories / colours / band
    base_cat = sum(len(t.categories) for t in tastes) / len(tastes) / 12
    base_colour = sum(len(t.colours) for t in tastes) / len(tastes) / 12
    positive = ("like", "cart", "buy")
    assert share(positive, in_category) > 0.9 > 5 * base_cat
    assert share(positive, in_colour) > 0.5 > 3 * base_colour
    assert share(positive, in_band) > 0.6 > 1 / 3 + 0.25
    # likes follow colour and price more than views do (a shopper looks around, then picks what suits them)
    assert share(positive, in_colour) > share(("view",), in_colour) + 0.2
    assert share(("dislike",), in_colour) < base_colour + 0.05


def test_dislikes_fall_on_items_outside_the_taste(products, log):
    cat = {p.id: p.category for p in products}
    inside = outside = dis_in = dis_out = 0
    for rows in _by_user(log).values():
        top = {c for c, _ in Counter(cat[r["item"]] for r in rows if r["event"] == "view").most_common(2)}
        for r in rows:
            is_in = cat[r["item"]] in top
            if r["event"] == "view":
                inside += is_in
                outside += not is_in
            elif r["event"] == "dislike":
                dis_in += is_in
                dis_out += not is_in
    assert dis_out / outside > 1.5 * dis_in / inside


def test_without_noise_users_stay_in_their_one_or_two_categories(products):
    cat = {p.id: p.category for p in products}
    for rows in _by_user(generate_log(products, n_users=40, seed=1, noise=0.0)).values():
        assert 1 <= len({cat[r["item"]] for r in rows}) <= 2


def test_price_bands_split_each_category_in_thirds(products):
    band = price_bands(products)
    by_cat = defaultdict(Counter)
    for p in products:
        by_cat[p.category][band[p.id]] += 1
    for counts in by_cat.values():
        assert set(counts) == {"low", "mid", "high"} and max(counts.values()) - min(counts.values()) <= 1
    cheap = [p.price for p in products if p.category == "数码" and band[p.id] == "low"]
    dear = [p.price for p in products if p.category == "数码" and band[p.id] == "high"]
    assert max(cheap) <= min(dear)


def test_generator_refuses_bad_arguments(products):
    with pytest.raises(ValueError, match="noise=2"):
        generate_log(products, noise=2)
    with pytest.raises(ValueError, match="non-empty catalog"):
        generate_log([])


# -- reading ---------------------------------------------------------------------------------------------
def test_written_log_reads_back_with_recommender_event_names(products, log, tmp_path):
    for name in ("log.jsonl", "log.csv"):
        res = read_interaction_log(write_log(log[:300], tmp_path / name), {p.id for p in products})
        assert res.errors == [] and len(res.events) == 300
        assert {e.event for e in res.events} <= {"viewed", "liked", "carted", "bought", "disliked"}
        first = res.events[0]
        assert (first.user, first.item) == (log[0]["user"], log[0]["item"])
        assert first.time == datetime.fromisoformat(log[0]["time"]).timestamp()


def test_reader_reports_every_bad_row_with_line_and_reason(tmp_path):
    rows = [
        '{"user": "u1", "item": "P1", "event": "view", "time": "2026-03-01T12:00:00Z"}',
        '{"user": "u1", "item": "P1", "event": "buy"',  # 2: broken JSON
        '["u1", "P1"]',  # 3: not an object
        '{"user": "u1", "item": "P1", "event": "view"}',  # 4: no time
        '{"user": "u1", "item": "P1", "event": "stare", "time": 5}',  # 5: unknown event
        '{"user": "u1", "item": "P1", "event": "like", "time": "yesterday"}',  # 6: bad time
        '{"user": "u1", "item": "P9", "event": "like", "time": 100}',  # 7: unknown item
        "",
        '{"user": "u2", "item": "P2", "event": "purchase", "time": 1772366400}',  # 9: fine (alias, epoch)
        '{"user": "u2", "item": "P2", "event": "cart", "time": -4}',  # 10: negative time
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    res = read_interaction_log(path, {"P1", "P2"})
    assert [(e.line, e.event) for e in res.events] == [(1, "viewed"), (9, "bought")]
    errors = {e.line: e.reason for e in res.errors}
    assert set(errors) == {2, 3, 4, 5, 6, 7, 10}
    assert "invalid JSON" in errors[2] and "JSON object" in errors[3] and "missing time" in errors[4]
    assert "unknown event 'stare'" in errors[5] and "'buy'" in errors[5]
    assert "'yesterday' is not ISO 8601" in errors[6]
    assert "unknown item id 'P9'" in errors[7]
    assert "non-negative" in errors[10]
    assert str(res.errors[0]).startswith("log.jsonl:2:")
    assert res.summary() == "2 events of 2 users read; 7 rows rejected"


def test_without_known_ids_any_item_is_accepted_and_naive_times_are_utc(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"user": 1, "item": "X", "event": "LIKE", "time": "2026-03-01T12:00:00"}) + "\n")
    (e,) = read_interaction_log(path).events
    assert (e.user, e.event) == ("1", "liked")
    assert e.time == datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()


def test_csv_lines_are_physical_lines_and_a_bad_header_is_refused(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("user,item,event,time\nu1,P1,view,10\nu1,,view,11\nu1,P1,dislike,12\n", encoding="utf-8")
    res = read_interaction_log(path)
    assert [e.line for e in res.events] == [2, 4] and [e.line for e in res.errors] == [3]
    assert "missing item" in res.errors[0].reason
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,item,event,time\nu1,P1,view,10\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks user"):
        read_interaction_log(bad)


def test_unreadable_files_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_interaction_log(tmp_path / "nope.jsonl")
    odd = tmp_path / "log.xlsx"
    odd.write_text("x")
    with pytest.raises(ValueError, match="use .jsonl or .csv"):
        read_interaction_log(odd)
