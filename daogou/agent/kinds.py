"""Which kind of product a shopper's words name, and whether this catalog sells it.

Chinese: the words are cut by jieba with parts of speech; the kind is the last noun that is not a person, a
place, a generic word ("东西", "办法") or an attribute being asked about ("材质"), widened to the left while the
longer phrase is written in some title ("学习" + "桌椅" -> "学习桌椅"). English: the head of the noun phrase
(`Vocabulary.head_term`), the words before "for/in/with ..." ("a cutting board for my new flat").

A kind is *sold* when some product is of it: named in the catalog's categories, tags or types, or written in a
title as the head of a word, not as the modifier of another one, and not mostly as the thing a part, cover or
holder serves (`daogou.tools.title_heads`: "空调罩" is a cover, not an air conditioner, even in a title that
also ends "卧室空调3"; "吹风机架" a holder). `kind_of` tells what the words ask for and whether it is sold, so
that "有空调卖吗？" in a shop that only sells air-conditioner covers is answered plainly: we don't sell air
conditioners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from daogou.ingest.vocab import colors_in_text, strip_colors
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.facts import CONCEPTS
from daogou.tools.title_heads import is_head_kind
from daogou.tools.vocabulary import Vocabulary, title_terms

__all__ = ["Kind", "best_lexical", "in_some_title", "kind_of", "sold_as_kind"]

_CJK = re.compile(r"[\u3400-\u9fff]")
# nouns that never name a kind of product
_GENERIC = frozenset(
    "东西 东东 办法 方法 问题 时候 家里 家 产品 商品 宝贝 款式 样子 推荐 礼物 生日礼物 礼品 预算 价格 价钱 颜色 尺码 码 码数 "
    "什么 最近 今天 明天 冬天 夏天 春天 秋天 天气 时间 事情 地方 东家 店 店里 本店 你们 我们 款 种 个 件 些 一下 样 效果 质量 "
    "功能 作用 用途 感觉 品牌 牌子 型号 价位 类型 风格 版本 文案 介绍 详情 参数 区别 朋友圈 小红书 卖点 标题".split())
_PEOPLE = frozenset(
    "人 孩子 小孩 小朋友 宝宝 儿童 老人 老年人 长辈 妈 妈妈 母亲 老妈 爸 爸爸 父亲 老爸 爸妈 父母 女朋友 男朋友 对象 老婆 老公 媳妇 "
    "朋友 闺蜜 同事 老师 学生 家人 儿子 女儿 侄子 外甥 孙子 孙女 爷爷 奶奶 外公 外婆 自己 我 你 他 她 它 小学 中学 大学 幼儿园 "
    "男生 女生 男士 女士 先生 女人 男人".split())
# ways of saying "a kind of thing" that the catalog may leave out ("茶叶" -> "茶")
_GENERIC_SUFFIXES = ("用品", "产品", "类", "叶", "品")
# jieba parts of speech that are not nouns (verbs, adverbs, pronouns, particles, numbers, places, times ...);
# anything else may name a thing (jieba tags "抱枕" as an idiom, brand-new words as unknown)
_NOT_NOUN = ("v", "d", "r", "p", "c", "u", "y", "m", "q", "f", "t", "s", "x", "e", "o", "z", "a", "b", "h", "k")
_BUY = re.compile(r"(有没有|有卖|卖不卖|卖吗|有.{0,12}[吗么卖]|买|要|找|看看|想要|来一?[个台件]|do you (have|sell|carry|stock)|"
                  r"\bsell\b|\bbuy\b|looking for|\bany\b|show me|i want|i need|got any)", re.I)


@cache
def _asked_words() -> frozenset[str]:
    """Words that name what is asked about a product (材质, 口味, warranty ...), from the answer concepts."""
    return frozenset(c for concept in CONCEPTS for c in concept.cues if _CJK.search(c))


@dataclass(frozen=True)
class Kind:
    """What the words name: the kind phrase, whether the catalog sells it, and whether the words ask to buy it."""

    phrase: str  # as the shopper said it
    sold: str | None  # as the catalog sells it ("茶" for "茶叶"), None when it does not
    buying: bool  # "有没有X", "do you sell X": a request for X itself (so an absent X is said plainly)


def _zh_nouns(text: str) -> list[tuple[int, str]]:
    import jieba.posseg as pseg

    tokens = [(w, f) for w, f in pseg.lcut(text)]
    out = []
    for i, (w, f) in enumerate(tokens):
        if f.startswith(_NOT_NOUN) or w in _GENERIC or w in _PEOPLE or w in _asked_words() or not _CJK.search(w):
            continue
        if colors_in_text(w) and len(strip_colors(w).strip()) < 2:
            continue  # "蓝色的抱枕": the colour is a filter, not the kind
        out.append((i, w))
    return out


def _zh_kind(text: str, index: CatalogIndex) -> str | None:
    """The Chinese kind phrase of the text (see the module docstring), or None."""
    import jieba.posseg as pseg

    tokens = [w for w, _ in pseg.lcut(text)]
    nouns = _zh_nouns(text)
    if not nouns:
        return None
    i, kind = nouns[-1]
    j = i
    while j > 0 and _CJK.search(tokens[j - 1]) and tokens[j - 1] not in _GENERIC | _PEOPLE \
            and not colors_in_text(tokens[j - 1]):
        wider = tokens[j - 1] + kind
        if not _in_some_title(wider, index):
            break
        kind, j = wider, j - 1
    if len(kind) < 2:
        return None
    return kind


def best_lexical(index: CatalogIndex, text: str, top: int) -> list[int]:
    """Rows of the `top` best lexical matches of `text`, best first (a partial sort: cheap at a million rows)."""
    scores = index.lexical_scores(text)
    if not len(scores):
        return []
    top = min(top, len(scores))
    part = np.argpartition(-scores, top - 1)[:top]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")] if scores[int(i)] > 0]


def _in_some_title(phrase: str, index: CatalogIndex, top: int = 30) -> bool:
    return any(phrase.lower() in index.title_of(i).lower() for i in best_lexical(index, phrase, top))


def sold_as_kind(phrase: str, index: CatalogIndex, top: int = 30) -> str | None:
    """The form in which the catalog sells products of kind `phrase` ("茶叶" -> "茶" when it sells 陈皮茶), or None
    when it sells none (see the module docstring)."""
    vocab = index.vocabulary
    low = phrase.strip().lower()
    if not low:
        return None
    named = {k.lower() for k in (*vocab.categories, *vocab.tags, *vocab.kinds)}
    if low in named:
        return phrase
    if not _CJK.search(low):
        singular = " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                            for w in low.split())
        terms = title_terms([singular])
        return phrase if terms and terms <= vocab.title_terms else None
    titles = [index.title_of(i) for i in best_lexical(index, phrase, top)]
    if any(is_head_kind(t, low) for t in titles):
        return phrase
    if any(low in v.lower() for values in vocab.attribute_values.values() for v in values):
        return phrase  # "三文鱼" as a flavour of cat food
    for suffix in _GENERIC_SUFFIXES:  # "茶叶" is sold when teas are ("陈皮茶")
        if low.endswith(suffix) and len(low) > len(suffix):
            return sold_as_kind(low[: -len(suffix)], index, top)
    return None


def in_some_title(phrase: str, index: CatalogIndex) -> bool:
    """Whether some title writes `phrase` at all, as a head or as a modifier ("蟑螂" in "蟑螂药")."""
    return _in_some_title(phrase, index)


def kind_of(words: str, text: str, index: CatalogIndex) -> Kind | None:
    """The kind of product `words` (the message without prices, specs and ids) name, or None when they name none.

    `text` is the whole message (for the buying cue).
    """
    vocab: Vocabulary = index.vocabulary
    buying = bool(_BUY.search(text))
    if _CJK.search(words) and (vocab.writes_in(words) or not vocab.product_count):
        phrase = _zh_kind(words, index)
        if phrase:
            return Kind(phrase, sold_as_kind(phrase, index), buying)
    if re.search(r"[A-Za-z]{3,}", words):
        head = vocab.head_term(words)
        if head:
            return Kind(head, head, buying)
        phrase = _en_noun_phrase(words)
        if phrase and vocab.writes_in(phrase):
            return Kind(phrase, sold_as_kind(phrase, index), buying)
    return None


_EN_FILLER = re.compile(r"\b(do|you|have|sell|carry|stock|any|some|a|an|the|i|i'm|im|looking|for|want|need|to|buy|"
                        r"get|got|show|me|please|is|are|there|your|shop|store|here|one|ones|something|anything|"
                        r"cheap|cheaper|good|nice|new|best)\b", re.I)
_EN_MODIFIER = re.compile(r"\s+(for|in|with|under|below|over|from|by|at|around|within|that|which|who|so|because|"
                          r"to|but|please)\b.*$", re.I | re.S)


def _en_noun_phrase(words: str) -> str:
    """The last one or two content words before any modifier clause ("do you sell refrigerators?" ->
    "refrigerators", "any gaming laptops for school" -> "gaming laptops")."""
    head = _EN_MODIFIER.sub("", words.strip().rstrip("?!. "))
    left = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", _EN_FILLER.sub(" ", head)) if len(w) >= 3]
    return " ".join(left[-2:]).lower()
