"""Small GGUF files for unit tests: a real header (metadata, vocabulary, tensor shapes) around tiny tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
            "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def write_gguf(path: Path, *, template: str | None = TEMPLATE, blocks: int = 0, hidden: int = 8, ffn: int = 16,
               kv: int = 4) -> Path:
    """A qwen2-architecture GGUF with `template`, a 4-token vocabulary and `blocks` layers of zero weights."""
    import gguf

    w = gguf.GGUFWriter(path, arch="qwen2")
    w.add_block_count(blocks)
    if template is not None:
        w.add_chat_template(template)
    w.add_token_list(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(2)
    shapes = {"attn_q": (hidden, hidden), "attn_k": (kv, hidden), "attn_v": (kv, hidden),
              "attn_output": (hidden, hidden), "ffn_gate": (ffn, hidden), "ffn_up": (ffn, hidden),
              "ffn_down": (hidden, ffn)}  # numpy (out, in)
    for b in range(blocks):
        for name, shape in shapes.items():
            w.add_tensor(f"blk.{b}.{name}.weight", np.zeros(shape, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
