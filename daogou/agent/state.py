"""The dialogue state one shopper's conversation carries from turn to turn (JSON-serialisable for sessions)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from daogou.ingest.filters import Filters

__all__ = ["DialogueState", "ShownProduct"]


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
            self.catalog_seen[p.id] = p
        if products and as_list:
            self.shown = [p.id for p in products]
        if len(products) == 1:
            self.focus = products[0].id
