"""The catalog derived from Taobao titles: every field from the title alone, deterministically (no data needed here;
the real 700 titles are checked in test_suite_format.py when ../shared/data is present)."""

from __future__ import annotations

import json

import pytest

from daogou.evals.taobao_catalog import PRICE_RANGES, build_title_catalog, derive_product, read_titles
from daogou.ingest.schema import Product


def test_category_goes_to_the_rule_with_the_most_keyword_text():
    washer = derive_product("D1", "美的MG/MD100A5 10公斤变频滚筒洗衣机洗烘一体祛味空气洗优惠品")
    assert washer["category"] == "家用电器" and "洗衣机" in washer["tags"]
    panel = derive_product("D2", "4mm电视集成背景墙护墙板收口收边条工字阴阳角金属装饰线条卡条")
    assert panel["category"] == "家居家装"  # 背景墙 + 墙板 + 装饰 outweigh 电视
    assert derive_product("D3", "道定黑九尾4号l")["category"] == "其他"


def test_free_shipping_is_not_a_bag():
    beef = derive_product("D4", "全熟牛拆骨肉 牛筋头巴脑 牛削骨肉 牛杂 包邮 1斤价格")
    assert beef["category"] == "食品生鲜" and "背包" not in beef["tags"]


def test_a_stated_price_wins_else_a_stable_hash_within_the_category_range():
    assert derive_product("D5", "正宗的一块杭州老厂含金丝十五彩丝绸豪华面料。一口价158包邮")["price"] == 158
    assert derive_product("D6", "TT语音2000T豆20元充值 无需密码【自动充值】")["price"] == 20
    assert derive_product("D7", "第2件0元 眼镜链女挂脖复古洛丽塔眼睛链子")["price"] > 0  # 0元 is no price
    kettle = derive_product("D8", "冰箱冷水壶冷水壶带龙头放冰箱玻璃客厅家用5升超大容量密封防潮")
    lo, hi = PRICE_RANGES[kettle["category"]]
    assert lo <= kettle["price"] <= hi
    assert derive_product("D8", kettle["title"]) == kettle  # deterministic
    prices = {derive_product(f"D{n}", kettle["title"])["price"] for n in range(40)}  # the id is part of the hash
    assert len(prices) > 10 and all(lo <= p <= hi for p in prices)
    assert all(str(p).endswith(("9", ".9", "98")) or p in (lo, hi) for p in prices)


def test_brand_is_the_known_name_nearest_the_start():
    assert derive_product("D10", "LION/狮王80g Ferzea HA20尿素手足护理霜")["brand"] == "狮王"
    assert derive_product("D11", "正品苏泊尔高压锅限压阀排气阀")["brand"] == "苏泊尔"
    assert derive_product("D12", "小葵花针叶樱桃维生素c儿童小孩吃的维生素c营养")["brand"] == "小葵花"
    # a brand far into the title names what a part fits, not who made it
    assert derive_product("D13", "三位双控自动回弹开关点动复位常开常闭智能家居灯弱电触发小米")["brand"] == ""


def test_attributes_are_only_what_the_title_states():
    cup = derive_product("D14", "富光316不锈钢保温杯镜面内胆大容量男女便携车载学生儿童水杯子")
    assert cup["attributes"] == {"材质": "316不锈钢", "适用人群": "儿童/学生"}
    socket = derive_product("D15", "86型二位音频AV面板暗装双口音频红白音频插座白色黑色银色金色")
    assert socket["attributes"]["颜色"] == "黑色/白色/银色/金色"
    snack = derive_product("D16", "良品铺子榴莲干30gx2袋")
    assert snack["attributes"]["规格"] == "30gx2袋"
    cloth = derive_product("D17", "日本CAINZ 细纤维抹布加大洗碗布吸水易洗速干透气不易掉毛擦玻璃")
    assert "材质" not in cloth["attributes"]  # 擦玻璃 wipes glass; it is not made of it
    assert cup["description"] == cup["title"] and cup["currency"] == "CNY"


def test_the_catalog_file_is_valid_product_records(tmp_path):
    titles = tmp_path / "titles.jsonl"
    lines = [{"id": "D0001", "title": "富光316不锈钢保温杯"}, {"id": "D0002", "title": "美的10公斤变频滚筒洗衣机"}]
    titles.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")
    catalog = build_title_catalog(titles, tmp_path / "out")
    rows = [json.loads(line) for line in catalog.read_text(encoding="utf-8").splitlines()]
    assert [Product.model_validate(r).id for r in rows] == ["D0001", "D0002"]
    assert build_title_catalog(titles, tmp_path / "again").read_text() == catalog.read_text()


def test_a_bad_title_line_is_named(tmp_path):
    bad = tmp_path / "titles.jsonl"
    bad.write_text('{"id": "D1", "title": "ok"}\n{"id": "D2"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"titles.jsonl:2: expected \{\"id\": \.\.\., \"title\": \.\.\.\}"):
        read_titles(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"titles.jsonl:1: not JSON"):
        read_titles(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no titles"):
        build_title_catalog(empty, tmp_path / "out")
