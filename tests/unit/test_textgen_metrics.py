"""ROUGE-1/2/L and BLEU-4 on hand-computed cases, and BLEU-4 against NLTK's sentence_bleu (smoothing method3)."""

import math

import pytest

from daogou.evals.textgen_metrics import bleu4, lcs_length, rouge_l, rouge_n, score_pair, text_tokens, word_tokens

HYP = text_tokens("白色连衣裙")  # 白 色 连 衣 裙
REF = text_tokens("白色的裙子。")  # 白 色 的 裙 子 (punctuation dropped)


def test_tokens_are_cjk_characters_and_latin_words():
    assert HYP == ["白", "色", "连", "衣", "裙"]
    assert REF == ["白", "色", "的", "裙", "子"]
    assert text_tokens("Red Dress, 2 pcs！100%纯棉") == ["red", "dress", "2", "pcs", "100", "纯", "棉"]
    assert text_tokens("  ，。！") == []


def test_word_tokens_use_jieba_and_drop_punctuation():
    words = word_tokens("这款连衣裙很好看。")
    assert "连衣裙" in words and "。" not in words


def test_rouge_hand_computed():
    # unigrams in common: 白 色 裙 -> P = R = 3/5
    assert rouge_n(HYP, REF, 1) == pytest.approx(0.6)
    # bigrams: hyp {白色, 色连, 连衣, 衣裙}, ref {白色, 色的, 的裙, 裙子}: one shared -> P = R = 1/4
    assert rouge_n(HYP, REF, 2) == pytest.approx(0.25)
    # LCS 白色裙 = 3
    assert lcs_length(HYP, REF) == 3
    assert rouge_l(HYP, REF) == pytest.approx(0.6)


def test_rouge_clips_repeated_tokens_and_handles_empty():
    # hyp 好好好好 vs ref 好: overlap min(4, 1) = 1 -> P = 1/4, R = 1 -> F = 2 * 0.25 / 1.25
    assert rouge_n(list("好好好好"), ["好"], 1) == pytest.approx(0.4)
    assert rouge_n([], REF, 1) == 0.0 and rouge_l(HYP, []) == 0.0
    assert rouge_n(["a"], ["a"], 2) == 0.0  # no bigram on either side
    with pytest.raises(ValueError, match="n=0"):
        rouge_n(HYP, REF, 0)


def test_rouge_l_is_not_symmetric_in_length():
    # hyp 3 tokens, ref 6, LCS 3 -> P = 1, R = 1/2 -> F = 2/3
    assert rouge_l(list("abc"), list("aXbYcZ")) == pytest.approx(2 / 3)


def test_bleu4_hand_computed_with_method3_smoothing():
    # p1 = 3/5, p2 = 1/4, p3 = 0/3 -> 1/(2*3), p4 = 0/2 -> 1/(4*2); equal lengths -> BP = 1
    expected = (0.6 * 0.25 * (1 / 6) * (1 / 8)) ** 0.25
    assert bleu4(HYP, REF) == pytest.approx(expected)


def test_bleu4_brevity_penalty_and_edges():
    ref = list("abcdefgh")
    assert bleu4(ref, ref) == pytest.approx(1.0)
    # a 4-token prefix: every precision 1, BP = exp(1 - 8/4)
    assert bleu4(list("abcd"), ref) == pytest.approx(math.exp(1 - 2))
    assert bleu4([], ref) == 0.0
    assert bleu4(list("xyz"), ref) == 0.0  # no unigram in common


@pytest.mark.parametrize(("hyp", "ref"), [
    ("白色连衣裙", "白色的裙子"),
    ("这款外套简约百搭，白色衣身干净利落，刺绣点缀增添看点。",
     "简约而不简单的牛仔外套，白色的衣身十分百搭。衣身后背处有趣味刺绣装饰。"),
    ("显瘦裤，立体剪裁", "这款裤子采用立体剪裁，修饰腿型，显瘦又显高。"),
    ("ab", "abcdef"),
])
def test_bleu4_matches_nltk_sentence_bleu_method3(hyp, ref):
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    h, r = text_tokens(hyp), text_tokens(ref)
    want = nltk_bleu.sentence_bleu([r], h, smoothing_function=nltk_bleu.SmoothingFunction().method3)
    assert bleu4(h, r) == pytest.approx(want)


def test_score_pair_reports_every_metric_in_unit_range():
    s = score_pair("白色连衣裙", "白色的裙子")
    assert set(s) == {"rouge-1", "rouge-2", "rouge-l", "bleu-4", "rouge-1-word", "rouge-2-word", "rouge-l-word"}
    assert all(0.0 <= v <= 1.0 for v in s.values())
    assert score_pair("一样的文案", "一样的文案")["rouge-l"] == pytest.approx(1.0)
