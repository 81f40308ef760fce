"""`daogou eval copy`: ROUGE-1/2/L and BLEU-4 of generated product copy against copy written by people.

Each record's tags become a Product (`copy_data.CopyExample.to_product`) and go through
`copywriter.copy_for_product` — the prompt, parsing and grounding check that `write_copy` uses for shoppers —
with greedy decoding. The text scored is the copy's description (the paragraph, like the reference); when the
model wrote no description, its selling points and title stand in. Metrics: `textgen_metrics` (characters;
ROUGE over jieba words too, the convention of the published ChatGLM figures).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from daogou.evals.copy_data import CopyExample
from daogou.evals.textgen_metrics import score_pair
from daogou.tools.copywriter import CopyResult, copy_for_product

__all__ = ["CopyEvalReport", "RecordScore", "evaluate_copy", "format_copy_report", "scored_text"]

METRICS = ("rouge-1", "rouge-2", "rouge-l", "bleu-4", "rouge-1-word", "rouge-2-word", "rouge-l-word")


@dataclass
class RecordScore:
    """One record: what was generated, what it was compared with, its scores and generation figures."""

    line: int
    hypothesis: str
    reference: str
    scores: dict[str, float]
    decode_tokens: int = 0
    seconds: float = 0.0
    removed: list[str] = field(default_factory=list)
    raw: str = ""  # the model's output before parsing and the grounding check


@dataclass
class CopyEvalReport:
    """Mean scores (×100) over the records, and how long generation took."""

    records: list[RecordScore]
    settings: dict[str, Any]

    @property
    def n(self) -> int:
        """Number of records scored."""
        return len(self.records)

    def means(self) -> dict[str, float]:
        """Each metric's mean over the records, ×100, rounded to 2 decimals."""
        if not self.records:
            return {m: 0.0 for m in METRICS}
        return {m: round(100 * sum(r.scores[m] for r in self.records) / self.n, 2) for m in METRICS}

    def to_dict(self, with_records: bool = False) -> dict[str, Any]:
        """The figures as JSON-ready data (`records` too when asked)."""
        tokens = sum(r.decode_tokens for r in self.records)
        seconds = sum(r.seconds for r in self.records)
        out: dict[str, Any] = {**self.means(), "n": self.n, "generation_s": round(seconds, 1),
                               "decode_tokens": tokens, "tok_s": round(tokens / seconds, 2) if seconds else 0.0,
                               "mean_chars": round(sum(len(r.hypothesis) for r in self.records) / max(1, self.n), 1),
                               "empty": sum(1 for r in self.records if not r.hypothesis),
                               "settings": self.settings}
        if with_records:
            out["records"] = [r.__dict__ for r in self.records]
        return out


def scored_text(copy: CopyResult) -> str:
    """The part of the copy compared with the reference: the description, else the points and title."""
    return copy.description or "".join(copy.selling_points) or copy.title


def evaluate_copy(examples: Sequence[CopyExample], generate: Callable[[str], str], *, style: str = "简洁",
                  language: str = "zh", prompt_key: str = "prompt",
                  stats: Callable[[], tuple[int, float]] | None = None,
                  on_record: Callable[[RecordScore], None] | None = None,
                  settings: dict[str, Any] | None = None) -> CopyEvalReport:
    """Generate copy for each example with `generate` (prompt -> text) and score it against its reference.

    `stats`, when given, returns (tokens decoded, seconds) of the last generation (LocalLLM.last_stats).
    """
    records: list[RecordScore] = []
    for ex in examples:
        t0 = time.perf_counter()
        copy = copy_for_product(ex.to_product(), style=style, language=language, generate=generate,
                                prompt_key=prompt_key)
        tokens, seconds = stats() if stats else (0, time.perf_counter() - t0)
        hyp = scored_text(copy)
        rec = RecordScore(line=ex.line, hypothesis=hyp, reference=ex.reference, scores=score_pair(hyp, ex.reference),
                          decode_tokens=tokens, seconds=seconds, removed=copy.removed, raw=copy.raw)
        records.append(rec)
        if on_record:
            on_record(rec)
    return CopyEvalReport(records=records, settings=dict(settings or {}))


def format_copy_report(report: CopyEvalReport) -> str:
    """A table for people: the metrics ×100, n, and generation time."""
    d = report.to_dict()
    head = f"{'':<10}{'ROUGE-1':>9}{'ROUGE-2':>9}{'ROUGE-L':>9}{'BLEU-4':>8}{'n':>5}"
    rows = [head,
            f"{'chars':<10}{d['rouge-1']:>9.2f}{d['rouge-2']:>9.2f}{d['rouge-l']:>9.2f}{d['bleu-4']:>8.2f}{d['n']:>5}",
            f"{'jieba':<10}{d['rouge-1-word']:>9.2f}{d['rouge-2-word']:>9.2f}{d['rouge-l-word']:>9.2f}{'':>8}{d['n']:>5}",
            f"generation: {d['generation_s']} s, {d['decode_tokens']} tokens, {d['tok_s']} tok/s; "
            f"mean length {d['mean_chars']} chars, {d['empty']} empty"]
    return "\n".join(rows)
