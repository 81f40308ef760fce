"""The one registry of tools: for each, its name, what it does, its argument schema and the function that runs it.

The chat agent runs tools only through `call_tool(context, name, args)`, and the LangChain wrappers
(`langchain_tools.build_tools`) are made from the same entries, so the schema a model sees, the checks on
the arguments and the function that runs are one thing. Arguments are validated by the pydantic model of
the tool; a bad value comes back as a `ToolError` that names it and the valid values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from daogou.ingest.filters import Filters
from daogou.ingest.vocab import COLORS, normalize_color
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.catalog_search import search_catalog
from daogou.tools.copywriter import write_copy
from daogou.tools.details import answer_about_product, compare_products, product_details
from daogou.tools.errors import ToolError, choice_error
from daogou.tools.query import category_aliases
from daogou.tools.recommend import Interaction, recommend_for_user, similar_products

__all__ = ["TOOLS", "TOOL_NAMES", "Tool", "ToolContext", "call_tool", "filters_from_args", "validation_message"]


def _no_history() -> Sequence[Interaction]:
    return ()


@dataclass(frozen=True)
class ToolContext:
    """What the tools of one chat turn share: the catalog, the copy generator and the shopper's history."""

    index: CatalogIndex
    generate: Callable[[str], str] | None  # prompt -> text (the local LLM), used by write_copy only; None: no model
    interactions: Callable[[], Sequence[Interaction]] = _no_history  # this session's interactions so far
    k: int = 5  # products per search / recommendation
    lang: str = "zh"  # labels of details, comparisons and answers
    image: Image.Image | None = None  # the shopper's photo this turn (search_catalog with image=true)
    copy_prompt: str = "prompt"  # the copy.yaml template of the copy model (an adapter's own)
    recent: tuple[str, ...] = ()  # constraints the shopper set this very turn: the last to give up


# -- argument schemas (their descriptions are what a model reads) ---------------------------------------
_Text = Annotated[str, StringConstraints(max_length=60)]
_Many = _Text | Annotated[list[_Text], Field(max_length=5)] | None


class _Filtered(BaseModel):
    """Hard filters shared by the product-list tools."""

    price_min: float | None = Field(default=None, ge=0, description="lowest price, only if said / 最低价")
    price_max: float | None = Field(default=None, ge=0, description="highest price, only if said / 最高价")
    color: _Many = Field(default=None, description="colour, only if said / 颜色, e.g. 红色, red")
    category: _Many = Field(default=None, description="category, only if said / 类目")
    brand: _Many = Field(default=None, description="brand, only if said / 品牌")
    size: _Many = Field(default=None, description="size, only if said / 尺码, e.g. M, 42")
    exclude_brands: list[_Text] | None = Field(default=None, max_length=10,
                                               description="brands the shopper does not want / 不要的品牌")
    exclude_ids: list[_Text] | None = Field(default=None, max_length=50,
                                            description="products not to show again / 不要再推荐的商品")
    in_stock: bool | None = Field(default=None, description="true if the shopper wants it in stock / 只要有货")
    waterproof: bool | None = Field(default=None, description="true if it must be waterproof / 防水")


class SearchCatalogArgs(_Filtered):
    """Arguments of search_catalog."""

    query: str = Field(default="", max_length=200,
                       description="what the shopper wants, in their words / 商品描述, e.g. 红色连衣裙")
    kinds: list[_Text] | None = Field(default=None, max_length=6,
                                      description="kinds of product wanted, e.g. 电热水器, coffee maker")
    specs: list[_Text] | None = Field(default=None, max_length=4, description="specs as said, e.g. 60升, 16oz / 规格")
    keywords: list[_Text] | None = Field(default=None, max_length=4,
                                         description="words the products must mention / 必须提到的词")
    sort: Literal["relevance", "price"] = Field(default="relevance", description="price: cheapest first / 从便宜到贵")
    image: bool | str | None = Field(default=None, description="true: search by the shopper's photo / 按图片找")
    widen: bool | None = Field(default=None, description="true: the kinds are ideas for a need or a gift, other "
                               "products may follow / 种类只是建议")


class SimilarArgs(_Filtered):
    """Arguments of similar_products."""

    product_id: _Text = Field(description="id of a product shown / 商品编号")
    modality: Literal["fused", "text", "image"] = Field(
        default="fused", description="fused (default), text, or image (looks alike / 长得像)")


class RecommendArgs(_Filtered):
    """Arguments of recommend_for_user."""

    k: int | None = Field(default=None, ge=1, le=20, description="how many / 数量")
    exclude_seen: bool | None = Field(default=None, description="leave out what was already shown / 不要看过的")


class DetailsArgs(BaseModel):
    """Arguments of product_details."""

    product_ids: list[_Text] = Field(min_length=1, max_length=10, description="ids of products shown / 商品编号")


class CompareArgs(BaseModel):
    """Arguments of compare_products."""

    product_ids: list[_Text] = Field(min_length=2, max_length=5, description="2-5 ids of products shown / 商品编号")


class AnswerArgs(BaseModel):
    """Arguments of answer_about_product."""

    product_id: _Text | None = Field(default=None, description="id of the product asked about / 商品编号")
    product_ids: list[_Text] | None = Field(default=None, max_length=10, description="several ids: ask each / 多个编号")
    question: str = Field(max_length=300, description="the shopper's question, in their words / 顾客的问题")


class CopyArgs(BaseModel):
    """Arguments of write_copy."""

    product_id: _Text = Field(description="id of the product / 商品编号")
    style: Literal["简洁", "活泼", "高端", "促销", "concise", "playful", "premium", "promotional"] = Field(
        default="简洁", description="copy style / 文案风格")
    language: Literal["zh", "en"] = Field(default="zh", description="zh (中文) or en")


# -- argument checks --------------------------------------------------------------------------------------
def _many(value: _Many) -> list[str]:
    if value in (None, "", []):
        return []
    return [str(v).strip() for v in (value if isinstance(value, list) else [value]) if str(v).strip()]


def _category(index: CatalogIndex, raw: str) -> str:
    known = index.vocabulary.categories
    value = raw.strip()
    if value in known:
        return value
    for cat in known:
        if value.lower() == cat.lower() or value.lower() in category_aliases(cat):
            return cat
    raise choice_error("category", raw, sorted(known), "Leave category out unless the shopper named one.")


def _brands(index: CatalogIndex, raw: str) -> tuple[str, ...]:
    value = raw.strip().lower()
    known = sorted(index.vocabulary.brands)
    hits = tuple(b for b in known if b.lower() == value or value in b.lower().split())
    if not hits:
        raise choice_error("brand", raw, known, "Leave brand out unless the shopper named one of these.")
    return hits


def filters_from_args(index: CatalogIndex, args: _Filtered) -> Filters:
    """The hard filters a tool's arguments ask for; unknown values become ToolErrors naming the valid ones."""
    values: dict[str, Any] = {k: getattr(args, k) for k in ("price_min", "price_max")
                              if getattr(args, k) is not None}
    colors = []
    for raw in _many(args.color):
        canon = normalize_color(raw)
        if canon is None:
            raise choice_error("color", raw, list(COLORS), "Leave color out unless the shopper said one.")
        colors.append(canon)
    if colors:
        values["colors"] = tuple(dict.fromkeys(colors))
    if cats := _many(args.category):
        values["categories"] = tuple(dict.fromkeys(_category(index, c) for c in cats))
    if brands := _many(args.brand):
        values["brands"] = tuple(dict.fromkeys(b for raw in brands for b in _brands(index, raw)))
    if sizes := _many(args.size):
        values["sizes"] = tuple(dict.fromkeys(s.upper() for s in sizes))
    if args.exclude_brands:
        values["exclude_brands"] = tuple(dict.fromkeys(args.exclude_brands))
    if args.exclude_ids:
        values["exclude_ids"] = tuple(dict.fromkeys(args.exclude_ids))
    if args.in_stock:
        values["in_stock"] = True
    if args.waterproof:
        values["waterproof"] = True
    try:
        return Filters(**values)
    except ValidationError as e:
        reasons = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise ToolError(f"Invalid filters: {reasons}.") from e


# -- the tools ----------------------------------------------------------------------------------------------
def _search(ctx: ToolContext, a: SearchCatalogArgs) -> Any:
    image = ctx.image if a.image else None
    if a.image and image is None:
        raise ToolError("image=true but the shopper sent no photo this turn; search by text instead.")
    if not a.query.strip() and image is None and not a.kinds:
        raise ToolError("query is empty. Pass what the shopper is looking for, e.g. '红色连衣裙'.")
    return search_catalog(ctx.index, query=a.query, filters=filters_from_args(ctx.index, a), kinds=a.kinds,
                          specs=a.specs, keywords=a.keywords, sort=a.sort, image=image, k=ctx.k, recent=ctx.recent,
                          widen=bool(a.widen))


def _similar(ctx: ToolContext, a: SimilarArgs) -> Any:
    """More of the same kind: the anchor's own category first, the whole catalog only when that gives fewer than 2."""
    filters = filters_from_args(ctx.index, a)
    anchor = next(iter(ctx.index.store.get_products([a.product_id])), None)
    if anchor is not None and anchor.category and not filters.categories:
        same = similar_products(ctx.index, anchor.id, k=ctx.k, modality=a.modality,
                                filters=filters.model_copy(update={"categories": (anchor.category,)}))
        if len(same.cards) >= 2:
            return same
    return similar_products(ctx.index, a.product_id, k=ctx.k, modality=a.modality, filters=filters)


def _recommend(ctx: ToolContext, a: RecommendArgs) -> Any:
    return recommend_for_user(ctx.index, list(ctx.interactions()), k=a.k or ctx.k,
                              filters=filters_from_args(ctx.index, a), exclude_seen=bool(a.exclude_seen))


def _answer(ctx: ToolContext, a: AnswerArgs) -> Any:
    if a.product_ids:  # one answer per product ("which one is waterproof?")
        return [answer_about_product(ctx.index, pid, a.question, lang=ctx.lang) for pid in a.product_ids]
    if not a.product_id:
        raise ToolError("product_id is missing. Pass the id of the product the shopper asks about.")
    return answer_about_product(ctx.index, a.product_id, a.question, lang=ctx.lang)


def _copy(ctx: ToolContext, a: CopyArgs) -> Any:
    if ctx.generate is None:
        raise ToolError("no language model is attached to write copy; start the agent with a model")
    return write_copy(ctx.index, a.product_id, style=a.style, language=a.language, generate=ctx.generate,
                      prompt_key=ctx.copy_prompt)


@dataclass(frozen=True)
class Tool:
    """One tool: the name a model calls, what it does, its argument schema and the function that runs it."""

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[ToolContext, Any], Any]


TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("search_catalog", "Find products by description and hard filters. 按描述和条件找商品。", SearchCatalogArgs,
         _search),
    Tool("similar_products", "Products like one already shown (更多类似 / 相似款). 找和某商品相似的商品。", SimilarArgs,
         _similar),
    Tool("recommend_for_user", "Personal picks from this shopper's history (猜你喜欢 / 推荐). 个性化推荐。",
         RecommendArgs, _recommend),
    Tool("product_details", "All catalog facts of products shown. 查看商品详情。", DetailsArgs,
         lambda ctx, a: product_details(ctx.index, a.product_ids, lang=ctx.lang)),
    Tool("compare_products", "Compare 2-5 products side by side. 对比商品。", CompareArgs,
         lambda ctx, a: compare_products(ctx.index, a.product_ids, lang=ctx.lang)),
    Tool("answer_about_product", "Answer a question about a product from the catalog (防水吗/有M码吗/多少钱). "
         "回答关于某商品的问题。", AnswerArgs, _answer),
    Tool("write_copy", "Write product copy: title, selling points, description. 写商品文案。", CopyArgs, _copy),
)}
TOOL_NAMES = tuple(TOOLS)


def validation_message(name: str, e: ValidationError) -> str:
    """What a model reads when its arguments to tool `name` do not validate: each bad field and why."""
    reasons = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors())
    return f"Invalid arguments ({reasons}) for {name}. Fix them and call the tool again."


def call_tool(context: ToolContext, name: str, args: dict[str, Any]) -> Any:
    """Run tool `name` with `args` (validated by its schema). Raises ToolError for an unknown tool or bad args."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolError(f"Unknown tool {name!r}; should be one of: {', '.join(TOOL_NAMES)}.")
    try:
        parsed = tool.args.model_validate(args)
    except ValidationError as e:
        raise ToolError(validation_message(name, e)) from e
    return tool.run(context, parsed)
