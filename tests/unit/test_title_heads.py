"""title_heads: whether a Chinese title is of a kind it writes, or only of a part, cover or holder of it.

The titles are real run-together shop titles (public Taobao titles) and made-up ones of the same shape; the words
that decide are Chinese word formation, so no catalog's vocabulary is assumed.
"""

import pytest

from daogou.tools.title_heads import head_in, is_head_kind, mostly_part, of_kind

AIRCON_COVER = "北欧全包空调罩挂式空调防尘套1.5匹2P印花布艺格力海尔卧室空调3"
TV = "小米电视32/43/55液晶高清全面屏人工智能网络英寸平板电视机"


@pytest.mark.parametrize(("title", "kind", "head", "part", "of"), [
    # a cover that also ends "卧室空调3": one head occurrence, two of a cover
    (AIRCON_COVER, "空调", True, True, False),
    (TV, "电视", True, False, True),  # "电视32": a head; "电视机" is no part
    ("免打孔多向花洒支架调节浴室喷头淋浴吸盘固定座支架电风吹风机架", "吹风机", False, True, False),  # a holder
    ("定做定制软包背景墙硬包床头皮革客厅异形电视沙发背景特价促销", "电视", False, True, False),  # a TV wall
    ("中式禅意桌旗新古典红木客厅桌布绣花餐桌电视柜茶几布艺床旗", "电视", False, True, False),  # a TV cabinet
    ("手机直播支架头相机三脚架配件手柄固定底座夹子转换接头", "手机", False, True, False),  # a stand, 4 chars on
    ("肥熊森海塞尔MX360 MX365 MX370 MX375耳机套MX580耳机海绵套耳套", "耳机", False, True, False),  # ear pads
    ("儿童电话手表4G全网通防水智能定位可视频通话适配华为小米电信手机", "手机", True, True, False),  # fits phones
    ("Beats Fit Pro无线Wireless降噪耳机蓝牙苹果安卓Earbuds入耳式", "耳机", False, False, True),  # attributes follow
    ("罗技无线电竞头戴式降噪7.1声道耳机", "耳机", True, False, True),
    ("电热水器家用 60升 储水式", "电热水器", True, False, True),  # a neutral ending
    ("儿童学习桌椅套装可升降", "桌椅", True, False, True),  # "套装" is a set, not a cover
    ("陶瓷马克杯", "耳机", False, False, False),  # not written at all
    # a kind that is itself a part: what follows or comes before is about the phone, not a new head
    ("iPhone15手机壳保护套全包防摔", "手机壳", False, False, True),
    ("适用苹果15手机壳 透明", "手机壳", True, False, True),
    ("适用苹果15手机壳 透明", "手机", False, True, False),
])
def test_heads_parts_and_kinds(title, kind, head, part, of):
    assert head_in(title, kind) is head
    assert mostly_part(title, kind) is part
    assert of_kind(title, kind) is of
    assert is_head_kind(title, kind) is (head and not part)


def test_case_and_spaces_do_not_matter():
    assert of_kind("Philips 电动牙刷 HX6730", " 电动牙刷 ")
    assert is_head_kind("IPHONE手机壳", "iphone手机壳")
    assert not of_kind("anything", "")

