"""Whether a Chinese title is *of* a kind it writes, or only names it as the thing it fits, covers or holds.

Chinese compounds put the head last: "空调罩" is a cover, "吹风机架" a holder, "电视柜" a cabinet, "手机壳" a
case. A run-together shop title writes the kind it serves as often as the kind it is ("北欧全包空调罩挂式空调防尘套
1.5匹2P卧室空调3"), so a title that writes "空调" is not therefore an air conditioner.

- `head_in`: some occurrence is the head of its word: what follows is not a Chinese character (a space, a digit,
  Latin, the end) or is a neutral ending ("套装", "家用", "男"). Strict: "降噪耳机蓝牙" is not a head.
- `mostly_part`: at least as many occurrences are followed, within a few characters, by a part, cover, holder or
  fitting word ("罩", "防尘套", "直播支架", "沙发背景"), or preceded by "适配/适用/兼容" ("适配华为小米手机"), as are
  not. A title where the kind is mostly the thing served. A kind that is itself a part ("手机壳") never is.
- `of_kind`: the title writes the kind and is not mostly a part of it: what a search keeps for that kind. (Where
  jieba cuts the title was tried as well, to keep "电视" out of "电视频": it cuts "护腰带" as 护 / 腰带, so it
  was left out.)
- `is_head_kind`: `head_in` and not `mostly_part`: the strongest evidence a title is of the kind.

The words are Chinese word formation, not a catalog's vocabulary: they hold for any shop's titles.
"""

from __future__ import annotations

import re

__all__ = ["NEUTRAL_AFTER", "PART_AFTER", "head_in", "is_head_kind", "mostly_part", "of_kind"]

_CJK = re.compile(r"[\u3400-\u9fff]")
# what may follow a kind in a title without making it the modifier of another thing ("桌椅套装", "热水器家用")
NEUTRAL_AFTER = ("套装", "组合", "礼盒", "家用", "系列", "正品", "新款", "男", "女", "儿童", "大", "小",
                 "迷你", "便携", "款", "一", "二", "两", "三", "四", "五", "六", "七", "八", "九", "十", "装", "盒",
                 "包邮", "批发", "专用")
# words that, written just after a kind, make the thing a part, cover, holder or fitting of it
PART_AFTER = ("罩", "套", "架", "壳", "膜", "贴", "座", "托", "垫", "柜", "板", "墙", "背景", "配件", "滤芯", "滤网",
              "遥控", "收纳", "挂钩", "夹", "扣", "刷", "防尘", "标签", "维修", "主板", "清洗", "清洁")
PART_WINDOW = 4  # Chinese characters after the kind that are looked at for a part word
# written shortly before a kind: the thing fits or serves it ("适配华为小米手机" of a phone watch strap)
FOR_BEFORE = ("适配", "适用", "兼容", "配套")
FOR_WINDOW = 10  # characters before the kind that are looked at for those


def _occurrences(title: str, phrase: str) -> list[tuple[str, str]]:
    """(what comes before, what follows) each occurrence of `phrase` in `title` (lower-cased by the caller)."""
    out, start = [], title.find(phrase)
    while start >= 0 and phrase:
        out.append((title[max(0, start - FOR_WINDOW):start], title[start + len(phrase):]))
        start = title.find(phrase, start + 1)
    return out


def _is_head(after: str) -> bool:
    return not after or not _CJK.match(after[0]) or after.startswith(NEUTRAL_AFTER)


def _is_part(before: str, after: str) -> bool:
    if any(w in before for w in FOR_BEFORE):
        return True
    if after.startswith(("套装", "套餐")) or after.startswith(NEUTRAL_AFTER):  # "耳机套装", "吹风机家用"
        return False
    window = ""
    for ch in after[:PART_WINDOW]:
        if not _CJK.match(ch):
            break
        window += ch
    return "套装" not in window and any(p in window for p in PART_AFTER)


def head_in(title: str, phrase: str) -> bool:
    """Whether `phrase` is written in `title` as the head of a word (see the module docstring)."""
    t, p = title.lower(), phrase.strip().lower()
    return any(_is_head(after) for _, after in _occurrences(t, p))


def mostly_part(title: str, phrase: str) -> bool:
    """Whether `title` writes `phrase` mostly as the thing it is a part, cover or holder of (module docstring)."""
    t, p = title.lower(), phrase.strip().lower()
    if p.endswith(PART_AFTER):  # "手机壳" names the part itself: "手机壳保护套", "适用苹果15手机壳" are cases
        return False
    afters = _occurrences(t, p)
    parts = sum(_is_part(b, a) for b, a in afters)
    return parts > 0 and parts >= len(afters) - parts


def of_kind(title: str, phrase: str) -> bool:
    """Whether `title` writes `phrase` and is not mostly a part, cover or holder of it."""
    t, p = title.lower(), phrase.strip().lower()
    return bool(p) and p in t and not mostly_part(t, p)


def is_head_kind(title: str, phrase: str) -> bool:
    """Whether `title` writes `phrase` as the head of a word and not mostly as the thing a part serves."""
    return head_in(title, phrase) and not mostly_part(title, phrase)
