"""LangChain StructuredTool wrappers of every daogou tool, for the chat agent. The one file that knows LangChain.

`build_tools(context)` returns the tools bound to one session's `ToolContext`. Each tool's arguments are
a pydantic model whose Field descriptions become the JSON schema the model is constrained to (kept short,
bilingual; optional arguments are really optional). A tool answers with `content_and_artifact`: compact
text for the model, and the typed result (cards, facts, trace) as the artifact for the UI and the checks.
A `ToolError` (or bad arguments) comes back to the model as text it can act on, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from daogou.ingest.filters import Filters
from daogou.ingest.vocab import COLORS, normalize_color
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.copywriter import CopyResult, write_copy
from daogou.tools.details import (
    AnswerResult,
    ComparisonResult,
    DetailsResult,
    answer_about_product,
    compare_products,
    product_details,
)
from daogou.tools.errors import ToolError, choice_error
from daogou.tools.facts import price_text, stock_text
from daogou.tools.query import CATEGORY_ALIASES
from daogou.tools.recommend import Interaction, recommend_for_user, similar_products
from daogou.tools.search import ProductCard, SearchRequest, SearchResult, search_products

__all__ = ["TOOL_NAMES", "ToolContext", "build_tools", "result_text"]

TOOL_NAMES = ("search_catalog", "similar_products", "recommend_for_user", "product_details", "compare_products",
              "answer_about_product", "write_copy")


def _no_history() -> Sequence[Interaction]:
    return ()


@dataclass(frozen=True)
class ToolContext:
    """What the tools of one chat session share: the catalog, the copy generator and the shopper's history."""

    index: CatalogIndex
    generate: Callable[[str], str]  # prompt -> text (the local LLM), used by write_copy only
    interactions: Callable[[], Sequence[Interaction]] = _no_history  # this session's interactions so far
    k: int = 5  # products per search / recommendation
    lang: str = "zh"  # labels of details, comparisons and answers


# -- argument schemas (their descriptions are what the model reads) --------------------------------------
class SearchCatalogArgs(BaseModel):
    """Arguments of search_catalog."""

    query: str = Field(description="what the shopper wants, in their words / 商品描述, e.g. 红色连衣裙")
    price_min: float | None = Field(default=None, ge=0, description="lowest price in yuan, only if said / 最低价")
    price_max: float | None = Field(default=None, ge=0, description="highest price in yuan, only if said / 最高价")
    color: str | None = Field(default=None, description="colour, only if said / 颜色, e.g. 红色")
    category: str | None = Field(default=None, description="category, only if said / 类目, e.g. 服装")
    brand: str | None = Field(default=None, description="brand, only if said / 品牌")
    size: str | None = Field(default=None, description="size, only if said / 尺码, e.g. M, 42")
    in_stock: bool | None = Field(default=None, description="true if the shopper wants it in stock / 只要有货")


class SimilarArgs(BaseModel):
    """Arguments of similar_products."""

    product_id: str = Field(description="id of a product shown, e.g. P1001 / 商品编号")
    modality: Literal["fused", "text", "image"] = Field(
        default="fused", description="fused (default), text, or image (looks alike / 长得像)")
    price_max: float | None = Field(default=None, ge=0, description="highest price, only if said / 最高价")
    in_stock: bool | None = Field(default=None, description="true if the shopper wants it in stock / 只要有货")


class RecommendArgs(BaseModel):
    """Arguments of recommend_for_user."""

    category: str | None = Field(default=None, description="category, only if said / 类目")
    price_max: float | None = Field(default=None, ge=0, description="highest price, only if said / 最高价")


class DetailsArgs(BaseModel):
    """Arguments of product_details."""

    product_ids: list[str] = Field(min_length=1, max_length=10, description="ids of products shown / 商品编号")


class CompareArgs(BaseModel):
    """Arguments of compare_products."""

    product_ids: list[str] = Field(min_length=2, max_length=5, description="2-5 ids of products shown / 商品编号")


class AnswerArgs(BaseModel):
    """Arguments of answer_about_product."""

    product_id: str = Field(description="id of the product asked about / 商品编号")
    question: str = Field(description="the shopper's question, in their words / 顾客的问题")


class CopyArgs(BaseModel):
    """Arguments of write_copy."""

    product_id: str = Field(description="id of the product / 商品编号")
    style: Literal["简洁", "活泼", "高端", "促销", "concise", "playful", "premium", "promotional"] = Field(
        default="简洁", description="copy style / 文案风格")
    language: Literal["zh", "en"] = Field(default="zh", description="zh (中文) or en")


# -- argument checks --------------------------------------------------------------------------------------
def _category(index: CatalogIndex, raw: str) -> str:
    known = index.vocabulary.categories
    value = raw.strip()
    if value in known:
        return value
    for canon, aliases in CATEGORY_ALIASES.items():
        if canon in known and value.lower() in aliases:
            return canon
    raise choice_error("category", raw, sorted(known), "Leave category out unless the shopper named one.")


def _brands(index: CatalogIndex, raw: str) -> tuple[str, ...]:
    value = raw.strip().lower()
    known = sorted(index.vocabulary.brands)
    hits = tuple(b for b in known if b.lower() == value or value in b.lower().split())
    if not hits:
        raise choice_error("brand", raw, known, "Leave brand out unless the shopper named one of these.")
    return hits


def _filters(index: CatalogIndex, **given: Any) -> Filters:
    """Filters from the model's optional arguments; unknown values become ToolErrors naming the valid ones."""
    values: dict[str, Any] = {k: given[k] for k in ("price_min", "price_max") if given.get(k) is not None}
    if given.get("color"):
        canon = normalize_color(given["color"])
        if canon is None:
            raise choice_error("color", given["color"], list(COLORS), "Leave color out unless the shopper said one.")
        values["colors"] = (canon,)
    if given.get("category"):
        values["categories"] = (_category(index, given["category"]),)
    if given.get("brand"):
        values["brands"] = _brands(index, given["brand"])
    if given.get("size"):
        values["sizes"] = (str(given["size"]).strip().upper(),)
    if given.get("in_stock"):
        values["in_stock"] = True
    try:
        return Filters(**values)
    except ValidationError as e:
        reasons = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise ToolError(f"Invalid filters: {reasons}.") from e


# -- text for the model ------------------------------------------------------------------------------------
def _card_line(c: ProductCard, lang: str) -> str:
    attrs = "; ".join(f"{k}: {v}" for k, v in c.attributes.items())
    parts = [f"{c.id} {c.title}", price_text(c.price, c.currency, lang), c.brand, attrs, stock_text(c.stock, lang)]
    return " | ".join(p for p in parts if p)


def result_text(result: Any, lang: str = "zh") -> str:
    """The compact text a tool result shows the model: its trace, then the products and facts it holds."""
    lines = [result.trace]
    if isinstance(result, SearchResult):
        lines += [_card_line(c, lang) for c in result.cards]
    elif isinstance(result, DetailsResult):
        for c in result.cards:
            lines.append(f"{c.id}:")
            lines += [f"  {k}: {v}" for k, v in result.facts[c.id]]
    elif isinstance(result, ComparisonResult):
        lines.append("ids: " + " | ".join(c.id for c in result.cards))
        lines += [f"{label}: " + " | ".join(cells) for label, cells in result.rows]
        if result.cheapest:
            lines.append(f"cheapest: {result.cheapest}")
    elif isinstance(result, AnswerResult):
        lines.append(f"found: {'yes' if result.found else 'no'}" +
                     ("" if result.verdict is None else f"; answer: {'yes' if result.verdict else 'no'}"))
        lines.append(result.note)
        lines += [f"- {f.field}: {f.value} ({f.source})" for f in result.facts]
    elif isinstance(result, CopyResult):
        lines.append(f"标题：{result.title}" if lang == "zh" else f"Title: {result.title}")
        lines += [(f"卖点：{p}" if lang == "zh" else f"Selling point: {p}") for p in result.selling_points]
        lines.append(f"描述：{result.description}" if lang == "zh" else f"Description: {result.description}")
    return "\n".join(x for x in lines if x)


def _validation_message(e: ValidationError) -> str:
    reasons = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors())
    return f"Invalid arguments ({reasons}). Fix them and call the tool again."


def _tool(name: str, description: str, schema: type[BaseModel], run: Callable[..., Any], lang: str) -> BaseTool:
    def call(**kwargs: Any) -> tuple[str, Any]:
        try:
            result = run(**kwargs)
        except ToolError as e:
            raise ToolException(str(e)) from e
        return result_text(result, lang), result

    return StructuredTool.from_function(
        func=call, name=name, description=description, args_schema=schema, response_format="content_and_artifact",
        handle_tool_error=True, handle_validation_error=_validation_message,
    )


def build_tools(context: ToolContext) -> list[BaseTool]:
    """The seven tools of one chat session, bound to `context` (see the module docstring)."""
    ix, lang = context.index, context.lang

    def search_catalog(query: str, **filters: Any) -> SearchResult:
        return search_products(ix, SearchRequest(text=query, filters=_filters(ix, **filters), k=context.k))

    def similar(product_id: str, modality: str = "fused", price_max: float | None = None,
                in_stock: bool | None = None) -> SearchResult:
        return similar_products(ix, product_id, k=context.k, modality=modality,
                                filters=_filters(ix, price_max=price_max, in_stock=in_stock))

    def recommend(category: str | None = None, price_max: float | None = None) -> SearchResult:
        return recommend_for_user(ix, list(context.interactions()), k=context.k,
                                  filters=_filters(ix, category=category, price_max=price_max))

    specs: list[tuple[str, str, type[BaseModel], Callable[..., Any]]] = [
        ("search_catalog", "Find products by description and hard filters. 按描述和条件找商品。",
         SearchCatalogArgs, search_catalog),
        ("similar_products", "Products like one already shown (更多类似 / 相似款). 找和某商品相似的商品。",
         SimilarArgs, similar),
        ("recommend_for_user", "Personal picks from this shopper's history (猜你喜欢 / 推荐). 个性化推荐。",
         RecommendArgs, recommend),
        ("product_details", "All catalog facts of products shown. 查看商品详情。", DetailsArgs,
         lambda product_ids: product_details(ix, product_ids, lang=lang)),
        ("compare_products", "Compare 2-5 products side by side. 对比商品。", CompareArgs,
         lambda product_ids: compare_products(ix, product_ids, lang=lang)),
        ("answer_about_product", "Answer a question about one product from the catalog (防水吗/有M码吗/多少钱). "
         "回答关于某商品的问题。", AnswerArgs,
         lambda product_id, question: answer_about_product(ix, product_id, question, lang=lang)),
        ("write_copy", "Write product copy: title, selling points, description. 写商品文案。", CopyArgs,
         lambda product_id, style="简洁", language="zh": write_copy(ix, product_id, style=style, language=language,
                                                                    generate=context.generate)),
    ]
    return [_tool(name, desc, schema, run, lang) for name, desc, schema, run in specs]
