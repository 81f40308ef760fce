"""The Product record (the catalog contract of DESIGN.md) and its validation."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["MAX_PRICE", "Product", "RowError", "validate_row"]

MAX_PRICE = 10_000_000.0  # a price above this (CNY or otherwise) is treated as a data error, not a product
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class Product(BaseModel):
    """One catalog product. JSON Lines / CSV rows with these field names validate into it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(default="", max_length=100)
    brand: str = Field(default="", max_length=100)
    price: float | None = None
    currency: str = "CNY"
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    stock: int | None = None
    url: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"id must be a string, got {v!r}")
        if isinstance(v, int):
            return str(v)
        return v

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, bool):
            raise ValueError(f"price must be a number, got {v!r}")
        if isinstance(v, str):
            raw = v.strip().replace(",", "").lstrip("¥￥$").strip()
            try:
                v = float(raw)
            except ValueError as e:
                raise ValueError(f"price {v!r} is not a number; write it like 199 or 199.00") from e
        if not isinstance(v, int | float) or math.isnan(v) or math.isinf(v):
            raise ValueError(f"price {v!r} is not a finite number")
        if v < 0:
            raise ValueError(f"price {v} is negative; prices must be >= 0")
        if v > MAX_PRICE:
            raise ValueError(f"price {v} is absurd (over {MAX_PRICE:,.0f}); check the unit or the column")
        return float(v)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return "CNY"
        v = str(v).strip().upper()
        if v in {"RMB", "元", "￥", "¥"}:
            return "CNY"
        if not _CURRENCY.match(v):
            raise ValueError(f"currency {v!r} is not a 3-letter ISO code such as CNY or USD")
        return v

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, v: Any) -> Any:
        if v is None or v == "":
            return {}
        if not isinstance(v, dict):
            raise ValueError(f"attributes must be an object of text values, got {type(v).__name__}")
        out = {}
        for k, val in v.items():
            if isinstance(val, dict | list):
                raise ValueError(f"attribute {k!r} must be text, got {type(val).__name__}")
            if val is None:
                continue
            out[str(k).strip()] = str(val).strip()
        return out

    @field_validator("tags", "images", mode="before")
    @classmethod
    def _str_list(cls, v: Any) -> Any:
        if v is None or v == "":
            return []
        if isinstance(v, str):
            return [p.strip() for p in re.split(r"[|,，;；]", v) if p.strip()]
        if not isinstance(v, list):
            raise ValueError(f"expected a list of strings, got {type(v).__name__}")
        return [str(x).strip() for x in v if str(x).strip()]

    @field_validator("stock", mode="before")
    @classmethod
    def _stock(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, bool):
            raise ValueError(f"stock must be a whole number, got {v!r}")
        if isinstance(v, str):
            try:
                v = float(v.strip())
            except ValueError as e:
                raise ValueError(f"stock {v!r} is not a whole number") from e
        if isinstance(v, float):
            if not v.is_integer():
                raise ValueError(f"stock {v} is not a whole number")
            v = int(v)
        if v < 0:
            raise ValueError(f"stock {v} is negative")
        return v

    @field_validator("description", "category", "brand", "url", "title", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, int | float) and not isinstance(v, bool):
            return str(v)
        return v


class RowError(BaseModel):
    """A rejected row: where it was and why. Printed as `file:line: reason`."""

    source: str
    line: int
    reason: str
    product_id: str | None = None

    def __str__(self) -> str:
        pid = f" [{self.product_id}]" if self.product_id else ""
        return f"{self.source}:{self.line}:{pid} {self.reason}"


def validate_row(row: dict[str, Any], source: str, line: int) -> Product | RowError:
    """Validate one raw row; a bad row becomes a RowError naming the field and the problem."""
    try:
        return Product.model_validate(row)
    except ValidationError as e:
        reasons = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "row"
            msg = err["msg"].removeprefix("Value error, ")
            reasons.append(f"{loc}: {msg}")
        pid = row.get("id") if isinstance(row.get("id"), str | int) else None
        return RowError(source=source, line=line, reason="; ".join(reasons), product_id=str(pid) if pid else None)
