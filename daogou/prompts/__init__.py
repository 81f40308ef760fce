"""Prompt templates as package data (YAML), rendered with jinja2 StrictUndefined so a missing variable fails loudly.

Each `daogou/prompts/<name>.yaml` holds a mapping of template keys to jinja2 strings, usually per language:

    system:
      zh: "你是{{ shop_name }}的导购..."
      en: "You are the shopping assistant of {{ shop_name }}..."

`render("agent", "system", lang="zh", shop_name="...")` renders one; `load_prompts("agent")` returns the raw mapping
(few-shot examples live in the same files, as data).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError

__all__ = ["PromptError", "available_prompts", "load_prompts", "render"]

_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


class PromptError(LookupError):
    """A prompt file, key or language is missing, or a template variable was not given."""


def available_prompts() -> list[str]:
    """Names of the prompt files shipped in this package."""
    return sorted(p.name.removesuffix(".yaml") for p in resources.files(__package__).iterdir()
                  if p.name.endswith(".yaml"))


@cache
def load_prompts(name: str) -> dict[str, Any]:
    """The parsed YAML of `daogou/prompts/<name>.yaml`."""
    path = resources.files(__package__) / f"{name}.yaml"
    if not path.is_file():
        raise PromptError(f"no prompt file {name!r}; available: {available_prompts()}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PromptError(f"prompt file {name}.yaml must hold a mapping of keys to templates")
    return data


def render(name: str, key: str, *, lang: str | None = None, **variables: Any) -> str:
    """Render template `key` of prompt file `name` (in language `lang` when the entry is per-language)."""
    entry = load_prompts(name).get(key)
    if entry is None:
        raise PromptError(f"prompt {name}.yaml has no key {key!r}; keys: {sorted(load_prompts(name))}")
    if isinstance(entry, dict):
        if lang not in entry:
            raise PromptError(f"prompt {name}.yaml:{key} has no language {lang!r}; languages: {sorted(entry)}")
        entry = entry[lang]
    try:
        return _ENV.from_string(str(entry)).render(**variables).strip()
    except TemplateError as e:
        raise PromptError(f"prompt {name}.yaml:{key} ({lang}): {e}; pass every variable the template uses") from e
