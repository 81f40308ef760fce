"""Closed vocabularies shared by ingest and query understanding: colours (zh/en) and size words."""

from __future__ import annotations

import re

__all__ = ["COLORS", "color_names_en", "colors_in_text", "normalize_color", "split_values", "strip_colors"]

# canonical Chinese colour -> synonyms (Chinese and English, lower case). Order matters for matching:
# longer synonyms are tried first, so "酒红" is red and "米白" is beige rather than white.
COLORS: dict[str, tuple[str, ...]] = {
    "红色": ("红色", "大红", "酒红", "枣红", "红", "red", "crimson", "burgundy"),
    "蓝色": ("蓝色", "藏青", "天蓝", "宝蓝", "海军蓝", "蓝", "blue", "navy"),
    "黑色": ("黑色", "黑", "black"),
    "白色": ("白色", "纯白", "白", "white"),
    "绿色": ("绿色", "墨绿", "军绿", "绿", "green", "olive"),
    "黄色": ("黄色", "明黄", "黄", "yellow"),
    "粉色": ("粉色", "粉红", "粉", "pink"),
    "紫色": ("紫色", "紫", "purple", "violet"),
    "灰色": ("灰色", "深灰", "浅灰", "灰", "grey", "gray"),
    "棕色": ("棕色", "咖啡色", "驼色", "褐色", "棕", "brown", "camel", "coffee"),
    "橙色": ("橙色", "橘色", "橙", "orange"),
    "米色": ("米色", "米白", "杏色", "卡其", "beige", "khaki", "cream"),
    "金色": ("金色", "gold", "golden"),
    "银色": ("银色", "silver"),
}
_EN = {
    "红色": "red", "蓝色": "blue", "黑色": "black", "白色": "white", "绿色": "green", "黄色": "yellow",
    "粉色": "pink", "紫色": "purple", "灰色": "grey", "棕色": "brown", "橙色": "orange", "米色": "beige",
    "金色": "gold", "银色": "silver",
}
_SYNONYMS: list[tuple[str, str]] = sorted(
    ((syn, canon) for canon, syns in COLORS.items() for syn in syns), key=lambda p: -len(p[0])
)
_LATIN = re.compile(r"[a-z]")


def normalize_color(value: str) -> str | None:
    """Map a colour word ("Red", "酒红", "红色") to its canonical Chinese name, or None if unknown."""
    v = value.strip().lower()
    if not v:
        return None
    for syn, canon in _SYNONYMS:
        if v == syn:
            return canon
    found = colors_in_text(v)
    return found[0] if len(found) == 1 else None


# Words where a colour word names a thing, not a colour (绿茶 is a tea, "black pepper" a spice).
_NOT_COLOURS = ("网红", "红包", "红枣", "红茶", "绿茶", "白茶", "黑茶", "红酒", "白酒", "黄酒", "红薯", "黑米",
                "白糖", "红糖", "黑巧", "白巧", "白领", "黑科技", "金属", "银行", "黄金周", "米饭",
                "灰尘", "口红", "粉底", "白噪音", "蓝牙", "蓝光", "白兰地", "黑胶", "红外", "紫外", "绿植", "粉丝",
                "米线", "米粉", "米面", "白板", "黑板", "青春", "金额", "洗衣粉", "奶粉", "面粉", "花粉", "粉末",
                "粉尘", "藕粉", "蛋白粉", "爽身粉", "咖啡粉", "辣椒粉", "淀粉", "粉条", "粉碎", "红豆", "绿豆", "黑豆",
                "黄豆", "白菜", "黄瓜", "紫菜", "黑木耳", "白发", "黑头", "绿化",
                "green tea", "black tea", "white tea", "red wine", "white wine", "black pepper", "white pepper",
                "white rice", "black friday", "white noise", "dark chocolate", "white chocolate")


def colors_in_text(text: str) -> list[str]:
    """Canonical colours mentioned in free text, in order of first mention, without repeats.

    English names match as whole words only ("red" in "bored" does not count); Chinese single-character
    synonyms ("红") only count next to a colour-ish context, i.e. we accept them everywhere except inside
    the few common words where they are not colours (e.g. "网红", "红包", "白领").
    """
    t = text.lower()
    for noise in _NOT_COLOURS:
        t = t.replace(noise, " " * len(noise))
    hits: list[tuple[int, str]] = []
    taken = [False] * len(t)
    for syn, canon in _SYNONYMS:
        pattern = rf"(?<![a-z]){re.escape(syn)}(?![a-z])" if _LATIN.search(syn) else re.escape(syn)
        for m in re.finditer(pattern, t):
            if any(taken[m.start():m.end()]):
                continue
            for i in range(m.start(), m.end()):
                taken[i] = True
            hits.append((m.start(), canon))
    out: list[str] = []
    for _, canon in sorted(hits):
        if canon not in out:
            out.append(canon)
    return out


def strip_colors(text: str) -> str:
    """The text with every colour word blanked out ("黑色的双肩包" -> "  的双肩包")."""
    t = text.lower()
    for syn, _ in _SYNONYMS:
        pattern = rf"(?<![a-z]){re.escape(syn)}(?![a-z])" if _LATIN.search(syn) else re.escape(syn)
        t = re.sub(pattern, " ", t)
    return t


def color_names_en(canonical: str) -> str:
    """English name of a canonical colour ("红色" -> "red")."""
    return _EN.get(canonical, canonical)


def split_values(value: str) -> list[str]:
    """Split a multi-valued attribute ("红色/蓝色", "S, M, L") into its values."""
    return [p.strip() for p in re.split(r"[/|,，、;；]", value) if p.strip()]
