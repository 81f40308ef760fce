"""Early / mid / late fusion: the math, the setting, and their use by search and similar_products (fake encoders)."""

import numpy as np
import pytest
from PIL import Image

from daogou.ingest.filters import Filters
from daogou.settings import Settings
from daogou.tools.align import AlignConfig, fit_catalog_head, head_for, head_path
from daogou.tools.fusion import early_fuse, early_vectors, mid_fuse
from daogou.tools.recommend import similar_products
from daogou.tools.search import SearchRequest, search_products
from tests.fakes.catalog import RGB, SHOP_ROWS, load_catalog


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# -- the math --------------------------------------------------------------------------------------------
def test_early_vectors_dot_is_the_weighted_sum_of_cosines():
    rng = np.random.default_rng(0)
    t, v = _unit(rng.normal(size=(5, 6))), _unit(rng.normal(size=(5, 4)))
    e = early_vectors(t, v, 0.7)
    np.testing.assert_allclose(e @ e[0], 0.7 * (t @ t[0]) + 0.3 * (v @ v[0]), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0)


def test_early_fuse_ranks_like_early_vectors_and_stays_on_the_cosine_scale():
    rng = np.random.default_rng(1)
    t, v = _unit(rng.normal(size=(6, 6))), _unit(rng.normal(size=(6, 4)))
    v[2] = np.nan  # a product without an image
    products = early_vectors(t, v, 0.6)
    q_both = early_vectors(t[:1], v[:1], 0.6, query=True)[0]
    np.testing.assert_allclose(products @ q_both, early_fuse(t @ t[0], v @ v[0], 0.6), atol=1e-12)
    q_text = early_vectors(t[:1], np.full((1, 4), np.nan), 0.6, query=True)[0]  # a text-only query
    fused = early_fuse(t @ t[0], None, 0.6)
    np.testing.assert_allclose(fused, t @ t[0])  # the text cosine itself
    assert np.argsort(-(products @ q_text)).tolist() == np.argsort(-fused).tolist()


def test_early_fuse_missing_image_adds_nothing_and_bad_input_is_refused():
    assert early_fuse([0.9, 0.8], [np.nan, 0.5], 0.5).tolist() == pytest.approx([0.45, 0.65])
    with pytest.raises(ValueError, match="needs a text or an image side"):
        early_fuse(None, None)
    with pytest.raises(ValueError, match="2 text cosines but 1 image"):
        early_fuse([0.1, 0.2], [0.3])
    with pytest.raises(ValueError, match=r"text_weight=1.5 must be in \[0, 1\]"):
        early_vectors(np.ones((1, 2)), None, 1.5)


def test_mid_fuse_mixes_in_the_aligned_cosine_and_fills_missing_with_the_lowest():
    out = mid_fuse([0.8, 0.6, 0.7], [0.2, 0.9, np.nan], 0.25)
    assert out.tolist() == pytest.approx([0.75 * 0.8 + 0.25 * 0.2, 0.75 * 0.6 + 0.25 * 0.9, 0.75 * 0.7 + 0.25 * 0.2])
    with pytest.raises(ValueError, match=r"weight=2 must be in \[0, 1\]"):
        mid_fuse([0.1], [0.1], 2)
    with pytest.raises(ValueError, match="2 base scores but 1 aligned"):
        mid_fuse([0.1, 0.2], [0.3])


# -- the setting -----------------------------------------------------------------------------------------
def test_fusion_setting_reads_env_and_names_bad_values(monkeypatch):
    monkeypatch.setenv("DAOGOU_FUSION", "MID")
    assert Settings.from_env().fusion == "mid"
    monkeypatch.setenv("DAOGOU_FUSION", "middle")
    with pytest.raises(ValueError, match=r"DAOGOU_FUSION='middle' is not one of early, mid, late"):
        Settings.from_env()
    monkeypatch.delenv("DAOGOU_FUSION")
    assert Settings.from_env().fusion in ("early", "mid", "late")


# -- search and similar_products over a fake catalog -----------------------------------------------------
@pytest.fixture
def index(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(r) for r in SHOP_ROWS])


def _photo(colour):
    return Image.new("RGB", (32, 32), RGB[colour])


def ids(result):
    return [c.id for c in result.cards]


def test_image_only_query_finds_products_of_that_colour(index):
    for fusion in ("early", "mid", "late"):
        res = search_products(index, SearchRequest(image=_photo("红色"), k=3, fusion=fusion))
        assert set(ids(res)) == {"D1", "D2", "D3"}, (fusion, res.trace)


def test_text_plus_image_late_is_rank_fusion_and_early_is_one_weighted_score(index):
    late = search_products(index, SearchRequest(text="连衣裙", image=_photo("蓝色"), k=3, fusion="late"))
    early = search_products(index, SearchRequest(text="连衣裙", image=_photo("蓝色"), k=3, fusion="early"))
    assert "(late fusion)" in late.trace and "(early fusion)" in early.trace
    assert ids(early)[0] == "D4" and ids(late)[0] == "D4"  # the blue dress: both sides agree
    store = index.store
    q_t = store.embed_query("连衣裙")
    q_i = store.embed_image(_photo("蓝色"))
    t, v = store.text_vectors(["D4"])["D4"], store.image_vectors(["D4"])["D4"]
    lexical = index.lexical_scores("连衣裙")[index.pos["D4"]]
    expected = 0.7 * (0.95 * float(t @ q_t) + 0.05 * lexical) + 0.3 * float(v @ q_i)  # text side = hybrid
    assert early.cards[0].score == pytest.approx(expected, abs=1e-4)


def test_mid_without_a_head_falls_back_to_late_and_says_how_to_train_one(index):
    res = search_products(index, SearchRequest(image=_photo("红色"), k=3, fusion="mid"))
    assert res.cards and "mid fusion unavailable" in res.trace and "daogou tune align" in res.trace
    text_only = search_products(index, SearchRequest(text="连衣裙", k=3, fusion="mid"))  # needs no head
    assert ids(text_only) == ids(search_products(index, SearchRequest(text="连衣裙", k=3, fusion="late")))
    assert "unavailable" not in text_only.trace
    with pytest.raises(ValueError, match="text-to-image search needs the alignment head.*daogou tune align"):
        search_products(index, SearchRequest(text="连衣裙", k=3, mode="image"))


@pytest.fixture
def trained(index):
    fit_catalog_head(index.store, AlignConfig(dim=8, epochs=200, lr=1e-2), held_out=0.0)
    return index


def test_trained_head_enables_text_to_image_search_and_mid_fusion(trained):
    assert head_path(trained.store.settings).exists()
    res = search_products(trained, SearchRequest(text="红色碎花连衣裙", k=3, mode="image"))
    assert "text to image" in res.trace
    assert "E2" not in ids(res)  # no image: cannot be found by its picture
    assert ids(res)[0] == "D1"  # trained on this catalog: its own picture first
    mid = search_products(trained, SearchRequest(text="连衣裙", image=_photo("红色"), k=3, fusion="mid"))
    assert "(mid fusion)" in mid.trace and "unavailable" not in mid.trace
    assert set(ids(mid)) == {"D1", "D2", "D3"}
    photo = search_products(trained, SearchRequest(image=_photo("黑色"), k=2, fusion="mid"))
    assert "(mid fusion)" in photo.trace and set(ids(photo)) <= {"S1", "S2", "E1"}  # the black ones


def test_mid_search_respects_hard_filters(trained):
    res = search_products(trained, SearchRequest(text="连衣裙", image=_photo("红色"), k=5, fusion="mid",
                                                 filters=Filters(price_max=250)))
    assert res.cards and all(c.price <= 250 for c in res.cards)


def test_head_goes_stale_when_the_catalog_changes(trained, settings, tmp_path):
    assert head_for(trained).head is not None
    trained.store.delete(["H1"])
    trained.refresh()
    loaded = head_for(trained)
    assert loaded.head is None and "catalog changed" in loaded.problem and "daogou tune align" in loaded.problem
    res = search_products(trained, SearchRequest(image=_photo("红色"), k=2, fusion="mid"))
    assert "late fusion used" in res.trace


def test_similar_products_under_each_fusion(trained):
    store = trained.store
    early = similar_products(trained, "D1", k=4, fusion="early")
    t, v = store.text_vectors(["D1", "D2"]), store.image_vectors(["D1", "D2"])
    want = 0.7 * float(t["D1"] @ t["D2"]) + 0.3 * float(v["D1"] @ v["D2"])
    assert {c.id: c.score for c in early.cards}["D2"] == pytest.approx(want, abs=1e-4)
    assert "early fusion" in early.trace
    for fusion in ("late", "mid"):
        res = similar_products(trained, "D1", k=3, fusion=fusion)
        assert "D1" not in ids(res) and ids(res)[0] in {"D2", "D3"}, (fusion, res.trace)
        assert f"{fusion} fusion" in res.trace


def test_similar_products_bad_fusion_is_a_tool_error(index):
    from daogou.tools.errors import ToolError

    with pytest.raises(ToolError, match="fusion"):
        similar_products(index, "D1", fusion="middle")


def test_ensure_head_trains_once_for_mid_and_again_after_the_catalog_changes(fake_store, settings, tmp_path):
    from daogou.tools.align import ensure_head

    load_catalog(fake_store, settings, tmp_path, [dict(r) for r in SHOP_ROWS])
    assert ensure_head(fake_store, settings.with_(fusion="late")) == ""  # not the setting: nothing trained
    assert not head_path(fake_store.settings).exists()
    assert ensure_head(fake_store, settings.with_(fusion="mid")).startswith("mid fusion: alignment head trained")
    assert head_path(fake_store.settings).exists()
    assert ensure_head(fake_store, settings.with_(fusion="mid")) == ""  # fresh: kept
    fake_store.delete([SHOP_ROWS[0]["id"]])
    assert ensure_head(fake_store, settings.with_(fusion="mid")).startswith("mid fusion: alignment head trained")
