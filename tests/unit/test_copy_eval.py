"""`evaluate_copy` with a scripted generator: the copywriter path is used, and the scores, table and JSON follow."""

import json

import pytest

from daogou.evals.copy_data import CopyExample
from daogou.evals.copy_eval import evaluate_copy, format_copy_report

EXAMPLES = [
    CopyExample(line=1, attributes={"类型": "裙", "颜色": "白色"}, reference="白色的裙子很好看",
                content="类型#裙*颜色#白色"),
    CopyExample(line=2, attributes={"类型": "裤", "材质": "牛仔布"}, reference="牛仔裤耐穿",
                content="类型#裤*材质#牛仔布"),
]


def test_a_generator_that_writes_the_reference_scores_100():
    refs = {"裙": "白色的裙子很好看", "裤": "牛仔裤耐穿"}
    prompts = []

    def generate(prompt: str) -> str:
        prompts.append(prompt)
        kind = "裙" if "名称：裙" in prompt else "裤"
        return f"标题：好物\n卖点：好看\n描述：{refs[kind]}"

    report = evaluate_copy(EXAMPLES, generate, settings={"limit": 2})
    d = report.to_dict()
    assert d["n"] == 2 and d["rouge-l"] == pytest.approx(100.0) and d["bleu-4"] == pytest.approx(100.0)
    assert "颜色：白色" in prompts[0] and "描述：" in prompts[0]  # the copywriter's own prompt
    assert d["settings"] == {"limit": 2} and d["empty"] == 0
    json.dumps(report.to_dict(with_records=True), ensure_ascii=False)


def test_ungrounded_sentences_are_removed_before_scoring():
    # a red skirt is not in the record (白色): that sentence is dropped, as for shoppers
    report = evaluate_copy(EXAMPLES[:1], lambda p: "描述：红色的裙子。白色的裙子很好看。")
    rec = report.records[0]
    assert rec.hypothesis == "白色的裙子很好看。" and rec.removed == ["红色的裙子。"]


def test_without_a_description_the_points_are_scored_and_the_table_prints():
    report = evaluate_copy(EXAMPLES[1:], lambda p: "标题：牛仔裤\n卖点：牛仔裤耐穿")
    assert report.records[0].hypothesis == "牛仔裤耐穿"
    table = format_copy_report(report)
    assert "ROUGE-L" in table and "BLEU-4" in table and "jieba" in table
    assert table.splitlines()[1].split()[-1] == "1"  # n


def test_prompt_key_selects_the_tuned_template():
    seen = []
    evaluate_copy(EXAMPLES[:1], lambda p: seen.append(p) or "描述：白裙", prompt_key="prompt_tuned")
    assert "【示例】" not in seen[0] and "描述：……" in seen[0]
