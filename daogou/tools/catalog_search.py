"""search_catalog, the shopper-facing search: hybrid search, then only products of the kind asked for.

`search_products` ranks the whole catalog by text (and image) under hard filters. A shopper asking for
"60升的电热水器，2000元以内" or "coffee makers under $100" wants that kind of product, so this tool keeps only
the products whose title (or category, tags, type attribute) names one of the kinds asked for, that state
the specs asked for ("60L"), and that mention the keywords asked for ("三文鱼"). When none do, it says so
and shows the nearest products of that kind with the filters dropped one by one, labelled as nearest; when
the catalog has nothing of the kind at all, it says that too (`missing`), and shows nothing it would
have to pretend is near.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from PIL import Image

from daogou.ingest.filters import Filters
from daogou.ingest.vocab import strip_colors
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.query import Spec, specs_in_text
from daogou.tools.search import ProductCard, SearchRequest, SearchResult, search_products
from daogou.tools.title_heads import of_kind
from daogou.tools.vocabulary import title_terms

__all__ = ["RESULT_MARGIN", "CatalogSearch", "is_kind", "search_catalog"]

RESULT_MARGIN = 0.08  # only results within this of the best hybrid score (see SearchRequest.margin)
POOL_FACTOR = 3  # candidates fetched per product shown, before the kind and spec checks
WIDEN_BELOW = 2  # a need's kinds meeting every constraint: fewer, and other products that do follow
SPEC_POOL = 50  # candidates fetched when specs must be checked (they are rare among the kind)


@dataclass(frozen=True)
class CatalogSearch:
    """What search_catalog found: the cards, whether they are only the nearest, and why."""

    result: SearchResult
    nearest: bool = False  # nothing of the kind met every constraint: these are the nearest, labelled so
    missing: str = ""  # the kind asked for, when the catalog holds nothing of it
    unmet: list[str] = field(default_factory=list)  # constraints the nearest products do not meet ("60L", "≤2000")
    # the query is in a script the catalog's titles are not written in and nothing confirms what it names
    # ("Do you sell dishwashers?" of a Chinese-only catalog): the ranking is by meaning only, and the reply says so
    unverified: bool = False

    @property
    def cards(self) -> list[ProductCard]:
        """The products to show, in order."""
        return self.result.cards


def _said_kind(c: ProductCard) -> list[str]:
    """What the shop says the product is: its category and type attributes."""
    return [c.category, *(v for k, v in c.attributes.items() if k.strip().lower() in ("类型", "品类", "type", "kind"))]


def _card_terms(c: ProductCard) -> frozenset[str]:
    return title_terms([c.title, *_said_kind(c)])


def _kind_text(c: ProductCard) -> str:
    return " ".join(_said_kind(c)).lower()


def is_kind(c: ProductCard, kind: str, *, loose: bool = False) -> bool:
    """Whether a product is of `kind`: a Chinese kind ("燃气热水器") is written in its category or type, or in its
    title not mostly as the thing a part, cover or holder serves ("空调罩" is not an air conditioner:
    `title_heads.of_kind`); an English one ("coffee maker") has all its title words there (`loose`: at least its
    longest word)."""
    k = strip_colors(kind).strip().lower()
    if not k:
        return False
    if re.search(r"[\u3400-\u9fff]", k):
        return k in _kind_text(c) or of_kind(c.title, k)
    wanted = title_terms([k])
    terms = _card_terms(c)
    return bool(wanted) and (wanted <= terms or (loose and _head(wanted) in terms))


def _of_kinds(cards: list[ProductCard], kinds: list[str]) -> list[ProductCard]:
    """The cards of one of `kinds` (not the parts, covers and holders of one: `is_kind`): whole kinds first ("dog
    food"), else their head words ("headphone" of "wireless headphone")."""
    kinds = [k for k in kinds if strip_colors(k).strip()]
    if not kinds:
        return cards
    exact = [c for c in cards if any(is_kind(c, k) for k in kinds)]
    return exact or [c for c in cards if any(is_kind(c, k, loose=True) for k in kinds)]


def _head(terms: frozenset[str]) -> str:
    """The most specific single term of a kind phrase (its longest)."""
    singles = [t for t in terms if " " not in t] or list(terms)
    return max(singles, key=len)


def _of_kind(index: CatalogIndex, query: str, cards: list[ProductCard]) -> list[ProductCard]:
    """Only the products of the kind the query names (e.g. 卫衣 in "200以内的卫衣"), when any are."""
    head = index.vocabulary.kind_phrase(query)
    if not head:
        return cards
    kind = _of_kinds(cards, [head])
    return kind or cards


def _mentioning(cards: list[ProductCard], keywords: list[str]) -> list[ProductCard]:
    """The cards whose title or attribute values mention one of `keywords` ("三文鱼"), when any do."""
    if not keywords:
        return cards
    hits = [c for c in cards if any(w.lower() in " ".join((c.title, *c.attributes.values())).lower()
                                    for w in keywords)]
    return hits or cards


def _stating(cards: list[ProductCard], specs: list[Spec]) -> list[ProductCard]:
    """The cards whose title or attributes state every spec ("60L")."""
    return [c for c in cards if all(s.found_in(" ".join((c.title, *c.attributes.values()))) for s in specs)]


def _coherent(cards: list[ProductCard], filters: Filters) -> list[ProductCard]:
    """When the top three results share a category and none was asked for, the off-category tail is dropped."""
    if filters.categories or len(cards) < 4:
        return cards
    top = {c.category for c in cards[:3]}
    if len(top) != 1:
        return cards
    return [c for c in cards if c.category in top]


def _kind_cards(index: CatalogIndex, query: str, kinds: list[str], cards: list[ProductCard]) -> list[ProductCard]:
    """Only the cards of the kind asked for (no fallback to all cards, unlike `_of_kind`)."""
    if kinds:
        return _of_kinds(cards, kinds)
    head = index.vocabulary.kind_phrase(query)
    return [c for c in cards if is_kind(c, head)] if head else cards


def _names_kind(index: CatalogIndex, query: str, kinds: list[str]) -> bool:
    return bool(kinds) or bool(index.vocabulary.product_terms(strip_colors(query)))


def _checked(index: CatalogIndex, cards: list[ProductCard], query: str, kinds: list[str], specs: list[Spec],
             keywords: list[str], filters: Filters) -> list[ProductCard]:
    cards = _of_kinds(cards, kinds) if kinds else _of_kind(index, query, cards)
    cards = _coherent(cards, filters)
    cards = _mentioning(cards, keywords)
    return _stating(cards, specs) if specs else cards


def _nearest_of_kind(index: CatalogIndex, req: SearchRequest, query: str, kinds: list[str], specs: list[Spec],
                     keep: tuple[str, ...]) -> tuple[list[ProductCard], list[str]]:
    """The products of the kind asked for with the constraints given up one by one (price, stock, size, colour,
    waterproof, brand: "the blue dress, sold out" before a red one; a constraint the shopper has just set goes
    last); and which were given up."""
    f = req.filters
    steps: list[tuple[str, dict]] = [("price", {"price_min": None, "price_max": None}),
                                     ("stock", {"in_stock": False}), ("size", {"sizes": ()}),
                                     ("colour", {"colors": ()}), ("waterproof", {"waterproof": False}),
                                     ("brand", {"brands": ()})]
    steps.sort(key=lambda step: step[0] in keep)
    dropped: list[str] = []
    left_specs = list(specs)
    while True:
        found = search_products(index, replace(req, filters=f, margin=None))
        named = _stating(_kind_cards(index, query, kinds, found.cards), left_specs)
        if named:
            named.sort(key=lambda c: (c.price is None, c.price or 0.0))
            return named, dropped
        if steps:
            name, change = steps.pop(0)
            if any(getattr(f, k) != v for k, v in change.items()):
                dropped.append(name)
            f = f.model_copy(update=change)
        elif left_specs:
            dropped += [s.label() for s in left_specs]
            left_specs = []
        else:
            return [], dropped


def _unverified(index: CatalogIndex, query: str, kinds: list[str], filters: Filters,
                cards: list[ProductCard]) -> bool:
    """Whether nothing confirms that `cards` are what `query` names: it is written in a script the catalog's titles
    are not (an English query, a Chinese-only catalog), no kind, category, brand, colour or size of the catalog was
    read from it (a price alone says nothing of what), and no word of it is in a card's title, category or type."""
    q = query.strip()
    read = filters.categories or filters.brands or filters.colors or filters.sizes
    if not q or not cards or kinds or read or index.vocabulary.writes_in(q):
        return False
    words = title_terms([q])
    return bool(words) and not any(words & _card_terms(c) for c in cards)


def search_catalog(index: CatalogIndex, *, query: str = "", filters: Filters | None = None,
                   kinds: list[str] | None = None, specs: list[str] | None = None, keywords: list[str] | None = None,
                   sort: str = "relevance", image: Image.Image | None = None, k: int = 5,
                   recent: tuple[str, ...] = (), widen: bool = False) -> CatalogSearch:
    """Products of the kinds asked for that meet every constraint (see the module docstring).

    `specs` are spec phrases as the shopper wrote them ("60升", "16oz"); `recent` names the constraints the
    shopper set this very turn ("price"), which are the last to be given up. `widen`: the kinds are ideas for a
    need ("a gift for my girlfriend" -> lipstick, perfume, scarf), not a kind the shopper named; when fewer than
    WIDEN_BELOW of them meet every constraint, other products that meet every constraint follow them ("she loves
    pink things": the pink lipstick, then the other pink things under the budget), before any constraint is given up.
    """
    filters = filters or Filters()
    kinds = [k for k in (kinds or []) if k.strip()]
    spec_list = [s for raw in (specs or []) for s in specs_in_text(raw)]
    text = " ".join(dict.fromkeys([query, *kinds])).strip() if kinds else query
    pool = SPEC_POOL if spec_list else POOL_FACTOR * k
    req = SearchRequest(text=text, image=image, filters=filters, k=max(pool, k), margin=RESULT_MARGIN)
    result = search_products(index, req)
    if image is not None:
        return CatalogSearch(replace(result, cards=result.cards[:k]))
    cards = _checked(index, result.cards, query, kinds, spec_list, list(keywords or []), result.filters)
    if spec_list and not cards and not result.relaxed:
        cards = _checked(index, search_products(index, replace(req, margin=None)).cards, query, kinds, spec_list,
                         list(keywords or []), result.filters)
    if widen and not result.relaxed and len(cards) < min(k, WIDEN_BELOW) and not spec_list:
        have = {c.id for c in cards}
        cards = cards + [c for c in result.cards if c.id not in have][:k - len(cards)]
    if sort == "price":
        cards = sorted(cards, key=lambda c: (c.price is None, c.price or 0.0))
    if cards and not result.relaxed:
        return CatalogSearch(replace(result, cards=cards[:k]),
                             unverified=_unverified(index, query, kinds, result.filters, cards[:k]))
    if not _names_kind(index, query, kinds) and not spec_list:  # no kind to check: the ranking stands
        return CatalogSearch(replace(result, cards=result.cards[:k]), nearest=result.relaxed,
                             unmet=list(result.dropped),
                             unverified=_unverified(index, query, kinds, result.filters, result.cards[:k]))
    nearest, dropped = _nearest_of_kind(index, req, query, kinds, spec_list, recent)
    unmet = dropped or list(result.dropped)
    if not nearest:
        return CatalogSearch(replace(result, cards=[], relaxed=True), nearest=True, unmet=unmet)
    return CatalogSearch(replace(result, cards=nearest[:k], relaxed=True, dropped=tuple(unmet)), nearest=True,
                         unmet=unmet)
