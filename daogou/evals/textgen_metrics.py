"""Generated-text metrics: ROUGE-1/2/L (F1) and BLEU-4, over Chinese characters (and English words).

Tokens (`text_tokens`): every CJK character is one token; a run of Latin letters or digits is one token
(lower-cased); punctuation and whitespace are dropped. `word_tokens` is the alternative used by the
published ChatGLM AdvertiseGen figures: jieba words (`jieba.lcut`), punctuation dropped.

- ROUGE-N F1 = 2PR/(P+R), P = clipped n-gram overlap / hypothesis n-grams, R = overlap / reference n-grams.
- ROUGE-L F1 from the longest common subsequence: P = LCS/|hyp|, R = LCS/|ref|.
- BLEU-4 (sentence level, one reference): brevity penalty × geometric mean of the clipped 1..4-gram
  precisions, with NLTK's smoothing "method3" (NIST geometric smoothing: the k-th precision with no match
  counts as 1 / (2^k · its n-gram total)); the corpus figure is the mean of the sentence scores, as in the
  ChatGLM P-Tuning v2 evaluation. All scores are in [0, 1]; reports show them ×100.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bleu4", "lcs_length", "rouge_l", "rouge_n", "score_pair", "text_tokens", "word_tokens"]

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+(?:['.][A-Za-z0-9]+)*")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


def text_tokens(text: str) -> list[str]:
    """CJK characters one by one, Latin/digit runs as words (lower-cased); punctuation and spaces dropped."""
    return [t.lower() for t in _TOKEN.findall(text)]


def word_tokens(text: str) -> list[str]:
    """jieba words of `text` (lower-cased), punctuation and whitespace dropped."""
    import jieba

    return [w.lower() for w in jieba.lcut(text) if _WORDLIKE.search(w)]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _f1(overlap: float, hyp_total: float, ref_total: float) -> float:
    if overlap <= 0 or hyp_total <= 0 or ref_total <= 0:
        return 0.0
    p, r = overlap / hyp_total, overlap / ref_total
    return 2 * p * r / (p + r)


def rouge_n(hyp: Sequence[str], ref: Sequence[str], n: int) -> float:
    """ROUGE-N F1 of token lists (clipped n-gram counts); 0.0 when either side has no n-gram."""
    if n < 1:
        raise ValueError(f"n={n} must be >= 1 (ROUGE-1, ROUGE-2, ...)")
    h, r = _ngrams(hyp, n), _ngrams(ref, n)
    return _f1(sum((h & r).values()), sum(h.values()), sum(r.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(|a|·|b|) time, O(|b|) memory)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """ROUGE-L F1 (LCS-based, beta = 1)."""
    return _f1(lcs_length(hyp, ref), len(hyp), len(ref))


def bleu4(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """Sentence BLEU-4 against one reference, NLTK smoothing method3; 0.0 for an empty hypothesis."""
    if not hyp or not ref:
        return 0.0
    log_p, k = 0.0, 0
    for n in range(1, 5):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        total = max(1, sum(h.values()))  # NLTK's denominator: at least 1 (a hypothesis shorter than n)
        matched = sum((h & r).values())
        if matched == 0 and n == 1:
            return 0.0  # NLTK: no unigram in common scores 0 whatever the smoothing
        if matched == 0:
            k += 1  # method3: the k-th zero precision becomes 1 / (2^k * total)
            log_p += math.log(1 / (2 ** k * total))
        else:
            log_p += math.log(matched / total)
    bp = 1.0 if len(hyp) > len(ref) else math.exp(1 - len(ref) / len(hyp))
    return bp * math.exp(log_p / 4)


def score_pair(hyp: str, ref: str) -> dict[str, float]:
    """rouge-1/2/l and bleu-4 over characters, plus rouge-1/2/l over jieba words (`*-word`), each in [0, 1]."""
    h, r = text_tokens(hyp), text_tokens(ref)
    hw, rw = word_tokens(hyp), word_tokens(ref)
    return {"rouge-1": rouge_n(h, r, 1), "rouge-2": rouge_n(h, r, 2), "rouge-l": rouge_l(h, r),
            "bleu-4": bleu4(h, r), "rouge-1-word": rouge_n(hw, rw, 1), "rouge-2-word": rouge_n(hw, rw, 2),
            "rouge-l-word": rouge_l(hw, rw)}
