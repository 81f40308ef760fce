"""Recommendation tools: "more like this" (item-to-item cosine) and "for you" (a user vector from interactions).

`similar_products` pools candidates from the store's nearest neighbours of the product's text and/or image
vector (hard filters applied as the Chroma `where` and again as the index mask), then scores every pooled
product exactly with the stored vectors. `recommend_for_user` builds the seed's user vector — a weighted
sum of the text vectors of the products the shopper touched, dislikes pushing away — ranks by cosine,
leaves out what was bought or disliked, and re-ranks with MMR so the list is not near-copies of one item.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from daogou.ingest.filters import Filters
from daogou.tools.align import head_for
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.dense import nearest_images, nearest_rows
from daogou.tools.errors import ToolError, choice_error, resolve_ids, unknown_ids_error
from daogou.tools.fusion import EARLY_TEXT_WEIGHT, FUSIONS, MID_WEIGHT, early_fuse, mid_fuse, rrf
from daogou.tools.search import ProductCard, SearchResult

__all__ = [
    "EVENT_WEIGHTS",
    "FUSED_TEXT_WEIGHT",
    "MODALITIES",
    "Interaction",
    "mmr",
    "recommend_for_user",
    "similar_products",
    "user_vector",
]

POOL = 50  # nearest neighbours taken from each collection before exact scoring (at least 5 * k)
# Fused similarity = FUSED_TEXT_WEIGHT * text cosine + (1 - FUSED_TEXT_WEIGHT) * image cosine. Text leads:
# the e5 vector knows what the product *is* (category, material, use); the ImageNet CNN features only know
# what it looks like (colour, shape), so they refine the order rather than set it. A candidate without an
# image vector is scored by its text cosine alone.
FUSED_TEXT_WEIGHT = EARLY_TEXT_WEIGHT  # 0.7
MODALITIES = ("fused", "text", "image")

EVENT_WEIGHTS: dict[str, float] = {
    "viewed": 1.0, "clicked": 1.0, "liked": 2.0, "carted": 3.0, "bought": 4.0, "disliked": -3.0, "rejected": -3.0,
}
_EXCLUDING_EVENTS = frozenset({"bought", "disliked", "rejected"})  # never recommended back


@dataclass(frozen=True)
class Interaction:
    """One thing the shopper did with a product. `ts` is seconds (any epoch); it only matters with decay."""

    product_id: str
    event: str
    ts: float = 0.0

    def __post_init__(self) -> None:
        if self.event not in EVENT_WEIGHTS:
            raise choice_error("event", self.event, list(EVENT_WEIGHTS),
                               "Record what the shopper did with one of these words.")


def _check_k(k: int, limit: int = 50) -> None:
    if not 1 <= k <= limit:
        raise ToolError(f"k={k} is out of range. Ask for between 1 and {limit} products.")


def _with_excluded(filters: Filters, ids: Sequence[str]) -> Filters:
    extra = tuple(i for i in ids if i not in filters.exclude_ids)
    return filters.model_copy(update={"exclude_ids": filters.exclude_ids + extra}) if extra else filters


def _cond(filters: Filters) -> str:
    d = filters.describe()
    return f" [{d}]" if d else ""


def _cards(index: CatalogIndex, ranked: Sequence[tuple[str, float]]) -> list[ProductCard]:
    scores = dict(ranked)
    return [ProductCard.from_product(p, scores[p.id]) for p in index.store.get_products([i for i, _ in ranked])]


def _cosines(seed: np.ndarray, vectors: Mapping[str, np.ndarray], ids: Sequence[str]) -> dict[str, float]:
    return {i: float(vectors[i] @ seed) for i in ids if i in vectors}


# -- more like this --------------------------------------------------------------------------------------
def _fused_scores(index: CatalogIndex, pid: str, ids: list[str], fusion: str, text_cos: dict[str, float],
                  image_cos: dict[str, float]) -> tuple[dict[str, float], str]:
    """Scores of the pooled `ids` under a fusion strategy, and a note when mid fell back to late."""
    if fusion == "late":
        text_rank = sorted((i for i in ids if i in text_cos), key=lambda i: (-text_cos[i], index.pos[i]))
        image_rank = sorted((i for i in ids if i in image_cos), key=lambda i: (-image_cos[i], index.pos[i]))
        return dict(rrf([text_rank, image_rank])), ""
    t = np.array([text_cos.get(i, np.nan) for i in ids])
    v = np.array([image_cos.get(i, np.nan) for i in ids])
    base = early_fuse(t, v, FUSED_TEXT_WEIGHT)
    if fusion == "mid":
        loaded = head_for(index)
        if loaded.head is None:
            return _fused_scores(index, pid, ids, "late", text_cos, image_cos)[0], \
                f"mid fusion unavailable ({loaded.problem}), late fusion used"
        joint = loaded.projected["joint"]
        seed = joint[loaded.pos[pid]]
        aligned = np.array([float(joint[loaded.pos[i]] @ seed) if i in loaded.pos else np.nan for i in ids])
        base = mid_fuse(base, aligned, MID_WEIGHT)
    return dict(zip(ids, base.tolist(), strict=True)), ""


def similar_products(index: CatalogIndex, product_id: str, *, k: int = 5, modality: str = "fused",
                     filters: Filters = Filters(), fusion: str | None = None) -> SearchResult:
    """Products most like `product_id` by text, image or fused similarity, itself excluded.

    "fused" combines the two by `fusion` (default: the store's Settings.fusion; see daogou/tools/fusion.py):
    "early" scores FUSED_TEXT_WEIGHT * text cosine + the rest * image cosine, "late" fuses the text and the
    image rankings by reciprocal rank, "mid" adds the cosine of the mid-fused vectors of the alignment head.
    Products without an image vector fall back to text similarity, and the trace says so.
    """
    if modality not in MODALITIES:
        raise choice_error("modality", modality, MODALITIES, "Use 'fused' unless the shopper asked about looks only.")
    fusion = fusion or index.store.settings.fusion
    if fusion not in FUSIONS:
        raise choice_error("fusion", fusion, FUSIONS, "Use the default unless comparing strategies.")
    _check_k(k)
    known, unknown = resolve_ids(index, [product_id])
    if unknown:
        raise unknown_ids_error(unknown, index.ids)
    pid = known[0]
    store = index.store
    text_seed = index.text_vectors([pid]).get(pid)
    image_seed = store.image_vectors([pid]).get(pid) if modality != "text" else None
    used = modality
    if modality != "text" and image_seed is None:
        used = "text"  # the product has no image vector
    if text_seed is None:  # only after a concurrent delete: the index knew it, the store no longer does
        raise unknown_ids_error([pid], index.ids)

    eligible = _with_excluded(filters, [pid])
    mask = index.mask(eligible)
    pool_n = max(POOL, 5 * k)
    pool: dict[str, None] = {}
    rankings: list[list[str]] = []
    if used in ("text", "fused"):  # (HNSW or an exact pass over the mask, by the filter's shape: dense.py)
        rankings.append([index.ids[r] for r in nearest_rows(index, text_seed, pool_n, mask)[0]])
    if used in ("image", "fused") and image_seed is not None:
        rankings.append([i for i, _ in nearest_images(index, image_seed, pool_n, mask, eligible)])
    for r in rankings:
        pool.update((i, None) for i in r)
    ids = [i for i in pool if i in index.pos and mask[index.pos[i]]]

    text_cos = _cosines(text_seed, index.text_vectors(ids), ids) if used != "image" else {}
    image_cos = _cosines(image_seed, store.image_vectors(ids), ids) if image_seed is not None else {}
    note = ""
    if used == "text":
        scores = text_cos
    elif used == "image":
        scores = image_cos
    else:
        scores, note = _fused_scores(index, pid, ids, fusion, text_cos, image_cos)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], index.pos[kv[0]]))[:k]
    cards = _cards(index, ranked)

    label = {"fused": f"{fusion} fusion of text+image", "text": "text", "image": "image"}[used]
    trace = f"similar to {pid} by {label}{_cond(filters)}: {len(cards)} of {int(mask.sum())} products"
    if used != modality:
        trace += f" ({pid} has no image, so text similarity was used)"
    if note:
        trace += f"; {note}"
    if not cards:
        trace += "; nothing else meets these constraints, drop one to see more"
    return SearchResult(cards=cards, trace=trace, filters=filters)


# -- for you ---------------------------------------------------------------------------------------------
def user_vector(index: CatalogIndex, interactions: Sequence[Interaction], *,
                half_life_s: float | None = None) -> np.ndarray | None:
    """The seed's user vector: sum of EVENT_WEIGHTS[event] * text vector over the interactions, normalised.

    Dislikes and rejections carry negative weight, so they push the vector away from those products.
    Recency decay is optional: with `half_life_s`, an interaction's weight halves for every `half_life_s`
    seconds it lies before the newest one. Products no longer in the catalog are skipped. Returns None when
    nothing positive is left (no history, or only dislikes): there is no taste to rank by, only exclusions.
    """
    if half_life_s is not None and half_life_s <= 0:
        raise ToolError(f"half_life_s={half_life_s} must be positive seconds, or None for no decay.")
    vectors = index.text_vectors(list(dict.fromkeys(i.product_id for i in interactions)))
    newest = max((i.ts for i in interactions), default=0.0)
    weights: Counter[str] = Counter()
    for it in interactions:
        if it.product_id not in vectors:
            continue
        w = EVENT_WEIGHTS[it.event]
        if half_life_s is not None:
            w *= 0.5 ** ((newest - it.ts) / half_life_s)
        weights[it.product_id] += w
    if not any(w > 0 for w in weights.values()):
        return None
    total = sum((w * vectors[pid] for pid, w in weights.items()), np.zeros_like(next(iter(vectors.values()))))
    norm = float(np.linalg.norm(total))
    return None if norm == 0 or not math.isfinite(norm) else (total / norm).astype(np.float32)


def mmr(candidate_ids: Sequence[str], relevance: Sequence[float] | np.ndarray, item_vectors: np.ndarray, k: int,
        lambda_: float) -> list[str]:
    """Maximal marginal relevance: greedily pick `k` ids maximising λ·relevance − (1−λ)·max cos to the picked.

    `item_vectors` is (n, d), row i the unit vector of `candidate_ids[i]`. λ=1 is plain relevance order;
    lower λ trades relevance for variety, pushing near-duplicates of already picked items down.
    """
    n = len(candidate_ids)
    if len(relevance) != n or item_vectors.shape[0] != n:
        raise ValueError(f"mmr needs one relevance and one vector per candidate; got {n} ids, "
                         f"{len(relevance)} scores, {item_vectors.shape[0]} vectors")
    rel = np.asarray(relevance, dtype=np.float64)
    vecs = np.asarray(item_vectors, dtype=np.float64)
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)  # max cosine of each candidate to the picked set
    free = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = np.where(free, lambda_ * rel - (1 - lambda_) * penalty, -np.inf)
        j = int(np.argmax(score))  # ties: the earlier (more relevant) candidate
        chosen.append(j)
        free[j] = False
        max_sim = np.maximum(max_sim, vecs @ vecs[j])
    return [candidate_ids[j] for j in chosen]


def _describe_history(interactions: Sequence[Interaction]) -> str:
    counts = Counter(i.event for i in interactions)
    return ", ".join(f"{n} {e}" for e, n in counts.most_common())


def _fallback(index: CatalogIndex, filters: Filters, k: int) -> list[tuple[str, float]]:
    """No taste to rank by: in-stock products, round-robin over categories (largest first), most stock first."""
    mask = index.mask(filters)
    by_cat: dict[str, list[int]] = {}
    for i in np.flatnonzero(mask):
        by_cat.setdefault(index.meta[i].get("category", ""), []).append(int(i))

    def key(i: int) -> tuple[int, int, int]:
        m = index.meta[i]
        return (0 if m.get("in_stock", True) else 1, -int(m.get("stock", -1)), i)

    queues = [sorted(v, key=key) for _, v in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    picked: list[tuple[str, float]] = []
    depth = 0
    while len(picked) < k and any(depth < len(q) for q in queues):
        picked += [(index.ids[q[depth]], 0.0) for q in queues if depth < len(q)]
        depth += 1
    return picked[:k]


def recommend_for_user(index: CatalogIndex, interactions: Sequence[Interaction], *, k: int = 10,
                       filters: Filters = Filters(), diversity: float = 0.3, half_life_s: float | None = None,
                       exclude_seen: bool = False) -> SearchResult:
    """Products for this shopper: cosine to their user vector, bought/disliked left out, MMR with λ = 1 − diversity.

    Viewed, clicked, liked and carted products stay eligible (the shopper may still buy them) unless
    `exclude_seen` is set ("show me something else"); `half_life_s` is passed to `user_vector`.

    With no usable history, falls back to in-stock picks spread across categories (the trace says so; the
    catalog has no sales figures, so these are not "best sellers").
    """
    _check_k(k)
    if not 0.0 <= diversity <= 1.0:
        raise ToolError(f"diversity={diversity} is out of range. Use a number from 0 (pure relevance) to 1.")
    index.refresh()
    excluded = [i.product_id for i in interactions if exclude_seen or i.event in _EXCLUDING_EVENTS]
    known_excluded, _ = resolve_ids(index, excluded)
    eligible = _with_excluded(filters, known_excluded)
    mask = index.mask(eligible)
    n_eligible = int(mask.sum())
    what = "already seen" if exclude_seen else "bought/disliked"
    skip = f"; {len(known_excluded)} {what} left out" if known_excluded else ""
    uvec = user_vector(index, interactions, half_life_s=half_life_s)

    if uvec is None:
        ranked = _fallback(index, eligible, k)
        n_cat = len({index.meta[index.pos[i]].get("category", "") for i, _ in ranked})
        why = "no history yet" if not interactions else "no liked or viewed products yet"
        trace = (f"for you{_cond(filters)}: {why}, so in-stock picks across {n_cat} categories "
                 f"(not personalised): {len(ranked)} of {n_eligible} products{skip}")
        return SearchResult(cards=_cards(index, ranked), trace=trace, filters=filters)

    ids = [index.ids[r] for r in nearest_rows(index, uvec, max(POOL, 5 * k), mask)[0]]
    vectors = index.text_vectors(ids)
    ids = [i for i in ids if i in vectors]
    relevance = np.array([float(vectors[i] @ uvec) for i in ids], dtype=np.float64)
    lam = 1.0 - diversity
    mat = np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, uvec.shape[0]), dtype=np.float32)
    order = mmr(ids, relevance, mat, k, lam)
    rel = dict(zip(ids, relevance.tolist(), strict=True))
    ranked = [(i, rel[i]) for i in order]
    trace = (f"for you from {len(interactions)} interactions ({_describe_history(interactions)}){_cond(filters)}, "
             f"MMR λ={lam:.2f}: {len(ranked)} of {n_eligible} products{skip}")
    if not ranked:
        trace += "; nothing meets these constraints, drop one to see more"
    return SearchResult(cards=_cards(index, ranked), trace=trace, filters=filters)
