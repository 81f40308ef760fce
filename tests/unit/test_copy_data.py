"""The AdvertiseGen reader (bad lines reported with line and reason), the seeded split and the sample."""

import json
from pathlib import Path

import pytest

from daogou.evals.copy_data import CopyExample, parse_content, read_copy_pairs, sample, split_examples

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev" / "advertisegen_dev.jsonl"


def _write(tmp_path, lines):
    p = tmp_path / "copy.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _ex(i: int) -> CopyExample:
    return CopyExample(line=i, attributes={"类型": "裙"}, reference=f"文案{i}", content=f"类型#裙*编号#{i}")


def test_parse_content_joins_repeated_keys():
    assert parse_content("类型#裙*风格#复古*风格#文艺*风格#复古") == {"类型": "裙", "风格": "复古、文艺"}
    with pytest.raises(ValueError, match="not key#value"):
        parse_content("类型#裙*简约")


def test_reader_keeps_good_rows_and_reports_bad_ones(tmp_path):
    good = json.dumps({"content": "类型#上衣*颜色#白色", "summary": "一件白色上衣。"}, ensure_ascii=False)
    path = _write(tmp_path, [
        good,
        "{not json",
        json.dumps({"content": "", "summary": "x"}),
        json.dumps({"content": "类型#裤", "summary": "  "}),
        json.dumps({"content": "类型#裤*宽松", "summary": "文案"}, ensure_ascii=False),
        json.dumps(["a", "b"]),
        "",
        good,
    ])
    rows, bad = read_copy_pairs(path)
    assert [r.line for r in rows] == [1, 8]
    assert rows[0].attributes == {"类型": "上衣", "颜色": "白色"} and rows[0].reference == "一件白色上衣。"
    reasons = {e.line: e.reason for e in bad}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "invalid JSON" in reasons[2] and "content is missing" in reasons[3] and "summary is missing" in reasons[4]
    assert "'宽松' is not key#value" in reasons[5] and "got list" in reasons[6]
    assert str(bad[0]).startswith("line 2: ")


def test_record_becomes_a_product_named_by_its_type():
    p = CopyExample(line=3, attributes={"类型": "上衣", "颜色": "白色"}, reference="x", content="").to_product()
    assert p.title == "上衣" and p.attributes == {"颜色": "白色"} and p.id == "line3"


def test_split_is_disjoint_complete_deterministic_and_seeded():
    examples = [_ex(i) for i in range(400)]
    train, held = split_examples(examples, heldout=0.25, seed=1)
    assert {e.line for e in train}.isdisjoint({e.line for e in held})
    assert len(train) + len(held) == 400 and 60 < len(held) < 140
    again_train, again_held = split_examples(list(reversed(examples)), heldout=0.25, seed=1)
    assert {e.line for e in again_held} == {e.line for e in held}  # order of the file does not matter
    assert {e.line for e in split_examples(examples, heldout=0.25, seed=2)[1]} != {e.line for e in held}
    with pytest.raises(ValueError, match="heldout=1.5"):
        split_examples(examples, heldout=1.5)


def test_sample_is_seeded_and_in_file_order():
    examples = [_ex(i) for i in range(50)]
    a, b = sample(examples, 10, seed=3), sample(examples, 10, seed=3)
    assert a == b and len(a) == 10 and [e.line for e in a] == sorted(e.line for e in a)
    assert sample(examples, 10, seed=4) != a
    assert sample(examples, None) == examples and sample(examples, 99) == examples
    with pytest.raises(ValueError, match="limit=0"):
        sample(examples, 0)


def test_the_advertisegen_dev_file_reads_cleanly():
    if not DEV.is_file():
        pytest.skip(f"{DEV} is absent (evaluation data lives in ../shared/data, outside the repo)")
    rows, bad = read_copy_pairs(DEV)
    assert len(rows) == 1070 and bad == []
    train, held = split_examples(rows)
    assert len(train) + len(held) == 1070 and 150 < len(held) < 280
