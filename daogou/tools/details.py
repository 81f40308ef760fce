"""Product details, side-by-side comparison and questions about one product, answered from the catalog only.

`product_details` lists every field and attribute of the products as (label, value) pairs ready for a
prompt; `compare_products` lines 2–5 products up field by field ("—" where the catalog does not say);
`answer_about_product` maps the question's words onto attribute keys and fields through a small bilingual
table (`facts.CONCEPTS`), resolves yes/no questions against the value ("有M码吗" + 尺码 S/M/L -> yes), and
otherwise falls back to description sentences sharing the question's keywords. When nothing answers the
question the result says `found=False` and the trace says the catalog does not say: it never guesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from daogou.ingest.schema import Product
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.errors import ToolError, choice_error, resolve_ids, unknown_ids_error
from daogou.tools.facts import (
    LANGS,
    Fact,
    compare_key,
    field_label,
    find_facts,
    product_facts,
    stock_text,
    topic_label,
)
from daogou.tools.search import ProductCard

__all__ = [
    "MISSING",
    "AnswerResult",
    "ComparisonResult",
    "DetailsResult",
    "Fact",
    "answer_about_product",
    "compare_products",
    "product_details",
    "product_facts",
]

MISSING = "—"  # a comparison cell the catalog does not fill
MAX_DETAILS = 10
MAX_COMPARE = 5


@dataclass(frozen=True)
class DetailsResult:
    """Cards of the known products, their facts by id, the ids the catalog does not hold, and a trace."""

    cards: list[ProductCard]
    facts: dict[str, list[tuple[str, str]]]
    unknown: list[str]
    trace: str


@dataclass(frozen=True)
class ComparisonResult:
    """Products side by side: each row is (label, one value per card, in card order)."""

    cards: list[ProductCard]
    rows: list[tuple[str, list[str]]]
    cheapest: str | None
    differing: list[str]  # labels of the rows whose values are not all equal
    unknown: list[str]
    trace: str


@dataclass(frozen=True)
class AnswerResult:
    """What the catalog says about a question on one product. `found=False`: it does not say; do not guess."""

    card: ProductCard
    question: str
    facts: list[Fact]
    found: bool
    verdict: bool | None = None  # a yes/no question resolved against the value, else None
    note: str = ""  # the yes/no verdict with its reason; or, when found=False, that the catalog does not say; else ""
    trace: str = ""
    topics: list[str] = field(default_factory=list)  # what the question was understood to ask about


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise choice_error("language", lang, LANGS)


def _products(index: CatalogIndex, product_ids: Sequence[str] | str) -> tuple[list[Product], list[str]]:
    if isinstance(product_ids, str):
        product_ids = [product_ids]
    known, unknown = resolve_ids(index, product_ids)
    products = index.store.get_products(known)
    got = {p.id for p in products}
    unknown += [i for i in known if i not in got]  # deleted since the index was built
    return products, unknown


def product_details(index: CatalogIndex, product_ids: Sequence[str], *, lang: str = "zh") -> DetailsResult:
    """Every catalog field and attribute of the products, as (label, value) pairs in `lang` ("zh" or "en").

    Unknown ids are listed in `unknown` and the trace; if none of the ids is known, a ToolError is raised.
    """
    _check_lang(lang)
    if not product_ids:
        raise ToolError("product_ids is empty. Pass the ids of the products to describe, e.g. ['P1001'].")
    if len(product_ids) > MAX_DETAILS:
        raise ToolError(f"{len(product_ids)} product ids given; ask for at most {MAX_DETAILS} at a time.")
    products, unknown = _products(index, product_ids)
    if not products:
        raise unknown_ids_error(unknown, index.ids)
    facts = {p.id: product_facts(p, lang) for p in products}
    trace = f"details of {', '.join(p.id for p in products)}: {sum(len(f) for f in facts.values())} facts"
    if unknown:
        trace += f"; not in the catalog: {', '.join(unknown)}"
    return DetailsResult(cards=[ProductCard.from_product(p) for p in products], facts=facts, unknown=unknown,
                         trace=trace)


def compare_products(index: CatalogIndex, product_ids: Sequence[str], *, lang: str = "zh") -> ComparisonResult:
    """2–5 products side by side: price, brand, category, stock, then the union of their attributes.

    Attribute keys naming the same thing ("材质" / "面料" / "material") share a row, labelled by the first
    product that has it; a product without a value shows "—". `cheapest` is the id of the lowest price.
    """
    _check_lang(lang)
    if len(product_ids) > MAX_COMPARE:
        raise ToolError(f"{len(product_ids)} products given; compare at most {MAX_COMPARE} at a time "
                        "(pick the ones the shopper is deciding between).")
    products, unknown = _products(index, product_ids)
    if len(products) < 2:
        known = [p.id for p in products]
        if unknown:
            err = unknown_ids_error(unknown, index.ids)
            raise ToolError(f"Need at least 2 known products to compare (known: {known or 'none'}). {err}") from err
        raise ToolError(f"Need at least 2 different products to compare, got {known}. "
                        "Pass two to five ids from the products shown.")
    rows: list[tuple[str, list[str]]] = [
        (field_label("price", lang), [_price_cell(p, lang) for p in products]),
        (field_label("brand", lang), [p.brand or MISSING for p in products]),
        (field_label("category", lang), [p.category or MISSING for p in products]),
        (field_label("stock", lang), [stock_text(p.stock, lang) or MISSING for p in products]),
    ]
    groups: dict[str, tuple[str, list[str]]] = {}
    for col, p in enumerate(products):
        for key, value in p.attributes.items():
            label, cells = groups.setdefault(compare_key(key), (key, [MISSING] * len(products)))
            if cells[col] == MISSING:
                cells[col] = value
    rows += list(groups.values())
    priced = [p for p in products if p.price is not None]
    cheapest = min(priced, key=lambda p: p.price or 0.0).id if priced else None
    differing = [label for label, cells in rows if len(set(cells)) > 1]
    trace = f"compare {', '.join(p.id for p in products)}: {len(rows)} rows, differ in {len(differing)}"
    trace += f"; cheapest {cheapest}" if cheapest else "; no prices listed"
    if unknown:
        trace += f"; not in the catalog: {', '.join(unknown)}"
    return ComparisonResult(cards=[ProductCard.from_product(p) for p in products], rows=rows, cheapest=cheapest,
                            differing=differing, unknown=unknown, trace=trace)


def _price_cell(p: Product, lang: str) -> str:
    facts = dict(product_facts(p, lang, fields=("price",), attributes=False))
    return facts.get(field_label("price", lang), MISSING)


def answer_about_product(index: CatalogIndex, product_id: str, question: str, *, lang: str = "zh") -> AnswerResult:
    """Answer a shopper's question about one product from its attributes, fields and description only."""
    _check_lang(lang)
    if not question.strip():
        raise ToolError("question is empty. Pass the shopper's question in their words, e.g. '有M码吗'.")
    products, unknown = _products(index, [product_id])
    if not products:
        raise unknown_ids_error(unknown, index.ids)
    p = products[0]
    found = find_facts(p, question, lang, values=index.vocabulary.attribute_values)
    card = ProductCard.from_product(p)
    q = question.strip()
    topics = found.topics or found.keywords
    if not found.facts:
        about = ", ".join(topics) if topics else repr(q)
        said = "、".join(topic_label(t, lang) for t in found.topics) if found.topics else q
        note = (f"商品资料里没有写{said}，不要猜测，请如实告诉顾客。" if lang == "zh" else
                f"The catalog does not say ({said}); do not guess, tell the shopper it is not listed.")
        trace = f"answer about {p.id} {q!r}: the catalog does not say ({about})"
        return AnswerResult(card=card, question=q, facts=[], found=False, note=note, trace=trace, topics=topics)
    shown = "; ".join(f"{f.field}={f.value} ({f.source})" for f in found.facts[:3])
    trace = f"answer about {p.id} {q!r}: {shown}"
    if found.verdict is not None:
        trace += f" -> {'yes' if found.verdict else 'no'}"
    return AnswerResult(card=card, question=q, facts=found.facts, found=True, verdict=found.verdict,
                        note=found.note, trace=trace, topics=topics)

