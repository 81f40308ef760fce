"""A GGUF model's own chat template, read from the file's metadata and rendered in Python.

The llama.cpp engine is given the finished prompt text, rendered here with the template the model was trained
with (the same Jinja text transformers reads into the bf16 copy's tokenizer), so the engine and the
transformers reference see identical prompts, tools are shown the way the model expects (Qwen2.5: Hermes
`<tools>` in the system turn), and a reply can be forced to start with a given text (`<tool_call>\\n`).

"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from daogou.llm.gguf_file import gguf_metadata
from daogou.model_files import ModelError

__all__ = ["ChatTemplate"]

def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    # as transformers renders chat templates: plain json.dumps, no HTML escaping (Jinja's own tojson escapes <>&')
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise(message: str) -> None:
    raise ValueError(f"the chat template refused the messages: {message}")


class ChatTemplate:
    """The chat template of a GGUF file, rendered as transformers renders it (sandboxed Jinja, same filters).

    Example:
        >>> t = ChatTemplate.from_gguf(path)
        >>> t.render([{"role": "user", "content": "你好"}])
        '<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n你好<|im_end|>\\n<|im_start|>assistant\\n'
    """

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self.source = source
        self._template = env.from_string(source)
        self.bos_token, self.eos_token = bos_token, eos_token

    @classmethod
    def from_gguf(cls, path: Path) -> ChatTemplate:
        """The template stored in `path` (`tokenizer.chat_template`); ModelError when it has none."""
        meta = gguf_metadata(Path(path))
        source = meta.get("tokenizer.chat_template")
        if not isinstance(source, str) or not source.strip():
            raise ModelError(f"{path} has no chat template in its metadata; use an instruct (chat) model")
        return cls(source, bos_token=meta.get("tokenizer.ggml.bos_token", ""),
                   eos_token=meta.get("tokenizer.ggml.eos_token", ""))

    def render(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               assistant_prefix: str = "") -> str:
        """The prompt text for `messages` (and `tools`), ready for the assistant's reply, plus `assistant_prefix`."""
        if not messages:
            raise ValueError("messages is empty; give at least one {'role': 'user', 'content': ...}")
        text = self._template.render(messages=messages, tools=tools or None, add_generation_prompt=True,
                                     bos_token=self.bos_token, eos_token=self.eos_token)
        return text + assistant_prefix

