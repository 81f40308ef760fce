"""write_copy: product copy (title, three selling points, description) from catalog facts, checked for grounding.

The prompt (`prompts/copy.yaml`, zh and en, four styles, few-shot examples as data) holds only the
product's catalog facts and asks for five labelled lines, which `parse_copy` reads leniently (full- or
half-width colons, bullets, numbering, markdown bold, either language's labels); output in no recognisable
format is kept whole as the description.

Grounding rule: the copy is cut into units (the title, each selling point, each description sentence).
A unit is removed when it states
  * a number (price, capacity, size, percentage, year …; Arabic digits) whose value appears nowhere in
    the product record (title, description, category, brand, attributes, tags, price), or
  * a colour or a material (closed vocabularies, zh and en) that the record does not mention.
The offending terms are reported in `ungrounded`; a removed title is replaced by the catalog title.
Chinese-numeral quantities ("三件套") and claims in other words ("防水") are not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from daogou.ingest.schema import Product
from daogou.ingest.vocab import colors_in_text
from daogou.prompts import load_prompts, render
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.errors import ToolError, choice_error, resolve_ids, unknown_ids_error
from daogou.tools.facts import LANGS, price_text, product_facts
from daogou.tools.search import ProductCard

__all__ = ["STYLES", "CopyResult", "ParsedCopy", "copy_for_product", "copy_prompt", "drop_repeats", "parse_copy",
           "ungrounded_terms", "write_copy"]

# zh style name -> en style name; either name is accepted in either language
STYLES: dict[str, str] = {"简洁": "concise", "活泼": "playful", "高端": "premium", "促销": "promotional"}
_STYLE_ZH = {en: zh for zh, en in STYLES.items()}
MAX_DESCRIPTION_FACT = 300  # characters of the catalog description put into the prompt
_PROMPT_FIELDS = ("title", "category", "brand", "price", "tags", "description")  # no id, stock, url

MATERIALS: dict[str, tuple[str, ...]] = {
    "棉": ("纯棉", "全棉", "棉质", "精梳棉", "长绒棉", "棉", "cotton"),
    "棉麻": ("棉麻", "cotton-linen"),
    "真丝": ("真丝", "桑蚕丝", "蚕丝", "丝绸", "silk"),
    "羊毛": ("羊毛", "美利奴", "wool", "merino"),
    "羊绒": ("羊绒", "山羊绒", "cashmere"),
    "亚麻": ("亚麻", "linen"),
    "涤纶": ("涤纶", "聚酯纤维", "聚酯", "polyester"),
    "尼龙": ("尼龙", "锦纶", "nylon"),
    "氨纶": ("氨纶", "spandex", "elastane", "lycra"),
    "莫代尔": ("莫代尔", "modal"),
    "天丝": ("天丝", "tencel", "lyocell"),
    "雪纺": ("雪纺", "chiffon"),
    "牛仔布": ("牛仔布", "denim"),
    "帆布": ("帆布", "canvas"),
    "羽绒": ("羽绒", "鹅绒", "鸭绒", "goose down", "duck down"),
    "皮革": ("真皮", "头层牛皮", "牛皮", "羊皮", "皮革", "genuine leather", "cowhide", "lambskin", "leather"),
    "合成革": ("合成革", "人造革", "pu皮", "faux leather", "synthetic leather"),
    "不锈钢": ("不锈钢", "stainless steel", "stainless"),
    "铝合金": ("铝合金", "铝", "aluminium", "aluminum"),
    "钛": ("钛合金", "钛", "titanium"),
    "铸铁": ("铸铁", "cast iron"),
    "陶瓷": ("陶瓷", "骨瓷", "ceramic", "porcelain", "bone china"),
    "玻璃": ("玻璃", "glass"),
    "实木": ("实木", "橡木", "胡桃木", "松木", "solid wood", "oak", "walnut"),
    "竹": ("竹", "bamboo"),
    "塑料": ("塑料", "abs", "plastic"),
    "硅胶": ("硅胶", "silicone"),
    "橡胶": ("橡胶", "rubber"),
}
_MATERIAL_SYNONYMS = sorted(((s, canon) for canon, syns in MATERIALS.items() for s in syns), key=lambda p: -len(p[0]))
# words holding a colour character that are not colours (vocab.colors_in_text masks a few more)
_COLOUR_NOISE = ("蓝牙", "美白", "亮白", "白皙", "黄油", "紫外线", "白天", "红外", "绿色环保", "绿色健康", "红人",
                 "黑头", "白开水", "蛋白", "灰度")
_UNITS = "%|％|元|块|折|毫升|ml|升|克|千克|公斤|kg|g|厘米|cm|毫米|mm|英寸|寸|小时|天|年|个月|码|号|mah|w|件|片|支|包|瓶"
_NUMBER = re.compile(rf"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)(\s*(?:{_UNITS}))?", re.I)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])(?![。！？!?；;])|(?<=\.)(?=\s)")


@dataclass(frozen=True)
class CopyResult:
    """Generated copy after the grounding check; `ungrounded` lists the claims removed from it."""

    card: ProductCard
    title: str
    selling_points: list[str]
    description: str
    trace: str
    ungrounded: list[str]
    removed: list[str] = field(default_factory=list)  # the sentences taken out
    raw: str = ""  # the model's output as it came


@dataclass(frozen=True)
class ParsedCopy:
    """The labelled parts of a model's copy; `ok` is False when no label was found (all text in description)."""

    title: str
    selling_points: list[str]
    description: str
    ok: bool


def _style_for(style: str, language: str) -> str:
    if language not in LANGS:
        raise choice_error("language", language, LANGS, "Use 'zh' for Chinese copy or 'en' for English.")
    s = style.strip()
    if s.lower() in _STYLE_ZH:
        s = _STYLE_ZH[s.lower()]
    if s not in STYLES:
        raise choice_error("style", style, [*STYLES, *STYLES.values()], "Pick the closest one; 简洁/concise if unsure.")
    return s if language == "zh" else STYLES[s]


def copy_prompt(product: Product, style: str = "简洁", language: str = "zh", prompt_key: str = "prompt") -> str:
    """The copywriting prompt for `product`: its catalog facts, the style's hint and the few-shot examples.

    `prompt_key` picks the template in copy.yaml: "prompt" (default), or the one a LoRA adapter was trained with.
    """
    style = _style_for(style, language)
    data = load_prompts("copy")
    facts = [(k, v[:MAX_DESCRIPTION_FACT]) for k, v in product_facts(product, language, fields=_PROMPT_FIELDS)]
    examples = [e for e in data["examples"][language] if e["style"] == style] or data["examples"][language][:1]
    named = f"{product.title} {product.category}"
    example = next((e for e in examples if any(k in named for k in e.get("kinds", []))), None) \
        or next((e for e in examples if not e.get("kinds")), examples[0])
    return render("copy", prompt_key, lang=language, style=style, style_hint=data["styles"][language][style],
                  facts=facts, example=example)


_LABEL = re.compile(r"^\s*(?:[-*•>#]+\s*|\d+[.)、]\s*)?(?:\*\*)?\s*(标题|卖点|描述|文案|title|selling\s*points?|"
                    r"key\s*points?|points?|description)\s*\d*\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(.*)$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•·]+|\d+[.)、]|[（(]\d+[)）])\s*")
_KIND = {"标题": "title", "title": "title", "描述": "desc", "文案": "desc", "description": "desc"}


def _clean(text: str) -> str:
    return text.replace("**", "").strip().strip("\"'“”「」『』").strip()


def parse_copy(text: str) -> ParsedCopy:
    """Read "标题：/卖点：×3/描述：" (or Title/Selling point/Description) lines; see the module docstring."""
    title = ""
    points: list[str] = []
    desc: list[str] = []
    loose: list[str] = []
    current = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _LABEL.match(line)
        if m:
            label, value = m.group(1).lower(), _clean(m.group(2))
            current = _KIND.get(label, "point")
            if value and current == "title":
                title = title or value
            elif value:
                (points if current == "point" else desc).append(value)
            continue
        value = _clean(_BULLET.sub("", line))
        if current == "desc":
            desc.append(value)
        elif current == "point" and _BULLET.match(line):
            points.append(value)
        elif current == "title" and not title:
            title = value
        elif value:
            loose.append(value)
    ok = bool(title or points or desc)
    if not ok:
        return ParsedCopy(title="", selling_points=[], description=_clean(text), ok=False)
    points = list(dict.fromkeys(points))  # small models repeat a line until they run out of tokens
    return ParsedCopy(title=title, selling_points=points[:3], description=drop_repeats(_join(desc or loose)), ok=True)


_CLAUSE = re.compile(r"[^，,。；;！!？?、\n]+[，,。；;！!？?、\n]*")


def drop_repeats(text: str) -> str:
    """`text` without clauses said before (a small model loops "透气舒适，适合各种场合，透气舒适，..." to its budget).

    A clause is the text up to a comma, full stop, semicolon, enumeration comma, ! or ?; it is dropped when the
    same words (punctuation aside) were already said in the text. The last kept clause keeps its punctuation.
    """
    seen: set[str] = set()
    kept: list[str] = []
    for clause in _CLAUSE.findall(text):
        words = re.sub(r"[\s，,。；;！!？?、]+", "", clause)
        if words and words in seen:
            continue
        seen.add(words)
        kept.append(clause)
    return "".join(kept).strip()


def _join(parts: Sequence[str]) -> str:
    """Join lines: a space between Latin text, nothing after Chinese punctuation or characters."""
    out = ""
    for part in parts:
        out += (" " if out and out[-1].isascii() and out[-1] not in " \n" else "") + part
    return out


def _record_text(products: Sequence[Product]) -> str:
    parts: list[str] = []
    for p in products:
        parts += [p.title, p.description, p.category, p.brand, " ".join(p.tags)]
        parts += [f"{k} {v}" for k, v in p.attributes.items()]
        parts += [price_text(p.price, p.currency, "zh"), price_text(p.price, p.currency, "en")]
    return " ".join(parts).lower()


def _materials(text: str) -> list[tuple[str, str]]:
    """(surface word, canonical material) mentioned in lower-case `text`, longest synonyms first."""
    taken = [False] * len(text)
    found: list[tuple[int, str, str]] = []
    for syn, canon in _MATERIAL_SYNONYMS:
        pattern = rf"(?<![a-z]){re.escape(syn)}(?![a-z])" if re.search("[a-z]", syn) else re.escape(syn)
        for m in re.finditer(pattern, text):
            if not any(taken[m.start():m.end()]):
                taken[m.start():m.end()] = [True] * (m.end() - m.start())
                found.append((m.start(), syn, canon))
    return [(s, c) for _, s, c in sorted(found)]


def _colours(text: str) -> list[str]:
    for noise in _COLOUR_NOISE:
        text = text.replace(noise, " " * len(noise))
    return colors_in_text(text)


def ungrounded_terms(text: str, products: Sequence[Product]) -> list[str]:
    """Numbers, colours and materials in `text` that none of `products` mentions (see the module docstring)."""
    record = _record_text(products)
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", record)}
    numbers |= {float(p.price) for p in products if p.price is not None}
    colours = set(_colours(record))
    materials = {c for _, c in _materials(record)}
    low = text.lower()
    bad: list[str] = []
    for m in _NUMBER.finditer(text):
        if float(m.group(1)) not in numbers:
            bad.append(m.group(0).strip())
    bad += [c for c in _colours(low) if c not in colours]
    bad += [s for s, c in _materials(low) if c not in materials and s not in record]
    return list(dict.fromkeys(bad))


def _sentences(text: str) -> list[str]:
    """Sentences with their trailing punctuation and leading blanks, so that joining them restores the text."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def write_copy(index: CatalogIndex, product_id: str, *, style: str = "简洁", language: str = "zh",
               generate: Callable[[str], str], prompt_key: str = "prompt") -> CopyResult:
    """Write copy for one product with `generate` (prompt -> text), then drop ungrounded claims.

    `prompt_key` names the copy.yaml template: "prompt", or the one a LoRA adapter was trained with.
    """
    style = _style_for(style, language)
    known, unknown = resolve_ids(index, [product_id])
    products = index.store.get_products(known)
    if not products:
        raise unknown_ids_error(unknown or known, index.ids)
    product = without_boilerplate(products[0], index)
    return copy_for_product(product, style=style, language=language, generate=generate, prompt_key=prompt_key)


BOILERPLATE_SHARE = 0.9  # a sentence whose words another product's text holds this share of ...
BOILERPLATE_PRODUCTS = 3  # ... in this many products is the shop's boilerplate, not this product's


def without_boilerplate(p: Product, index: CatalogIndex) -> Product:
    """The product with the description sentences the shop writes on many products removed ("All orders ship
    within 2 business days."): copy should sell this product, not repeat the shop's small print."""
    sentences = _sentences(p.description)
    if len(index) < BOILERPLATE_PRODUCTS or not sentences:
        return p
    kept = [s for s in sentences if len(s.strip()) < 12
            or int((index.lexical_scores(s) >= BOILERPLATE_SHARE).sum()) < BOILERPLATE_PRODUCTS]
    if len(kept) == len(sentences):
        return p
    return p.model_copy(update={"description": "".join(kept).strip()})


def copy_for_product(p: Product, *, style: str = "简洁", language: str = "zh", generate: Callable[[str], str],
                     prompt_key: str = "prompt") -> CopyResult:
    """Copy for a Product record (no store needed): prompt, `generate`, parse, drop ungrounded claims.

    `write_copy` and `daogou eval copy` both go through here, so the eval measures what shoppers get.
    """
    style = _style_for(style, language)
    raw = generate(copy_prompt(p, style, language, prompt_key))
    if not isinstance(raw, str):
        raise ToolError(f"the copy generator returned {type(raw).__name__}, not text; check the generate callable")
    parsed = parse_copy(raw)
    ungrounded: list[str] = []
    removed: list[str] = []

    def keep(unit: str) -> bool:
        terms = ungrounded_terms(unit, [p])
        if terms:
            ungrounded.extend(t for t in terms if t not in ungrounded)
            removed.append(unit.strip())
        return not terms

    title = parsed.title if parsed.title and keep(parsed.title) else p.title
    points = [s for s in parsed.selling_points if keep(s)]
    description = "".join(s for s in _sentences(parsed.description) if keep(s)).strip()
    shape = (f"title, {len(points)} selling points, {len(description)}-char description" if parsed.ok
             else f"output not in the asked format, kept as a {len(description)}-char description")
    trace = f"copy for {p.id} ({style}, {language}): {shape}"
    if removed:
        trace += f"; removed {len(removed)} sentence(s) with claims not in the catalog: {', '.join(ungrounded)}"
    return CopyResult(card=ProductCard.from_product(p), title=title, selling_points=points, description=description,
                      trace=trace, ungrounded=ungrounded, removed=removed, raw=raw)
