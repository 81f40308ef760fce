"""A second catalog no one here wrote: product records derived from real Taobao titles (`{"id", "title"}` lines).

`build_title_catalog(titles_file, out_dir)` reads the title corpus (the 700-title dev split lives outside the
repository, in ../shared/data/dev/dev_corpus.jsonl) and writes `out_dir/catalog.jsonl`; nothing of the data is
kept in the repository. Every field is derived from the title alone, deterministically:

- **category**: the rule of CATEGORY_RULES whose keywords found in the title are longest in total (a keyword
  counts once; 背景墙 outweighs 电视, 洗衣机 outweighs 衣); a tie goes to the rule listed first; `其他` when no
  keyword is found.
- **tags**: every keyword of every rule found in the title (the kinds of thing it is: 洗衣机, 保温杯, 礼物).
- **price** (CNY): a price the title states (`一口价158`, `20元充值`, `【5元专区】`), else a stable hash of the id
  and title (sha256) placed log-uniformly in the category's range (PRICE_RANGES) and rounded shop-like (x9,
  x.9, x8); so prices are plausible for the kind of thing and never change between runs.
- **brand**: the name of BRANDS (the brands these titles carry) found nearest the start of the title, within its
  first BRAND_WITHIN characters; else none.
- **attributes** (only what the title states): 颜色 (colour words, joined by /), 材质 (material words), 容量
  (ml/L/升), 净含量 (g/kg/斤), 规格 (counts such as 20片, 5盒, 30gx2袋), 尺寸 (寸/英寸/cm/mm/米), 电压 (V),
  功率 (W), 适用人群 (儿童, 男士, 女士, 老人, 孕妇, 婴儿), 年份 (2021款, 2022新款).
- **stock**: from the same hash: 0 for about 8% of products, else 1-300.
- **description**: the title itself (the catalog's long text: questions are answered from it).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["BRANDS", "BRAND_WITHIN", "CATEGORY_RULES", "PRICE_RANGES", "build_title_catalog", "derive_product",
           "read_titles"]

# (category, keywords): the rule whose keywords in the title are longest in total decides; ties: the earlier rule
CATEGORY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("虚拟服务", ("充值", "代练", "会员", "激活码", "点券", "点卷", "点卡", "首充", "CDK", "搬家", "信用卡办理",
        "代下单", "优惠劵", "代金券", "礼券", "提货券", "提货卡", "亲子票", "装修改造", "跟妆", "改格式", "pdf编辑",
        "网课", "视频教程", "课程", "课件", "拍卖", "钻石金币", "硬币金币", "现金卡", "电子版", "水电施工",
        "定制logo", "打印", "租赁")),
    ("图书教材", ("书籍", "图书", "教材", "题库", "真题", "出版社", "小说", "课外书", "课外阅读", "宝典", "字帖",
        "漫画", "个人志", "全集", "散文", "合唱谱", "挂历", "日历", "月历", "读本", "译丛", "名著", "从入门到精通",
        "押题卷", "技术规范", "(精)", "JavaScript")),
    ("医药保健", ("药", "胶囊", "颗粒", "片剂", "维生素", "维D", "dha", "钙片", "补硒", "鱼油", "褪黑素", "月见草",
        "蚂蚁粉", "贴膏", "冷敷贴", "医用", "医疗", "理疗", "治疗", "口服液", "胶原蛋白", "镁片", "中药材", "陈皮",
        "造口", "呼吸机", "电解质", "栓", "洗剂", "止痛", "退烧", "拔罐", "助眠", "针叶樱桃", "消毒液", "护眼贴")),
    ("汽车用品", ("汽车", "车载", "车用", "轮胎", "奔驰", "雷克萨斯", "别克", "丰田", "奥迪", "荣威", "玛莎拉蒂",
        "五菱", "东风", "解放J6", "火花塞", "后视镜", "刹车片", "挡泥", "摩托车", "电动车", "电瓶车", "三轮车", "KTM",
        "本田", "车衣", "车套", "倒车", "Carplay", "埃安", "遮阳挡", "货车", "车顶帐篷", "天窗", "快排", "装载机",
        "铲车", "货卡车", "扶手箱", "正时链条", "脚踏板", "路考")),
    ("美妆个护", ("面膜", "精华", "护肤", "隔离霜", "散粉", "遮瑕", "发膜", "护发", "身体乳", "香水", "睫毛", "化妆",
        "美容", "手蜡", "护手", "润肤", "保湿", "护理霜", "剃须刀", "牙线", "洗头刷", "沐浴刷", "法令纹", "妊娠纹",
        "假发", "染发", "美发", "束腰", "塑身", "瘦脸", "精油", "蜜粉", "口红", "洗澡刷", "搓澡")),
    ("母婴用品", ("婴儿", "宝宝", "奶粉", "奶瓶", "孕妇", "新生儿", "童装", "女童", "男童", "幼儿", "早教", "周岁",
        "儿童餐具", "训练筷", "罩衣", "肚兜")),
    ("宠物用品", ("宠物", "猫咪", "猫粮", "狗粮", "狗笼", "犬", "鹦鹉", "鸟笼", "爬宠", "守宫", "仓鼠", "金丝熊",
        "鳄龟", "锦鲤", "观赏鱼", "猫爪", "猫脚套", "木天蓼", "蜥蜴", "陆龟")),
    ("数码电子", ("耳机", "手机", "平板电脑", "电脑", "笔记本", "显卡", "CPU", "相机", "单反", "微单", "打印机",
        "路由器", "充电宝", "移动电源", "投影机", "投影仪", "音箱", "音响", "麦克风", "拾音器", "声卡", "监视器",
        "显示器", "扫描仪", "kindle", "电话手表", "定位器", "自拍杆", "稳定器", "功放", "家庭影院", "蓝牙", "键帽",
        "电话机", "充电电池", "纽扣电池", "遮光罩", "镜头", "游戏卡", "烧录座", "PSV", "ThinkStation", "主板",
        "散热器", "导航", "DVD", "vivo", "粉盒", "胶卷")),
    ("家用电器", ("洗衣机", "电视机", "液晶电视", "小米电视", "燃气灶", "煤气灶", "油烟机", "抽烟机", "微波炉",
        "电烤箱", "养生壶", "煮茶器", "消毒柜", "消毒锅", "稳压器", "电蚊拍", "洗地机", "沙冰机", "搅拌机", "切肉机",
        "切片机", "电子秤", "甲醛检测仪", "吸氢机", "整水器", "智能马桶", "坐便器", "收录机", "关东煮", "和馅机",
        "打馅机", "臭氧机", "消毒机", "炒货机", "睡眠仪", "小冰箱", "电热水壶", "电煮茶壶", "电烤灯", "嗑瓜子")),
    ("厨房用品", ("炒锅", "不粘锅", "平底锅", "奶锅", "铁锅", "锅具", "土锅", "压力锅", "高压锅", "菜刀", "刀具",
        "切菜", "切片器", "削皮器", "餐具", "盘子", "碟子", "碟盘", "杯子", "筷子", "水杯", "保温杯", "玻璃杯",
        "太空杯", "冷水壶", "漏斗", "保鲜膜", "收纳罐", "密封罐", "罐子", "咖啡壶", "摩卡壶", "茶具", "功夫茶",
        "烤盘", "酒壶", "餐垫", "洗碗布", "抹布", "水槽", "洗菜盆", "杯套", "磨豆机", "厨房")),
    ("食品生鲜", ("零食", "特产", "新鲜", "生鲜", "冷冻", "茶叶", "花茶", "乌龙茶", "普洱", "岩茶", "肉桂", "珠露茶",
        "陈皮茶", "养生茶", "咖啡", "巧克力", "饼干", "米饼", "果干", "芒果干", "榴莲干", "香蕉干", "龙眼干", "桂圆",
        "香榧", "坚果", "海参", "大闸蟹", "螃蟹", "虾仁", "牛肉", "牛杂", "羊腿", "羊肉", "鸡翅", "鸡肉", "猪肉",
        "棒骨", "牛肚", "凤爪", "鸡爪", "鹅肉", "罐头", "番茄", "大蒜", "生姜", "豆角", "南瓜", "银耳", "阿胶",
        "羊奶粉", "奶茶", "油醋汁", "酱料", "调料", "色素", "泡打粉", "吉利丁", "春卷皮", "包子", "馒头", "威士忌",
        "泡酒", "蜂蜜", "人参", "枸杞", "红花", "黄精", "藏红花", "火锅", "梅子", "话梅", "蜜饯", "速食", "卤味",
        "熟食", "麻辣", "饮品", "冲饮", "礼盒装", "胶囊咖啡")),
    ("服饰鞋包", ("上衣", "棉衣", "衬衣", "毛衣", "卫衣", "睡衣", "泳衣", "内衣", "衣服", "秋衣", "大衣", "外套",
        "风衣", "夹克", "马甲", "马夹", "背心", "礼服", "西服", "西装", "校服", "裤子", "牛仔裤", "卫裤", "休闲裤",
        "运动裤", "打底裤", "棉裤", "短裤", "紧身裤", "羽绒裤", "阔腿裤", "长裤", "连裤袜", "丝袜", "袜子", "裙",
        "旗袍", "汉服", "舞蹈服", "舞服", "演出服", "表演服", "练功服", "队服", "训练服", "球衣", "皮鞋", "棉鞋",
        "单鞋", "雨鞋", "雨靴", "水鞋", "钓鱼鞋", "鞋靴", "雪地靴", "公主靴", "长靴", "帽子", "棒球帽", "围巾",
        "围脖", "手套", "护膝", "护肘", "护腰", "背包", "手提包", "斜挎包", "单肩包", "双肩", "书包", "补课包",
        "手拎包", "旅行包", "旅游包", "相机包", "眼镜链", "太阳镜", "墨镜", "手表", "男表", "女表", "Hoody", "Tight",
        "头纱", "婚纱", "手饰", "臂环")),
    ("珠宝文玩", ("戒指", "吊坠", "耳钉", "手串", "项链", "玉佩", "玉石", "和田玉", "翡翠", "蜜蜡", "水晶原石",
        "佛牌", "铜佛", "银饰", "天珠", "绿松石", "文玩", "石雕", "木雕", "佛像", "挂画", "刺绣", "绣片", "邮票",
        "火花", "外币", "钱币", "琥珀", "牌匾", "奖牌")),
    ("运动户外", ("健身", "运动", "羽毛球", "足球", "篮球", "网球", "乒乓球", "跆拳道", "武术", "帐篷", "露营",
        "天幕", "户外", "钓鱼", "渔具", "鱼钩", "探鱼", "饵料", "溜冰", "轮滑", "自行车", "单车", "握力器", "腕力器",
        "田径", "骑行", "棒球", "拳击", "球拍", "发令", "吊环", "单杠", "甩脂", "训练棒")),
    ("玩具乐器", ("玩具", "积木", "拼图", "模型", "玩偶", "娃娃", "公仔", "平衡车", "电子琴", "古筝", "钢琴配件",
        "巴乌", "八音盒", "音乐盒", "彩泥", "玩具沙", "迷宫球", "荧光棒", "万智牌", "扭扭车", "变脸", "玩具车",
        "摇奖机", "DIY手工", "手工材料", "美术材料")),
    ("家居家装", ("沙发", "床垫", "大床", "矮床", "榻榻米", "桌子", "餐桌", "书桌", "吧台桌", "高脚桌", "学习桌",
        "办公桌", "会议桌", "培训桌", "桌椅", "椅子", "凳子", "方凳", "板凳", "圆凳", "橱柜", "衣柜", "浴室柜",
        "电视柜", "书架", "置物架", "晾衣杆", "台灯", "吊灯", "灯带", "灯条", "夜灯", "太阳能灯", "照明灯", "灯具",
        "地毯", "墙纸", "壁纸", "墙布", "墙板", "背景墙", "壁画", "墙贴", "相框", "画框", "窗帘", "桌布", "桌旗",
        "床旗", "收纳盒", "收纳袋", "收纳架", "挂钩", "粘钩", "马桶刷", "扫把", "拖把", "地板", "瓷砖", "地砖",
        "乳胶漆", "文化石", "水龙头", "花洒", "入户门", "进户门", "木门", "门板", "门窗", "窗纱", "落地窗", "密封条",
        "插座", "开关", "面板", "地漏", "香薰", "蜡烛", "假花", "仿真花", "花盆", "摆件", "装饰画", "装饰品",
        "保险箱", "保险柜", "空调罩", "遮风板", "遮挡罩", "遮挡箱", "杯垫", "洗手液", "洗衣粉", "清洁剂", "清洗剂",
        "去渍笔", "塑料袋", "垃圾", "蟑螂", "纸巾", "浴缸", "洗脸盆", "洗手盆", "下水", "面盆", "门栓", "门闩",
        "锁芯", "合页", "冲洗喷枪", "马桶伴侣", "镜子", "化妆镜", "擦银", "冷热", "福桶", "许愿瓶", "抱抱桶",
        "蹲便器", "毛巾", "椅子套", "打火机", "玻璃膜", "懒人沙发", "电脑桌", "台式桌")),
    ("文具办公", ("中性笔", "铅笔", "钢笔", "签字笔", "蜡笔", "文具", "书签", "笔袋", "凭证", "印刷", "宣纸",
        "打孔机", "打孔器", "计时器", "贺卡", "卡片", "印章", "法印", "颜料", "不干胶", "磅单", "色卡", "黑板",
        "记事板", "U盘", "卡纸", "书壳机", "封面机", "软件", "卡套")),
    ("园艺农资", ("树苗", "果苗", "盆栽", "农药", "杀虫剂", "除草剂", "养殖", "水产", "饲料", "鲜花", "花束",
        "手捧花", "生态袋", "护坡", "绿化", "围栏", "栅栏", "盆景", "羊床", "漏粪板", "铡草", "除臭消毒", "兽用")),
    ("五金工具", ("钻头", "电钻", "冲击钻", "开孔器", "锯条", "马刀锯", "带锯", "锯片", "钳子", "剪钳", "斜口钳",
        "螺丝", "丝锥", "扳手", "刀片", "焊锡", "焊接", "电焊", "电锤", "角磨机", "抹泥板", "抹灰", "砖刀", "斧头",
        "夹具", "夹子", "钢尺", "直尺", "截止阀", "止回阀", "膨胀阀", "三角阀", "泄压阀", "法兰", "机床", "齿轮",
        "皮带", "继电器", "变压器", "电机", "电能表", "连接器", "航空插头", "轴承", "钢珠", "滤芯", "过滤网", "胶水",
        "白乳胶", "密封胶", "硅油", "防锈油", "切削油", "油漆刷", "喷枪", "喷火枪", "工具", "输送机", "搅拌锅",
        "粉碎机", "破碎机", "封口机", "封管机", "切割", "机柜", "光纤", "编码器", "电位器", "电源", "降压模块",
        "继电器模块", "控制器", "信号线", "连接线", "钢筋", "型材", "槽条", "压刨", "扫雪机", "磨片", "配件",
        "硅钢片", "曝气", "喇叭", "铜管", "锂电", "集电器", "标线仪", "三通", "弯头", "电刷", "碳刷", "手缝机",
        "锁螺丝机", "打螺丝机", "拇指夹", "收割机", "打捞船", "滚码器", "打码机", "灭火毯", "合金线", "涂鸦", "振镜",
        "激光", "安全帽", "钻孔定位器", "太阳能板", "测试机", "板材")),
)
# shop words removed before matching (包邮 is free shipping, not a bag)
_NOISE = re.compile(r"满?\d*包邮|包装|包边|包壳|包角|包豪斯|正品|现货|新款|厂家直销|官方|旗舰店")

PRICE_RANGES: dict[str, tuple[float, float]] = {  # CNY range of a hashed price, per category
    "虚拟服务": (10, 500), "图书教材": (15, 120), "医药保健": (19, 300), "汽车用品": (29, 1500),
    "美妆个护": (19, 400), "母婴用品": (19, 400), "宠物用品": (15, 600), "数码电子": (49, 5000),
    "家用电器": (199, 4999), "厨房用品": (15, 400), "食品生鲜": (9.9, 300), "服饰鞋包": (29, 800),
    "珠宝文玩": (29, 2000), "运动户外": (29, 1500), "玩具乐器": (19, 800), "家居家装": (19, 2500),
    "文具办公": (5, 200), "园艺农资": (9.9, 300), "五金工具": (9.9, 1200), "其他": (9.9, 500),
}

# brand names as these titles write them; a title's brand is the one nearest its start, within BRAND_WITHIN
# characters (brands lead Taobao titles; a car make further on names what a part fits, not who made it)
BRANDS: tuple[str, ...] = ("阿迪达斯", "Adidas", "欧迪佳", "BOSE", "Beats", "ChocZero", "EMERSON", "艾默生",
    "FEELWORLD", "富威德", "KASE", "LIERAC", "狮王", "LONGSHI", "龙仕", "MOREKO", "Moza", "魔爪", "Naturehike",
    "挪客", "Nike", "耐克", "PONY", "PurLab", "SABINE", "SEIKO", "SONY", "索尼", "Sigma", "适马", "UNIQLO", "Zoxy",
    "bio island", "tplink", "普联", "永久", "和光堂", "3M", "万仁堂", "全友", "公牛", "六和", "凯胜", "凯音", "Cayin",
    "华帝", "十八子作", "博世", "圣象", "多乐士", "安踏", "宏碁", "ACER", "Bialetti", "比乐蒂", "富光", "小米",
    "米家", "美的", "苏泊尔", "李宁", "意尔康", "网易严选", "汤臣倍健", "Swisse", "Blackmores", "澳佳宝", "飞利浦",
    "Philips", "雷士", "良品铺子", "迪士尼", "荣事达", "莱赛", "葵花", "小葵花", "雕牌", "得力", "正泰", "旺丰",
    "Wilson", "威尔逊", "松下", "佳能", "Canon", "联想", "英特尔", "爱普生", "lululemon", "Arcteryx", "始祖鸟",
    "美赞臣", "AHC", "MUJI", "无印良品", "PILOT", "百乐", "KIRIN", "麒麟", "小林制药", "邓禄普", "Dunlop", "泡泡玛特",
    "罗技", "森海塞尔", "山姆", "海底捞", "肯德基", "KFC", "新安怡", "宇量", "富美加", "必能", "悠蜜", "乔山",
    "新华利", "斯福特", "道康宁", "禾泱泱", "小熊驾到", "喜多多", "金皇", "丰收蟹庄", "葵宝堂", "皇宠", "华立",
    "ELAC", "意力")
BRAND_WITHIN = 16
_COLOURS = ("酒红色", "墨绿色", "卡其色", "香槟色", "玫瑰金", "奶橘色", "肉色", "红色", "黑色", "白色", "银色",
            "金色", "粉色", "蓝色", "绿色", "黄色", "紫色", "灰色", "棕色", "橙色", "米色", "咖啡色", "透明")
_MATERIALS = ("316不锈钢", "304不锈钢", "201不锈钢", "不锈钢", "实木", "红木", "陶瓷", "玻璃", "纯棉", "全棉", "真皮",
              "牛皮", "硅胶", "塑料", "纯钛", "钛", "铝合金", "纯铜", "全铜", "黄铜", "竹", "亚克力", "法兰绒",
              "珊瑚绒", "羊毛", "羊绒", "蕾丝", "帆布", "大豆蜡", "青瓷", "黑陶", "水晶", "蜜蜡")
_NOT_MATERIAL = re.compile(r"擦玻璃|玻璃钢|玻璃膜|玻璃罩")  # glass words that say nothing of what it is made of
_PEOPLE = ("儿童", "男士", "女士", "老人", "孕妇", "婴儿", "学生", "中老年")
_STATED_PRICE = re.compile(r"一口价\s*(\d+(?:\.\d+)?)|【(\d+(?:\.\d+)?)元专区】|(?<![\d.])(\d+(?:\.\d+)?)元(?=充值|点)")
_MEASURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("容量", re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:ml|ML|毫升|L|升)(?![A-Za-z])")),
    ("净含量", re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:kg|KG|Kg|g|克|斤|公斤)(?![A-Za-z])")),
    ("规格", re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:g|ml)?\s*[*xX×]\s*\d+\s*(?:片|粒|支|袋|盒|只|瓶|包|小袋|罐)"
                      r"|(?<![\d.*])\d+\s*(?:片|粒|支|袋|盒|只|瓶|本|册|集|碟|小罐|小袋|罐)(?:装)?")),
    ("尺寸", re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:英寸|寸|cm|mm|米)")),
    ("电压", re.compile(r"(?<![\d.A-Za-z])\d+[Vv](?![A-Za-z])")),
    ("功率", re.compile(r"(?<![\d.A-Za-z])\d+W(?![A-Za-z])")),
    ("年份", re.compile(r"20[12]\d(?=年?(?:新款|款|新品|年新货|新货))")),
)


def read_titles(path: Path) -> list[dict[str, str]]:
    """The `{"id", "title"}` lines of a title corpus; a line without both is an error naming it."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e}); each line must be {{\"id\": ..., \"title\": ...}}") from e
        if not isinstance(row, dict) or not row.get("id") or not row.get("title"):
            raise ValueError(f"{path}:{n}: expected {{\"id\": ..., \"title\": ...}}, got {line[:80]!r}")
        out.append({"id": str(row["id"]), "title": str(row["title"]).strip()})
    return out


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()[:8], "big")


def _shop_price(unit: float, lo: float, hi: float) -> float:
    """A price in [lo, hi] at the point `unit` (0..1) of a log scale, rounded as shops do (x9, x.9, x98)."""
    p = math.exp(math.log(lo) + unit * (math.log(hi) - math.log(lo)))
    if p < 30:
        price = math.floor(p) + 0.9
    elif p < 1000:
        price = math.floor(p / 10) * 10 + 9
    else:
        price = math.floor(p / 100) * 100 + 98
    return round(min(max(price, lo), hi), 2)


def _found(words: Iterable[str], title: str) -> list[str]:
    low = title.lower()
    return [w for w in words if w.lower() in low]


def derive_product(pid: str, title: str) -> dict[str, Any]:
    """One product record derived from its title (see the module docstring for each rule)."""
    clean = _NOISE.sub(" ", title)
    scores = [(sum(map(len, _found(words, clean))), -n, cat) for n, (cat, words) in enumerate(CATEGORY_RULES)]
    best = max(scores)
    category = best[2] if best[0] > 0 else "其他"
    tags = list(dict.fromkeys(w for _, words in CATEGORY_RULES for w in _found(words, clean)))
    h = _hash(pid, title)
    stated = _STATED_PRICE.search(title)
    value = next((float(g) for g in stated.groups() if g), 0.0) if stated else 0.0
    price = value if value >= 1 else _shop_price((h % 10_000) / 9_999, *PRICE_RANGES[category])
    low = title.lower()
    found = [(pos, -len(b), b) for b in BRANDS if 0 <= (pos := low.find(b.lower())) < BRAND_WITHIN]
    brand = min(found)[2] if found else ""
    attrs: dict[str, str] = {}
    colours = [c for c in _COLOURS if c in title and not any(c in longer and longer in title
                                                              for longer in _COLOURS if longer != c)]
    if colours:
        attrs["颜色"] = "/".join(colours)
    bare = _NOT_MATERIAL.sub(" ", title)
    materials = [m for m in _MATERIALS if m in bare and not any(m in longer and longer in bare
                                                                for longer in _MATERIALS if longer != m)]
    if materials:
        attrs["材质"] = "/".join(materials)
    for key, pattern in _MEASURES:
        values = list(dict.fromkeys(m.group().replace(" ", "") for m in pattern.finditer(title)))
        if values:
            attrs[key] = "/".join(values[:4])
    people = _found(_PEOPLE, title)
    if people:
        attrs["适用人群"] = "/".join(people)
    stock = 0 if (h >> 20) % 100 < 8 else 1 + (h >> 30) % 300
    return {"id": pid, "title": title, "description": title, "category": category, "brand": brand,
            "price": price, "currency": "CNY", "attributes": attrs, "tags": tags, "stock": stock}


def build_title_catalog(titles_file: Path, out_dir: Path) -> Path:
    """Derive a catalog from a title corpus and write it to `out_dir/catalog.jsonl`; returns that path."""
    titles = read_titles(titles_file)
    if not titles:
        raise ValueError(f"{titles_file} holds no titles; pass a JSONL file of {{\"id\", \"title\"}} lines")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog = out_dir / "catalog.jsonl"
    lines = [json.dumps(derive_product(t["id"], t["title"]), ensure_ascii=False) + "\n" for t in titles]
    catalog.write_text("".join(lines), encoding="utf-8")
    return catalog
