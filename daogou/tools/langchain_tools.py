"""LangChain StructuredTool wrappers of the tool registry, for a chat model. The one file that knows LangChain.

`build_tools(context)` returns one StructuredTool per entry of `daogou.tools.registry.TOOLS`, bound to one
session's `ToolContext`: the same names, argument schemas and functions the agent runs through
`call_tool`, so there is one definition of each tool. A tool answers with `content_and_artifact`: compact
text for the model, and the typed result (cards, facts, trace) as the artifact for the UI and the checks.
A `ToolError` (or bad arguments) comes back to the model as text it can act on, never as a traceback.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from daogou.tools.catalog_search import CatalogSearch
from daogou.tools.copywriter import CopyResult
from daogou.tools.details import AnswerResult, ComparisonResult, DetailsResult
from daogou.tools.errors import ToolError
from daogou.tools.facts import price_text, stock_text
from daogou.tools.registry import TOOL_NAMES, TOOLS, Tool, ToolContext, call_tool, validation_message
from daogou.tools.search import ProductCard, SearchResult

__all__ = ["TOOL_NAMES", "ToolContext", "build_tools", "result_text"]


# -- text for the model ------------------------------------------------------------------------------------
def _card_line(c: ProductCard, lang: str) -> str:
    attrs = "; ".join(f"{k}: {v}" for k, v in c.attributes.items())
    parts = [f"{c.id} {c.title}", price_text(c.price, c.currency, lang), c.brand, attrs, stock_text(c.stock, lang)]
    return " | ".join(p for p in parts if p)


def result_text(result: Any, lang: str = "zh") -> str:
    """The compact text a tool result shows the model: its trace, then the products and facts it holds."""
    if isinstance(result, list):  # several answers (one per product)
        return "\n".join(result_text(r, lang) for r in result)
    if isinstance(result, CatalogSearch):
        result = result.result
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


def _tool(tool: Tool, context: ToolContext) -> BaseTool:
    def run(**kwargs: Any) -> tuple[str, Any]:
        try:
            result = call_tool(context, tool.name, {k: v for k, v in kwargs.items() if v is not None})
        except ToolError as e:
            raise ToolException(str(e)) from e
        return result_text(result, context.lang), result

    return StructuredTool.from_function(
        func=run, name=tool.name, description=tool.description, args_schema=tool.args,
        response_format="content_and_artifact", handle_tool_error=True,
        handle_validation_error=lambda e: validation_message(tool.name, e),
    )


def build_tools(context: ToolContext) -> list[BaseTool]:
    """The tools of one chat session, bound to `context` (see the module docstring)."""
    return [_tool(tool, context) for tool in TOOLS.values()]
