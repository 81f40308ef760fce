"""The alignment head: InfoNCE training on synthetic pairs, paired recall, split, saving and stale-head detection."""

import numpy as np
import pytest

from daogou.tools.align import (
    AlignConfig,
    AlignHead,
    StaleHeadError,
    alignment_recall,
    load_head,
    save_head,
    split_ids,
    train_head,
)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _pairs(n, seed=0, noise=0.3):
    """Paired views of one latent: text = latent @ A + noise (48-d), image = tanh(latent @ B) + noise (96-d)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 8))
    a, b = rng.normal(size=(8, 48)), rng.normal(size=(8, 96))
    text = _unit(z @ a + noise * rng.normal(size=(n, 48)))
    image = _unit(np.tanh(z @ b) + noise * rng.normal(size=(n, 96)))
    return text.astype(np.float32), image.astype(np.float32)


CONFIG = AlignConfig(dim=16, epochs=150, lr=1e-2, seed=0)


def test_training_lowers_the_loss_and_aligns_held_out_pairs_far_above_chance():
    text, image = _pairs(240)
    head, losses = train_head(text[:180], image[:180], CONFIG)
    assert losses[-1] < 0.5 * losses[0]
    held = alignment_recall(head, text[180:], image[180:])  # 60 pairs never seen: chance R@1 = 1/60
    assert held["t2i@1"] > 0.3 and held["i2t@1"] > 0.3, held
    assert held["t2i@10"] > 0.8, held


def test_unrelated_pairs_do_not_align_beyond_chance_on_held_out_rows():
    text, image = _pairs(240)
    shuffled = image[np.random.default_rng(1).permutation(240)]  # pairing broken: nothing to learn
    head, _ = train_head(text[:180], shuffled[:180], CONFIG)
    held = alignment_recall(head, text[180:], shuffled[180:])
    assert held["t2i@10"] < 0.4, held  # chance R@10 = 10/60


def test_training_is_deterministic_for_a_seed():
    text, image = _pairs(60)
    cfg = AlignConfig(dim=8, epochs=20, seed=3)
    a, _ = train_head(text, image, cfg)
    b, _ = train_head(text, image, cfg)
    np.testing.assert_allclose(a.w_text, b.w_text)


def test_training_refuses_unpaired_or_too_few_rows():
    text, image = _pairs(10)
    with pytest.raises(ValueError, match="paired 2-d arrays"):
        train_head(text, image[:9], CONFIG)
    with pytest.raises(ValueError, match="at least 2 products"):
        train_head(text[:1], image[:1], CONFIG)


def test_alignment_recall_counts_the_partner_rank():
    eye = np.eye(3, dtype=np.float32)
    head = AlignHead(eye, np.zeros(3, np.float32), eye, np.zeros(3, np.float32))
    text = eye
    image = eye[[0, 2, 1]]  # rows 1 and 2 are paired with each other's direction
    r = alignment_recall(head, text, image, ks=(1, 2))
    assert r["t2i@1"] == pytest.approx(1 / 3) and r["i2t@1"] == pytest.approx(1 / 3)
    assert r["t2i@2"] == 1.0  # rows 1 and 2 find their partner second (ties with cosine 0 count for it)
    assert alignment_recall(head, text, eye)["t2i@1"] == 1.0


def test_projections_are_unit_vectors():
    text, image = _pairs(20)
    head, _ = train_head(text, image, AlignConfig(dim=4, epochs=3))
    for z in (head.project_text(text), head.project_image(image)):
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)


def test_split_is_deterministic_disjoint_and_of_the_asked_share():
    ids = [f"P{i}" for i in range(100)]
    train, test = split_ids(ids, 0.2, seed=1)
    assert (train, test) == split_ids(list(reversed(ids)), 0.2, seed=1)
    assert len(test) == 20 and not set(train) & set(test) and set(train) | set(test) == set(ids)
    assert split_ids(ids, 0.2, seed=2)[1] != test
    with pytest.raises(ValueError, match="held-out share 1.0"):
        split_ids(ids, 1.0, seed=0)


def test_saved_head_round_trips_and_a_changed_catalog_is_refused(tmp_path):
    text, image = _pairs(20)
    head, _ = train_head(text, image, AlignConfig(dim=4, epochs=3))
    path = tmp_path / "align" / "x.npz"
    assert load_head(path, "sig-a") is None  # never trained
    save_head(head, path, "sig-a")
    back = load_head(path, "sig-a")
    np.testing.assert_allclose(back.project_text(text), head.project_text(text), rtol=1e-6)
    assert back.meta["catalog_signature"] == "sig-a" and back.meta["pairs"] == 20
    with pytest.raises(StaleHeadError, match=r"trained on another catalog .*daogou tune align"):
        load_head(path, "sig-b")


def test_unreadable_head_file_is_a_clear_error(tmp_path):
    path = tmp_path / "h.npz"
    path.write_bytes(b"not a numpy file")
    with pytest.raises(StaleHeadError, match=r"unreadable .*daogou tune align"):
        load_head(path, "sig")
