"""Lexical retrieval: Chinese/English tokenisation and a vectorised Okapi BM25 index over all documents.

`tokenize` turns a product title or a query into index terms; `BM25Index` scores every document for
a query with numpy over term-major postings (CSR layout), so a query over 100k titles takes well under 5 ms.
The index is a pure value: build it from `(ids, token_lists)`, persist it with `to_state()` (plain
lists and numpy arrays) and load it with `BM25Index.from_state()`, or save it to a folder of .npy files
that `BM25Index.load` memory-maps (a restart reads nothing but the term list). `updated(keep, ids,
token_lists)` drops documents and appends new ones without re-tokenising the others, in a few passes over
the postings (scores equal those of an index built from scratch over the same documents).

Tokenisation schemes (measured on the dev split by `bench/retrieval_variants.py`):

- ``"char12"`` (default): CJK runs as character unigrams + bigrams; a Latin/digit run as one token
  plus, when it mixes letters and digits, its letter and digit parts (iphone15 -> iphone15, iphone,
  15, so "iPhone 15" and "iphone15" meet; model numbers such as lf50 reach "LF30/50" style titles).
  Short Taobao queries such as 胜肽口服液 match titles however
  jieba would have cut them, and unknown brand names are not lost to a bad segmentation. Measured:
  BM25 nDCG@10 0.916 with it against 0.790 with jieba ``lcut_for_search`` (0.905 without the parts).
- ``"search"``: jieba ``lcut_for_search`` words; ``"lcut"``: jieba precise mode; ``"cut_all"``: jieba
  full mode.

Every scheme lowercases, applies NFKC (full-width letters and digits become ASCII), drops punctuation
and whitespace, and keeps a decimal point between digits (0.2, 1.5).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_SCHEME", "SCHEMES", "BM25Builder", "BM25Index", "normalize", "tokenize"]

DEFAULT_SCHEME = "char12"

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"  # Han (incl. ext. A, compat.) + kana
# A run of CJK characters, or of other letters/digits (a dot followed by a digit continues it: 0.2, v1.5).
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:\.[0-9][^\W_{_CJK}]*)*")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_PART = re.compile(rf"[0-9]+(?:\.[0-9]+)*|[^\W\d_{_CJK}]+")  # digit (decimal) or letter parts of a run
_WORD_CHAR = re.compile(r"\w", re.UNICODE)

_jieba: Any = None
_CHUNK = 1 << 22  # postings per step when weighting


def _get_jieba() -> Any:
    """Import jieba once, quietly (it logs its dictionary loading at INFO and DEBUG otherwise)."""
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def normalize(text: str) -> str:
    """NFKC + lowercase: full-width ＡＢ１ becomes ab1, ideographic space becomes a space."""
    return unicodedata.normalize("NFKC", text).lower()


def _runs(text: str) -> list[str]:
    """Maximal runs of CJK characters, or of letters/digits (keeping a decimal point between digits)."""
    return _RUN.findall(normalize(text))


def _is_cjk(run: str) -> bool:
    """Whether a run from `_runs` is a CJK run (else a letter/digit run)."""
    return _CJK_CHAR.match(run) is not None


def _char12(text: str) -> list[str]:
    tokens: list[str] = []
    for run in _runs(text):
        if _is_cjk(run):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
            parts = _PART.findall(run)
            if len(parts) > 1:
                tokens.extend(parts)
    return tokens


def _jieba_scheme(mode: str) -> Callable[[str], list[str]]:
    def cut(text: str) -> list[str]:
        jieba = _get_jieba()
        clean = " ".join(_runs(text))
        if mode == "search":
            words = jieba.lcut_for_search(clean)
        elif mode == "cut_all":
            words = jieba.lcut(clean, cut_all=True)
        else:
            words = jieba.lcut(clean)
        return [w for w in words if _WORD_CHAR.search(w)]

    return cut


SCHEMES: dict[str, Callable[[str], list[str]]] = {
    "char12": _char12,
    "search": _jieba_scheme("search"),
    "lcut": _jieba_scheme("lcut"),
    "cut_all": _jieba_scheme("cut_all"),
}


def tokenize(text: str, scheme: str = DEFAULT_SCHEME) -> list[str]:
    """Index terms of `text` under `scheme` (default: CJK char unigrams+bigrams, whole Latin/digit runs).

    >>> tokenize("iPhone15 Pro 手机壳")
    ['iphone15', 'iphone', '15', 'pro', '手', '机', '壳', '手机', '机壳']
    """
    try:
        cut = SCHEMES[scheme]
    except KeyError as e:
        raise ValueError(f"unknown tokenisation scheme {scheme!r}; choose one of {sorted(SCHEMES)}") from e
    return cut(text)


def _postings(vocab: dict[str, int], token_lists: Sequence[Sequence[str]],
              first_doc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term, doc, tf) of each distinct (term, doc) pair of the documents, sorted by term then doc, and the
    documents' lengths; new terms are added to `vocab`, documents are numbered from `first_doc`."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    flat = np.fromiter((vocab.setdefault(tok, len(vocab)) for tokens in token_lists for tok in tokens),
                       dtype=np.int64, count=int(lengths.sum()))
    docs = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    width = max(len(token_lists), 1)
    keys, tf = np.unique(flat * width + docs, return_counts=True)  # one key per (term, doc): term-major
    return ((keys // width).astype(np.int32), (keys % width + first_doc).astype(np.int32), tf.astype(np.float32),
            lengths)


class BM25Builder:
    """Collects documents page by page, then builds one `BM25Index` (a million token lists at once would not fit)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.vocab: dict[str, int] = {}
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, ids: Sequence[str], token_lists: Sequence[Sequence[str]]) -> None:
        """Add documents (one token list per id), after those added before."""
        if len(ids) != len(token_lists):
            raise ValueError(f"{len(ids)} ids but {len(token_lists)} token lists; pass one token list per id")
        self._parts.append(_postings(self.vocab, token_lists, len(self.ids)))
        self.ids += list(ids)

    def build(self, *, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, idf: str = "okapi") -> BM25Index:
        """The index over every document added, in the order added."""
        index = BM25Index.__new__(BM25Index)
        self.fill(index, k1=k1, b=b, epsilon=epsilon, idf=idf)
        return index

    def fill(self, index: BM25Index, *, k1: float, b: float, epsilon: float, idf: str) -> None:
        """Set `index`'s arrays from the documents added (what `build` and `BM25Index()` do)."""
        if len(set(self.ids)) != len(self.ids):
            dup = next(i for i, c in Counter(self.ids).items() if c > 1)
            raise ValueError(f"duplicate document id {dup!r}; ids must be unique")
        parts = self._parts or [_postings({}, [], 0)]
        terms = np.concatenate([p[0] for p in parts])
        # stable: within a term, pages in order and documents ascending inside a page -> documents ascending
        order = np.argsort(terms, kind="stable") if len(parts) > 1 else slice(None)
        index.ids = self.ids
        index.vocab = self.vocab
        index.indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)  # postings of term t: indptr[t]:indptr[t+1]
        np.cumsum(np.bincount(terms, minlength=len(self.vocab)), out=index.indptr[1:])
        index.doc_idx = np.concatenate([p[1] for p in parts])[order]
        index.tf = np.concatenate([p[2] for p in parts])[order]
        index.doc_len = np.concatenate([p[3] for p in parts]).astype(np.float64)
        index._params(k1=k1, b=b, epsilon=epsilon, idf=idf)


class BM25Index:
    """Okapi BM25 over a fixed set of documents, scored for all documents at once with numpy.

    Scores equal `rank_bm25.BM25Okapi` (same idf with its floor for very common terms, same saturation,
    repeated query terms counted each time) when ``idf="okapi"``; ``idf="lucene"`` uses
    ``log(1 + (N - n + 0.5) / (n + 0.5))``, which is never negative.

    >>> docs = [["红", "裙"], ["蓝", "裙"], ["蓝", "鞋"], ["白", "鞋"], ["白", "帽"]]
    >>> index = BM25Index(["a", "b", "c", "d", "e"], docs)
    >>> print(index.scores(["红", "裙"], normalized=False).round(3))
    [1.435 0.336 0.    0.    0.   ]
    >>> print(index.scores(["红", "裙"]).round(3))  # the default: share of the query matched
    [1.    0.234 0.    0.    0.   ]
    """

    def __init__(
        self,
        ids: Sequence[str],
        token_lists: Sequence[Sequence[str]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        idf: str = "okapi",
    ) -> None:
        builder = BM25Builder()
        builder.add(ids, token_lists)
        builder.fill(self, k1=k1, b=b, epsilon=epsilon, idf=idf)

    def _params(self, *, k1: float, b: float, epsilon: float, idf: str) -> None:
        """Set the BM25 parameters and precompute each posting's weight (idf x saturated tf)."""
        if idf not in ("okapi", "lucene"):
            raise ValueError(f"idf={idf!r} is not supported; choose 'okapi' or 'lucene'")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"k1={k1!r}, b={b!r}: need k1 >= 0 and 0 <= b <= 1 (usual: k1=1.5, b=0.75)")
        self.k1, self.b, self.epsilon, self.idf_kind = float(k1), float(b), float(epsilon), idf
        n_docs = len(self.ids)
        df = np.diff(self.indptr).astype(np.float64)
        if idf == "lucene":
            self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        else:
            self.idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
            if len(df):  # rank_bm25's floor: a negative idf becomes epsilon x the mean idf; so does a zero one
                # (a term in exactly half the documents: rank_bm25 scores it 0, so "连衣裙" in a shop where half the
                # titles say it would match nothing at all)
                self.idf[self.idf <= 0] = self.epsilon * float(self.idf.mean())
        avgdl = float(self.doc_len.mean()) if n_docs else 0.0
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / avgdl) if avgdl > 0 else np.full(n_docs, k1)
        term_of_posting = np.repeat(np.arange(len(df), dtype=np.int32), np.diff(self.indptr))
        self._weights = np.empty(len(self.tf), dtype=np.float32)
        for lo in range(0, len(self.tf), _CHUNK):  # in chunks: a million documents hold ~100M postings
            hi = lo + _CHUNK
            tf = np.asarray(self.tf[lo:hi], dtype=np.float64)
            denom = tf + norm[self.doc_idx[lo:hi]]
            sat = np.divide(tf * (self.k1 + 1), denom, out=np.zeros_like(tf), where=denom > 0)
            self._weights[lo:hi] = self.idf[term_of_posting[lo:hi]] * sat

    def __len__(self) -> int:
        return len(self.ids)

    def query_weight(self, query_tokens: Sequence[str]) -> float:
        """Sum of the idf of the query's known terms (repeats counted): the BM25 score of an
        average-length document that holds each query term once. 0.0 when no term is known."""
        known = [self.vocab[t] for t in query_tokens if t in self.vocab]
        return float(self.idf[known].sum()) if known else 0.0

    def scores(self, query_tokens: Sequence[str], *, normalized: bool = True) -> np.ndarray:
        """Score of every document for the query, shape (n_docs,), float32; unknown terms add 0.

        By default the BM25 scores are divided by `query_weight`, so they read as the share of the
        query a document matches (about 1.0 for a full match, comparable across queries): the
        lexical input `daogou.tools.fusion.fuse_scores` expects. The order of the documents is the
        same as BM25's; ``normalized=False`` gives the plain Okapi BM25 scores.
        """
        out = np.zeros(len(self.ids), dtype=np.float32)
        for term, count in Counter(query_tokens).items():
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            # A term's postings hold each document at most once, so fancy-index += is exact.
            out[self.doc_idx[lo:hi]] += count * self._weights[lo:hi]
        if normalized:
            weight = self.query_weight(query_tokens)
            if weight > 0:
                out /= np.float32(weight)
        return out

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The k best `(id, score)` pairs with a positive score, best first (ties by index order)."""
        s = self.scores(query_tokens)
        hits = np.flatnonzero(s > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-s[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -s[hits]))]
        return [(self.ids[i], float(s[i])) for i in hits]

    def updated(self, keep: np.ndarray, ids: Sequence[str], token_lists: Sequence[Sequence[str]]) -> BM25Index:
        """A new index: the documents where `keep` is True (in their order), then the new ones appended.

        Postings of the kept documents are moved, not rebuilt: no document is re-tokenised. Terms left with
        no document are dropped, so the scores equal those of `BM25Index(kept ids + ids, kept tokens +
        token_lists)` with the same parameters.
        """
        keep = np.asarray(keep, dtype=bool)
        if len(keep) != len(self.ids):
            raise ValueError(f"keep has {len(keep)} entries for {len(self.ids)} documents; pass one per document")
        if len(ids) != len(token_lists):
            raise ValueError(f"{len(ids)} ids but {len(token_lists)} token lists; pass one token list per id")
        kept_ids = [pid for pid, k in zip(self.ids, keep, strict=True) if k]
        new = BM25Index.__new__(BM25Index)
        new.ids = kept_ids + list(ids)
        if len(set(new.ids)) != len(new.ids):
            dup = next(i for i, c in Counter(new.ids).items() if c > 1)
            raise ValueError(f"duplicate document id {dup!r}; drop the old document (keep=False) before adding it")
        n_kept = len(kept_ids)
        remap = np.cumsum(keep, dtype=np.int64) - 1  # old row -> new row (for kept rows)
        # kept postings, still term-major and doc-ascending (remap is monotonic)
        term_of = np.repeat(np.arange(len(self.vocab), dtype=np.int32), np.diff(self.indptr))
        live = keep[self.doc_idx] if len(self.doc_idx) else np.zeros(0, dtype=bool)
        k_term, k_doc, k_tf = term_of[live], remap[self.doc_idx[live]].astype(np.int32), self.tf[live]
        del term_of, live
        vocab = dict(self.vocab)
        n_term, n_doc, n_tf, lengths = _postings(vocab, token_lists, n_kept)  # sorted by (term, doc)
        n_terms = len(vocab)
        k_count = np.bincount(k_term, minlength=n_terms)
        n_count = np.bincount(n_term, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(k_count + n_count, out=indptr[1:])
        k_start = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(k_count, out=k_start[1:])
        n_start = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(n_count, out=n_start[1:])
        # a kept posting of term t goes to indptr[t] + its rank among t's kept postings; new ones follow them
        k_dest = np.arange(len(k_term), dtype=np.int64) + (indptr[:-1] - k_start[:-1])[k_term]
        n_dest = np.arange(len(n_term), dtype=np.int64) + (indptr[:-1] + k_count - n_start[:-1])[n_term]
        doc_idx = np.empty(int(indptr[-1]), dtype=np.int32)
        tf = np.empty(int(indptr[-1]), dtype=np.float32)
        doc_idx[k_dest], doc_idx[n_dest] = k_doc, n_doc
        tf[k_dest], tf[n_dest] = k_tf, n_tf
        df = np.diff(indptr)
        if (df == 0).any():  # terms no document holds any more: drop them (ids stay in order)
            alive = df > 0
            terms = [""] * n_terms
            for term, t in vocab.items():
                terms[t] = term
            vocab = {term: j for j, term in enumerate(t for t, a in zip(terms, alive, strict=True) if a)}
            indptr = np.concatenate([[0], np.cumsum(df[alive])]).astype(np.int64)
        new.vocab, new.indptr, new.doc_idx, new.tf = vocab, indptr, doc_idx, tf
        new.doc_len = np.concatenate([np.asarray(self.doc_len)[keep], lengths.astype(np.float64)])
        new._params(k1=self.k1, b=self.b, epsilon=self.epsilon, idf=self.idf_kind)
        return new

    _ARRAYS = ("indptr", "doc_idx", "tf", "doc_len", "idf", "_weights")

    def save(self, folder: Path) -> None:
        """Write the index to `folder` (created): .npy arrays that `load` memory-maps, terms and parameters as JSON.
        The ids are not written: the caller keeps them (the catalog index stores them once for all its parts)."""
        folder.mkdir(parents=True, exist_ok=True)
        terms = [""] * len(self.vocab)
        for term, t in self.vocab.items():
            terms[t] = term
        for name in self._ARRAYS:
            np.save(folder / f"bm25{name}.npy", np.asarray(getattr(self, name)))
        meta = {"version": 1, "terms": terms,
                "params": {"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "idf": self.idf_kind}}
        (folder / "bm25.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, ids: list[str], *, mmap: bool = True) -> BM25Index:
        """An index written by `save`, over `ids` (the same documents, in the same order); arrays memory-mapped."""
        meta = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        if meta.get("version") != 1:
            raise ValueError(f"BM25 files in {folder} have version {meta.get('version')!r}; rebuild the index")
        self = cls.__new__(cls)
        self.ids = ids
        self.vocab = {str(term): t for t, term in enumerate(meta["terms"])}
        for name in cls._ARRAYS:
            setattr(self, name, np.load(folder / f"bm25{name}.npy", mmap_mode="r" if mmap else None))
        p = meta["params"]
        self.k1, self.b, self.epsilon, self.idf_kind = float(p["k1"]), float(p["b"]), float(p["epsilon"]), p["idf"]
        if len(self.indptr) != len(self.vocab) + 1 or len(self.doc_len) != len(ids):
            raise ValueError(f"BM25 files in {folder} disagree with {len(ids)} documents; rebuild the index")
        return self

    def to_state(self) -> dict[str, Any]:
        """Plain lists/arrays that `from_state` turns back into an equal index (for np.savez / JSON)."""
        terms = [""] * len(self.vocab)
        for term, t in self.vocab.items():
            terms[t] = term
        return {
            "version": 1,
            "ids": list(self.ids),
            "terms": terms,
            "indptr": self.indptr,
            "doc_idx": self.doc_idx,
            "tf": self.tf,
            "doc_len": self.doc_len,
            "params": {"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "idf": self.idf_kind},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BM25Index:
        """Rebuild an index saved with `to_state` (arrays may come back as lists)."""
        if state.get("version") != 1:
            version = state.get("version")
            raise ValueError(f"BM25 state version {version!r} is not supported; rebuild the index")
        self = cls.__new__(cls)
        self.ids = [str(i) for i in state["ids"]]
        self.vocab = {str(term): t for t, term in enumerate(state["terms"])}
        self.indptr = np.asarray(state["indptr"], dtype=np.int64)
        self.doc_idx = np.asarray(state["doc_idx"], dtype=np.int32)
        self.tf = np.asarray(state["tf"], dtype=np.float32)
        self.doc_len = np.asarray(state["doc_len"], dtype=np.float64)
        if len(self.indptr) != len(self.vocab) + 1 or len(self.doc_len) != len(self.ids):
            raise ValueError("BM25 state is inconsistent (array lengths disagree); rebuild the index")
        p = state["params"]
        self._params(k1=float(p["k1"]), b=float(p["b"]), epsilon=float(p["epsilon"]), idf=str(p["idf"]))
        return self
