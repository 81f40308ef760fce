"""The dialogue state one shopper's conversation carries from turn to turn (JSON-serialisable for sessions)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from daogou.ingest.filters import Filters

__all__ = ["MAX_INTERACTIONS", "MAX_NUMBERS", "MAX_SEEN", "DialogueState", "ShownProduct"]

MAX_SEEN = 200  # products remembered for grounding and references (a 300-turn session stays within this)
MAX_NUMBERS = 100  # numbers the shopper typed, kept for grounding
MAX_INTERACTIONS = 300  # (product, event) signals kept for recommendations


class ShownProduct(BaseModel):
    """What the state remembers of a product shown to the shopper (for references and grounding)."""

    id: str
    title: str
    price: float | None = None
    brand: str = ""
    category: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)


class DialogueState(BaseModel):
    """Constraints in force, what was shown, what "it" is, and the shopper's signals."""

    lang: str = "zh"
    query: str = ""  # the words of the current product search ("连衣裙")
    kinds: list[str] = Field(default_factory=list)  # the kinds of product that search was for (catalog terms)
    need: bool = False  # that search was for a need or a gift, not a kind the shopper named
    filters: Filters = Field(default_factory=Filters)  # hard constraints in force (carried over, revised)
    shown: list[str] = Field(default_factory=list)  # ids of the latest list, in display order ("第二个")
    focus: str | None = None  # the product "it"/"这件" refers to
    catalog_seen: dict[str, ShownProduct] = Field(default_factory=dict)  # every product shown (grounding)
    interactions: list[tuple[str, str]] = Field(default_factory=list)  # (product_id, event)
    user_numbers: list[float] = Field(default_factory=list)  # numbers the shopper typed (grounding)
    turns: int = 0
    last_tool: str | None = None  # the tool of the previous turn ("再来一版" continues a write_copy)
    copy_lang: str | None = None  # language asked for in copy ("再来一版中文的")
    anchor: str | None = None  # the product the last "more like this" was like (refinements keep it)
    last_question: str = ""  # the last question answered about a product ("那粉色的呢？" asks it again)

    def remember(self, products: list[ShownProduct], *, as_list: bool = True) -> None:
        """Record products shown this turn; a list becomes the target of ordinal references."""
        for p in products:
            self.catalog_seen.pop(p.id, None)
            self.catalog_seen[p.id] = p  # most recent last
        if products and as_list:
            self.shown = [p.id for p in products]
        if len(products) == 1:
            self.focus = products[0].id
        self.bound()

    def bound(self) -> None:
        """Keep the state within its bounds however long the conversation: the most recent products, numbers and
        signals are kept (what is on screen and in focus always), the oldest forgotten."""
        keep = set(self.shown) | {self.focus, self.anchor} - {None}
        if len(self.catalog_seen) > MAX_SEEN:
            old = [pid for pid in self.catalog_seen if pid not in keep]
            for pid in old[: len(self.catalog_seen) - MAX_SEEN]:
                del self.catalog_seen[pid]
        del self.user_numbers[:-MAX_NUMBERS]
        del self.interactions[:-MAX_INTERACTIONS]
