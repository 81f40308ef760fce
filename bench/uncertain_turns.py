"""How many turns of the dialogue suite give the rules no clear cue (the turns the LLM tool proposer is asked about).

    python bench/uncertain_turns.py          # ~3 min on 2 cores, no LLM needed

The proposer (DAOGOU_TOOL_PROPOSER=llm) is consulted only when `Reading.uncertain`; this counts those turns by
watching `choose_tool` while the suite runs with fixed sentences, and lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, force_offline  # noqa: E402


def main() -> None:
    """Run the suite without a model and print the uncertain turns."""
    force_offline()
    import daogou.agent.agent as dialogue
    from daogou.evals.agent_suite import run_dialogue_eval
    from daogou.settings import Settings

    uncertain: list[str] = []
    choose = dialogue.choose_tool

    def watching(reading, state, has_image, proposal=None, **kwargs):
        if reading.uncertain:
            uncertain.append(reading.parsed.text)
        return choose(reading, state, has_image, proposal, **kwargs)

    dialogue.choose_tool = watching
    report, _ = run_dialogue_eval(Settings.from_env(llm="none"), ROOT / "tests" / "dialogues", writer=None)
    print(f"uncertain turns: {len(uncertain)} of {report.turn_rate().total}")
    for text in uncertain:
        print(f"  {text}")


if __name__ == "__main__":
    main()
