"""The scripted dialogue suite against the real agent: real e5/EfficientNet store, real bundled LLM — on the demo
catalog and on its re-keyed variant (SKU ids, English attribute keys, USD prices; every other dialogue of each file),
which sells the same things and so must pass as often.

The pass rates are printed (and written to artifacts/dialogues*.json); the assertions are regression floors set from
the measured figures, not the targets: see the README's evaluation section for the current numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from daogou.evals.agent_suite import run_dialogue_eval
from daogou.evals.dialogue_report import format_report
from daogou.evals.dialogues import load_dialogues
from daogou.settings import Settings

pytestmark = pytest.mark.integration

SUITE = Path(__file__).parent
# Regression floors, not targets (issue 10 aims at >= 0.95). Measured on a quiet CPU with the bundled 0.5B on the
# llama.cpp engine and the model reading every turn (`python bench/agent_suites.py --both`): 146/149 (0.98) on the
# suite, 147/149 on its 'all' variant; 140/149 (0.94) with the rules alone (copy needs a model). A few turns of
# slack for a noisier CI machine, where a busy engine leaves a turn's reading to the rules.
FLOOR = 0.9
VARIANT = "all"  # ids SKU-####, English attribute keys, USD prices: every re-keying at once
VARIANT_FLOOR = 0.9  # the original's floor: a variant sells the same things (measured within a turn or two of it)


def variant_half() -> list[str]:
    """Every other dialogue of each file (all of a one-dialogue file): each capability on the variant, at half the
    time (the whole suite on the variant took 10 min of CI; `bench/agent_suites.py --both` runs all of it)."""
    return [d.id for df in load_dialogues([SUITE]) for d in (df.dialogues[1::2] or df.dialogues)]


@pytest.fixture(scope="module")
def agent_parts(models_home):
    from daogou.assistant import make_writer

    settings = Settings(home=models_home, models_path=Path(os.environ.get("DAOGOU_MODELS") or models_home / "models"))
    return settings, make_writer(settings)


def _save(name: str, report, latency) -> None:
    print(format_report(report))
    print(json.dumps(latency, indent=2))
    out = Path(__file__).resolve().parents[2] / "artifacts"
    out.mkdir(exist_ok=True)
    (out / name).write_text(json.dumps({"report": report.to_dict(), "latency_ms": latency}, ensure_ascii=False,
                                       indent=2), encoding="utf-8")


def test_dialogue_suite_with_the_real_model(agent_parts):
    settings, writer = agent_parts
    report, latency = run_dialogue_eval(settings, SUITE, writer=writer)
    _save("dialogues.json", report, latency)
    assert report.turn_pass_rate >= FLOOR, format_report(report)


def test_a_rekeyed_catalog_variant_with_the_real_model(agent_parts):
    settings, writer = agent_parts
    report, latency = run_dialogue_eval(settings, SUITE, writer=writer, variant=VARIANT, only=variant_half())
    _save(f"dialogues-{VARIANT}.json", report, latency)
    assert report.turn_pass_rate >= VARIANT_FLOOR, format_report(report)


def test_the_whole_rekeyed_variant_with_the_rules(models_home):
    """All 149 turns on the variant with the rules alone (real e5 store, no model: 27 s here): what the model half above
    leaves out is still run. Measured 142/149 on both the demo and the variant (copy needs a model)."""
    settings = Settings(home=models_home, models_path=Path(os.environ.get("DAOGOU_MODELS") or models_home / "models"),
                        llm="none")
    report, latency = run_dialogue_eval(settings, SUITE, writer=None, variant=VARIANT)
    _save(f"dialogues-{VARIANT}-rules.json", report, latency)
    assert report.turn_pass_rate >= VARIANT_FLOOR, format_report(report)
