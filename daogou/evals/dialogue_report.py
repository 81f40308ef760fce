"""Results of the dialogue suite: per turn, per dialogue, per behaviour tag; a text report and a JSON form."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DialogueResult", "Failure", "Rate", "SuiteReport", "TurnResult", "format_report"]


@dataclass(frozen=True)
class Failure:
    """One failed check: which kind (tools, args, products, grounded, language, text, honesty, output, run) and why."""

    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.check}: {self.reason}"


@dataclass(frozen=True)
class TurnResult:
    """One turn: what the shopper said, what the agent did, and the checks it failed (none = passed)."""

    index: int  # 1-based
    user: str
    failures: list[Failure]
    tools: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    text: str = ""
    ms: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every check of the turn passed."""
        return not self.failures


@dataclass(frozen=True)
class DialogueResult:
    """All turns of one dialogue."""

    id: str
    group: str
    tags: list[str]
    language: str
    turns: list[TurnResult]

    @property
    def passed(self) -> bool:
        """True when every turn passed."""
        return all(t.passed for t in self.turns)


@dataclass(frozen=True)
class Rate:
    """passed out of total."""

    passed: int
    total: int

    @property
    def rate(self) -> float:
        """Share passed (0.0 when total is 0)."""
        return self.passed / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} ({self.rate:.0%})"


@dataclass(frozen=True)
class SuiteReport:
    """The whole run. Turn pass rate is the headline figure; tags, groups and languages break it down."""

    dialogues: list[DialogueResult]

    @property
    def turns(self) -> list[TurnResult]:
        """Every turn of every dialogue."""
        return [t for d in self.dialogues for t in d.turns]

    @property
    def turn_pass_rate(self) -> float:
        """Share of turns whose every check passed."""
        return self.turn_rate().rate

    def turn_rate(self) -> Rate:
        """Turns passed out of turns run."""
        return Rate(sum(t.passed for t in self.turns), len(self.turns))

    def dialogue_rate(self) -> Rate:
        """Dialogues with every turn passed."""
        return Rate(sum(d.passed for d in self.dialogues), len(self.dialogues))

    def _by(self, keys: Any) -> dict[str, Rate]:
        passed: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for d in self.dialogues:
            for key in keys(d):
                total[key] += len(d.turns)
                passed[key] += sum(t.passed for t in d.turns)
        return {k: Rate(passed[k], total[k]) for k in sorted(total)}

    def by_tag(self) -> dict[str, Rate]:
        """Turn pass rate per behaviour tag (a dialogue's turns count under each of its tags)."""
        return self._by(lambda d: d.tags)

    def by_group(self) -> dict[str, Rate]:
        """Turn pass rate per dialogue file."""
        return self._by(lambda d: [d.group])

    def by_language(self) -> dict[str, Rate]:
        """Turn pass rate per shopper language."""
        return self._by(lambda d: [d.language])

    def failures_by_check(self) -> dict[str, int]:
        """How often each kind of check failed, most frequent first."""
        return dict(Counter(f.check for t in self.turns for f in t.failures).most_common())

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary and details."""
        def rates(m: dict[str, Rate]) -> dict[str, dict[str, float]]:
            return {k: {"passed": r.passed, "total": r.total, "rate": round(r.rate, 4)} for k, r in m.items()}

        return {
            "turn_pass_rate": round(self.turn_pass_rate, 4),
            "turns": {"passed": self.turn_rate().passed, "total": self.turn_rate().total},
            "dialogues": {"passed": self.dialogue_rate().passed, "total": self.dialogue_rate().total},
            "by_tag": rates(self.by_tag()),
            "by_group": rates(self.by_group()),
            "by_language": rates(self.by_language()),
            "failures_by_check": self.failures_by_check(),
            "results": [
                {"id": d.id, "group": d.group, "tags": d.tags, "language": d.language, "passed": d.passed,
                 "turns": [{"turn": t.index, "user": t.user, "passed": t.passed, "tools": t.tools,
                            "products": t.product_ids, "text": t.text, "ms": round(t.ms, 1),
                            "failures": [{"check": f.check, "reason": f.reason} for f in t.failures]}
                           for t in d.turns]}
                for d in self.dialogues],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """`to_dict` as JSON text (UTF-8 characters kept)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def format_report(report: SuiteReport, *, show_passed: bool = False, max_text: int = 160) -> str:
    """A report for people: headline rates, rates per group/tag/language, then every failed turn with reasons."""
    lines = [f"turns passed: {report.turn_rate()}   dialogues passed: {report.dialogue_rate()}"]
    for title, rates in (("by group", report.by_group()), ("by language", report.by_language()),
                         ("by tag", report.by_tag())):
        lines.append(f"\n{title}:")
        lines += [f"  {k:<22} {r}" for k, r in rates.items()]
    if report.failures_by_check():
        lines.append("\nfailed checks: " + ", ".join(f"{k} {n}" for k, n in report.failures_by_check().items()))
    for d in report.dialogues:
        if d.passed and not show_passed:
            continue
        lines.append(f"\n[{'PASS' if d.passed else 'FAIL'}] {d.group}/{d.id} ({d.language}; {', '.join(d.tags)})")
        for t in d.turns:
            if t.passed and not show_passed:
                continue
            text = t.text.replace("\n", " ")
            text = text if len(text) <= max_text else text[:max_text] + "…"
            lines.append(f"  turn {t.index} {'ok' if t.passed else 'FAIL'}: {t.user}")
            lines.append(f"    tools={t.tools} products={t.product_ids[:6]} {t.ms:.0f} ms")
            lines.append(f"    reply: {text}")
            lines += [f"    - {f}" for f in t.failures]
    return "\n".join(lines)
