"""The scripted dialogue suite against the real agent: real e5/EfficientNet store, real bundled LLM — on the demo
catalog and on its re-keyed variant (SKU ids, English attribute keys, USD prices), which sells the same things and
so must pass as often.

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
from daogou.settings import Settings

pytestmark = pytest.mark.integration

SUITE = Path(__file__).parent
# Regression floors, not targets (issue 10 aims at >= 0.95). Measured with the bundled 0.5B on the llama.cpp engine:
# 0.89 before the default no_leak check, ~0.72 with it (the Chinese reply writer echoes its instruction,
# "推荐最符合顾客需求的那件…"); 0.95 without the model. Raise them as the replies stop leaking.
FLOOR = 0.65
VARIANT = "all"  # ids SKU-####, English attribute keys, USD prices: every re-keying at once
VARIANT_FLOOR = 0.65  # the original's floor: a variant sells the same things (measured within a turn or two of it)


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
    report, latency = run_dialogue_eval(settings, SUITE, writer=writer, variant=VARIANT)
    _save(f"dialogues-{VARIANT}.json", report, latency)
    assert report.turn_pass_rate >= VARIANT_FLOOR, format_report(report)
