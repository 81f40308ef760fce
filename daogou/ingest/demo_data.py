"""Vocabulary of the built-in demo catalog: categories, subtypes, brands, price ranges and shop copy.

Compact notation, parsed once at import (pure data, no I/O):
  pairs   "碎花:floral|收腰:fitted-waist"          -> (("碎花", "floral"), ("收腰", "fitted-waist"))
  attrs   "材质=真丝,纯棉;尺码=S/M/L,M/L/XL"        -> {"材质": ("真丝", "纯棉"), "尺码": ("S/M/L", "M/L/XL")}
Multi-valued attribute values are joined with "/" ("S/M/L", "36/37/38"), as `vocab.split_values` reads them.
Copy avoids words that hide a colour character ("蓝牙", "黄油", "紫外线"...), so that colour words in a title
or description are the product's own colour; the unavoidable ones are the subtypes 口红 and 粉底液.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CATEGORIES", "COLOURS", "MATERIAL_EN", "PATTERNS", "PINS", "Category", "Subtype"]

Pairs = tuple[tuple[str, str], ...]

# Chinese colour name -> (English name, RGB fill used in the drawn image)
COLOURS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "红色": ("red", (212, 38, 44)), "蓝色": ("blue", (38, 92, 200)), "黑色": ("black", (32, 32, 36)),
    "白色": ("white", (250, 250, 250)), "绿色": ("green", (44, 148, 72)), "黄色": ("yellow", (246, 198, 36)),
    "粉色": ("pink", (242, 148, 182)), "紫色": ("purple", (128, 68, 172)), "灰色": ("grey", (136, 138, 142)),
    "棕色": ("brown", (128, 82, 48)), "橙色": ("orange", (242, 128, 28)), "米色": ("beige", (228, 212, 176)),
}

# style word -> pattern drawn over the main colour in the image
PATTERNS = {"条纹": "stripes", "波点": "dots", "碎花": "floral", "格纹": "plaid"}

MATERIAL_EN = {
    "纯棉": "cotton", "羊毛": "wool", "涤纶": "polyester", "真丝": "silk", "皮革": "leather",
    "帆布": "canvas",
    "雪纺": "chiffon", "亚麻": "linen", "牛仔布": "denim", "羊绒": "cashmere", "尼龙": "nylon",
    "真皮": "genuine leather", "网布": "mesh", "飞织": "knit mesh", "合成革": "synthetic leather",
    "绒面革": "suede", "漆皮": "patent leather", "羊皮": "lambskin", "橡胶": "rubber", "EVA": "EVA foam",
    "棉麻": "cotton-linen", "腈纶": "acrylic", "不锈钢": "stainless steel", "铸铁": "cast iron",
    "精铁": "refined iron", "陶瓷": "ceramic", "搪瓷": "enamel", "骨瓷": "bone china", "竹": "bamboo",
    "实木": "solid wood", "金属": "metal", "玻璃": "glass", "布艺": "fabric", "科技布": "tech fabric",
    "绒布": "velvet", "天丝": "Tencel", "PC": "polycarbonate", "铝合金": "aluminium alloy", "ABS": "ABS",
    "大马士革钢": "Damascus steel", "抗菌塑料": "antibacterial plastic", "304不锈钢": "304 stainless steel",
    "316不锈钢": "316 stainless steel", "TPE": "TPE", "天然橡胶": "natural rubber", "PU": "PU leather",
    "TPU": "TPU", "碳纤维": "carbon fibre", "包胶": "rubber-coated iron", "PVC": "PVC", "钢丝": "steel wire",
    "Tritan": "Tritan", "毛绒": "plush", "ABS塑料": "ABS plastic", "合金": "die-cast alloy", "纸质": "card",
    "塑料": "plastic", "硅胶": "silicone", "PP棉": "PP fibre fill",
}


def _pairs(spec: str) -> Pairs:
    return tuple(tuple(p.split(":", 1)) for p in spec.split("|"))  # type: ignore[misc]


def _attrs(spec: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in filter(None, spec.split(";")):
        key, values = part.split("=", 1)
        out[key] = tuple(values.split(","))
    return out


@dataclass(frozen=True)
class Subtype:
    """One kind of product inside a category (连衣裙 dress), with what varies between its products."""

    cn: str
    en: str
    shape: str  # key of demo_images.SHAPES
    lo: float  # price range, CNY
    hi: float
    styles: Pairs  # style words put in the title (碎花 floral); for books the book's name
    attrs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # added to / overriding the category's
    water: float = 0.0  # > 0: has a 防水 attribute, "是" with this probability
    colours: tuple[str, ...] = ()  # allowed colours; () = the whole palette
    tags: tuple[str, ...] = ()
    fmt: str = "colour"  # title form: "colour" 红色碎花连衣裙, "plain" 香辣薯片 (colour = packaging), "book"
    style_key: str = ""  # attribute that records the style (口味 for snacks)
    title_attr: str = ""  # attribute appended to the title (净含量 "150g", 容量 "256GB")
    points: Pairs = ()  # selling points replacing the category's
    uses: Pairs = ()  # uses replacing the category's
    brands: tuple[str, ...] = ()  # brands replacing the category's ("|"-separated in S())


@dataclass(frozen=True)
class Category:
    """A catalog category with its brands, shop copy and subtypes."""

    cn: str
    en: str
    mw: str  # measure word in 这{mw}...: 件, 双, 本, 款
    brands: tuple[str, ...]
    points: Pairs  # selling points (zh, en-noun-phrase)
    uses: Pairs  # what it is good for (zh, en)
    subtypes: tuple[Subtype, ...]
    attrs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # extra tags given to some products
    pack: tuple[str, str] = ("包装为{c}。", "Comes in {c} packaging.")  # colour sentence for plain titles
    brand_attr: str = ""  # attribute that records the brand's Chinese name (出版社 for books)


def S(cn: str, en: str, shape: str, lo: float, hi: float, styles: str, attrs: str = "",
      **kw: object) -> Subtype:
    """Build a Subtype from the compact notation (pairs for styles/points/uses; colours, tags by spaces)."""
    for key in ("points", "uses"):
        if isinstance(kw.get(key), str):
            kw[key] = _pairs(kw[key])  # type: ignore[arg-type]
    for key in ("colours", "tags"):
        if isinstance(kw.get(key), str):
            kw[key] = tuple(kw[key].split())  # type: ignore[union-attr]
    if isinstance(kw.get("brands"), str):
        kw["brands"] = tuple(kw["brands"].split("|"))  # type: ignore[union-attr]
    return Subtype(cn, en, shape, lo, hi, _pairs(styles), _attrs(attrs), **kw)  # type: ignore[arg-type]


def C(cn: str, en: str, mw: str, brands: str, points: str, uses: str, subtypes: tuple[Subtype, ...],
      attrs: str = "", tags: str = "", **kw: object) -> Category:
    """Build a Category from the compact notation (brands separated by "|", tags by spaces)."""
    return Category(cn, en, mw, tuple(brands.split("|")), _pairs(points), _pairs(uses), subtypes,
                    _attrs(attrs), tuple(tags.split()), **kw)  # type: ignore[arg-type]


_MAKEUP = ("显色度高:rich colour payoff|持久不脱妆:long-lasting wear|"
           "质地顺滑易上妆:a smooth, easy-to-apply texture|不易拔干:a comfortable, non-drying feel")
_SKIN = ("质地轻薄好吸收:a light, fast-absorbing texture|温和不刺激:a gentle formula|"
         "保湿滋润:lasting moisture|清爽不油腻:a fresh, non-greasy finish")
_SKIN_USES = "早晚护肤:morning and evening skincare|换季护理:seasonal skincare|敏感肌日常:sensitive skin"
_PET_FOOD = ("营养均衡:balanced nutrition|适口性好:great palatability|颗粒大小适中:well-sized kibble|"
             "配方温和易消化:a gentle, easy-to-digest recipe")
_FEEDING = "日常喂养:daily feeding|新手养宠:first-time pet owners"
_PICK_ME_UP = "办公室提神:an office pick-me-up"
_PRESSES = "远山文艺出版社 Yuanshan Literature Press|青禾出版社 Qinghe Press"

_CLOTHING = (
    S("连衣裙", "dress", "dress", 89, 699,
      "碎花:floral|收腰:fitted-waist|法式:French-style|吊带:slip|长款:maxi|波点:polka-dot|条纹:striped",
      "材质=真丝,雪纺,纯棉,涤纶,亚麻", tags="夏季"),
    S("T恤", "t-shirt", "tshirt", 39, 199,
      "圆领:crew-neck|宽松:oversized|印花:graphic|条纹:striped|短袖:short-sleeve",
      "材质=纯棉,涤纶,棉麻", tags="夏季"),
    S("衬衫", "shirt", "shirt", 79, 399,
      "商务:business|牛津纺:Oxford|条纹:striped|长袖:long-sleeve|免烫:non-iron", "材质=纯棉,亚麻,真丝"),
    S("牛仔裤", "jeans", "trousers", 99, 499, "直筒:straight-leg|修身:slim-fit|阔腿:wide-leg|高腰:high-waist",
      "材质=牛仔布", colours="蓝色 黑色 灰色 白色"),
    S("外套", "jacket", "jacket", 199, 1299, "冲锋衣:outdoor shell|夹克:bomber|风衣:trench|连帽:hooded",
      "材质=涤纶,尼龙,皮革,羊毛", water=0.5, tags="秋冬"),
    S("卫衣", "hoodie", "hoodie", 99, 399, "加绒:fleece-lined|宽松:oversized|印花:graphic|拉链:zip-up",
      "材质=纯棉,涤纶"),
    S("毛衣", "sweater", "sweater", 129, 899,
      "高领:turtleneck|圆领:crew-neck|开衫:cardigan|麻花:cable-knit|条纹:striped",
      "材质=羊毛,羊绒,腈纶", tags="秋冬"),
)
_SHOES = (
    S("运动鞋", "sneakers", "sneaker", 199, 999, "休闲:casual|复古:retro|厚底:platform|轻便:lightweight",
      "材质=网布,合成革,真皮", water=0.4),
    S("跑步鞋", "running shoes", "runner", 299, 1299, "缓震:cushioned|竞速:racing|透气:breathable",
      "材质=网布,飞织", water=0.3),
    S("皮鞋", "leather shoes", "oxford", 299, 1599, "商务:business|德比:Derby|乐福:loafer",
      "材质=真皮,漆皮", colours="黑色 棕色 灰色 白色 米色"),
    S("靴子", "boots", "boot", 299, 1599, "马丁:Martin|切尔西:Chelsea|雪地:snow|短筒:ankle",
      "材质=真皮,绒面革,合成革", water=0.6, tags="冬季"),
    S("帆布鞋", "canvas shoes", "canvas", 59, 299, "低帮:low-top|高帮:high-top|经典:classic",
      "材质=帆布"),
    S("高跟鞋", "heels", "heel", 199, 999, "尖头:pointed-toe|细跟:stiletto|玛丽珍:Mary Jane|方头:square-toe",
      "材质=羊皮,漆皮,绒面革"),
    S("凉鞋", "sandals", "sandal", 69, 499, "平底:flat|坡跟:wedge|沙滩:beach|一字带:strappy",
      "材质=真皮,橡胶,EVA", tags="夏季"),
)
_BAGS = (
    S("双肩包", "backpack", "backpack", 99, 699,
      "通勤:commuter|大容量:large-capacity|电脑:laptop|休闲:casual", "材质=尼龙,帆布,涤纶", water=0.6),
    S("手提包", "handbag", "handbag", 199, 2999, "托特:tote|水桶:bucket|迷你:mini|通勤:work",
      "材质=真皮,合成革,帆布", water=0.3),
    S("行李箱", "suitcase", "suitcase", 299, 1999,
      "登机:carry-on|万向轮:spinner|铝框:aluminium-frame|轻量:lightweight",
      "材质=PC,铝合金,ABS;尺寸=20寸,24寸,28寸", water=0.7),
    S("钱包", "wallet", "wallet", 59, 899, "长款:long|短款:bifold|拉链:zip-around", "材质=真皮,合成革"),
    S("斜挎包", "crossbody bag", "crossbody", 99, 999,
      "链条:chain-strap|马鞍:saddle|相机:camera|腰包:belt", "材质=真皮,尼龙,帆布", water=0.4),
    S("电脑包", "laptop bag", "briefcase", 129, 599, "商务:business|轻薄:slim|手提:top-handle",
      "材质=尼龙,真皮;尺寸=14英寸,15.6英寸", water=0.5),
)
_BEAUTY = (
    S("口红", "lipstick", "lipstick", 79, 399, "丝绒哑光:velvet matte|滋润:moisturising|镜面:glossy",
      "净含量=3.5g;色号=#01,#06,#12,#19,#25,#33", colours="红色 粉色 橙色 紫色 棕色", points=_MAKEUP),
    S("粉底液", "foundation", "pumpbottle", 99, 599, "持妆:long-wear|水润:dewy|遮瑕:full-coverage",
      "净含量=30ml;适用肤质=干性,油性,混合性,所有肤质", colours="米色 白色 棕色", points=_MAKEUP),
    S("面霜", "face moisturizer", "jar", 99, 899, "保湿:hydrating|修护:repairing|抗皱:anti-wrinkle",
      "净含量=50g;适用肤质=干性,混合性,所有肤质", fmt="plain", title_attr="净含量", uses=_SKIN_USES),
    S("香水", "perfume", "perfume", 199, 1299, "花香调:floral|木质调:woody|柑橘调:citrus|清新:fresh",
      "净含量=30ml,50ml,100ml", fmt="plain", title_attr="净含量",
      points="留香持久:a long-lasting scent|前调清新:a fresh opening|"
             "香气温柔不刺鼻:a soft, never-harsh scent",
      uses="约会聚会:dates and parties|日常通勤:everyday wear|节日送礼:holiday gifts"),
    S("眼影盘", "eyeshadow palette", "palette", 89, 499, "九色:9-shade|四色:4-shade|珠光:shimmer|哑光:matte",
      "", colours="棕色 粉色 紫色 橙色 红色 米色", points=_MAKEUP),
    S("洗面奶", "cleanser", "tube", 39, 259, "氨基酸:amino-acid|控油:oil-control|温和:gentle",
      "净含量=100g,120g;适用肤质=干性,油性,混合性,所有肤质", fmt="plain", title_attr="净含量",
      uses=_SKIN_USES),
    S("防晒霜", "sunscreen", "tube", 59, 299, "清爽:light|户外:outdoor|SPF50+:SPF50+|轻透:sheer",
      "净含量=40ml,50ml", fmt="plain", title_attr="净含量",
      uses="户外出游:days outdoors|日常通勤:the daily commute"),
)
_ELECTRONICS = (
    S("手机", "phone", "phone", 999, 6999, "轻薄:slim|影像旗舰:camera-flagship|长续航:long-battery|5G:5G",
      "容量=128GB,256GB,512GB;屏幕=6.1英寸,6.5英寸,6.7英寸", water=0.6, title_attr="容量",
      colours="黑色 白色 蓝色 紫色 绿色 灰色 粉色 黄色"),
    S("耳机", "headphones", "headphones", 99, 1999,
      "降噪:noise-cancelling|头戴式:over-ear|无线:wireless|运动:sports", "续航=20小时,30小时,40小时",
      water=0.3),
    S("平板", "tablet", "tablet", 1299, 5999, "轻薄:slim|学习:study|影音:media|办公:productivity",
      "容量=64GB,128GB,256GB;屏幕=10.9英寸,11英寸,12.9英寸", title_attr="容量",
      colours="黑色 白色 灰色 蓝色 粉色 紫色 绿色"),
    S("智能手表", "smartwatch", "watch", 299, 2999, "运动:sports|健康监测:health-tracking|商务:business",
      "屏幕=1.43英寸,1.75英寸,1.96英寸;续航=7天,14天", water=0.7),
    S("充电宝", "power bank", "powerbank", 59, 299, "快充:fast-charging|迷你:mini|磁吸:magnetic",
      "容量=5000mAh,10000mAh,20000mAh", title_attr="容量"),
    S("键盘", "keyboard", "keyboard", 99, 899, "机械:mechanical|无线:wireless|静音:quiet|矮轴:low-profile",
      "轴体=青轴,茶轴,静音轴"),
    S("鼠标", "mouse", "mouse", 49, 499, "无线:wireless|游戏:gaming|静音:silent|人体工学:ergonomic"),
)
_HOME = (
    S("台灯", "desk lamp", "lamp", 59, 599, "护眼:eye-care|北欧:Nordic|LED:LED|可调光:dimmable",
      "材质=金属,实木,陶瓷;尺寸=高45cm,高52cm,高60cm"),
    S("沙发", "sofa", "sofa", 1299, 8999, "三人位:three-seat|双人:two-seat|北欧:Nordic|转角:corner",
      "材质=布艺,真皮,科技布,绒布;尺寸=180cm,210cm,240cm"),
    S("抱枕", "cushion", "cushion", 29, 129, "条纹:striped|波点:polka-dot|北欧:Nordic|格纹:plaid",
      "材质=棉麻,绒布,纯棉;尺寸=45x45cm,50x50cm"),
    S("床品四件套", "bedding set", "bedding", 199, 1299, "简约:simple|条纹:striped|格纹:plaid|水洗:washed",
      "材质=纯棉,天丝,亚麻;尺寸=1.5m床,1.8m床"),
    S("收纳箱", "storage box", "storagebox", 29, 199, "可折叠:foldable|大号:large|带盖:lidded",
      "材质=塑料,布艺,竹;尺寸=30L,45L,60L"),
    S("地毯", "rug", "rug", 99, 1299, "北欧:Nordic|几何:geometric|长毛:shag|简约:simple",
      "材质=羊毛,涤纶,棉麻;尺寸=120x160cm,160x230cm,200x300cm"),
    S("花瓶", "vase", "vase", 39, 399, "北欧:Nordic|复古:vintage|简约:minimalist|磨砂:frosted",
      "材质=陶瓷,玻璃;尺寸=高20cm,高30cm"),
)
_KITCHEN = (
    S("炒锅", "wok", "pan", 99, 899, "不粘:non-stick|平底:flat-bottom|少油烟:low-smoke|家用:household",
      "材质=铸铁,不锈钢,精铁;尺寸=30cm,32cm,34cm",
      points="受热均匀:even heating|易清洗:easy cleaning|经久耐用:long-lasting durability"),
    S("汤锅", "stockpot", "stockpot", 129, 799, "双耳:two-handle|加厚:heavy-gauge|大容量:large",
      "材质=不锈钢,搪瓷,陶瓷;容量=3L,4L,6L",
      points="受热均匀:even heating|保温性好:good heat retention|易清洗:easy cleaning"),
    S("刀具套装", "knife set", "knifeblock", 129, 999, "德式:German-style|日式:Japanese-style|五件套:5-piece",
      "材质=不锈钢,大马士革钢"),
    S("砧板", "cutting board", "board", 39, 299, "双面:double-sided|加厚:thick|防霉:anti-mould",
      "材质=竹,实木,抗菌塑料;尺寸=38x26cm,42x30cm", colours="棕色 米色 白色 绿色 灰色 黄色"),
    S("保温杯", "thermos", "thermos", 49, 399, "大容量:large-capacity|便携:portable|弹盖:flip-lid",
      "材质=316不锈钢,304不锈钢;容量=350ml,500ml,750ml", title_attr="容量"),
    S("电饭煲", "rice cooker", "ricecooker", 199, 1299, "智能:smart|迷你:mini|IH:induction",
      "容量=2L,3L,4L", title_attr="容量"),
    S("碗碟套装", "dinnerware set", "plates", 69, 499, "北欧:Nordic|日式:Japanese-style|釉下彩:underglaze",
      "材质=陶瓷,骨瓷;件数=10件,16件,20件"),
)
_SPORTS = (
    S("瑜伽垫", "yoga mat", "yogamat", 49, 399, "加厚:extra-thick|环保:eco-friendly|加宽:extra-wide",
      "材质=TPE,天然橡胶;尺寸=183x61cm,185x80cm;厚度=6mm,8mm,10mm"),
    S("篮球", "basketball", "basketball", 79, 499, "7号:size-7|室内外:indoor-outdoor|比赛:match",
      "材质=PU,橡胶", colours="橙色 棕色 黑色 红色 蓝色 黄色"),
    S("足球", "football", "football", 69, 399, "5号:size-5|比赛:match|训练:training", "材质=PU,TPU",
      colours="白色 黑色 黄色 蓝色 红色 橙色"),
    S("羽毛球拍", "badminton racket", "racket", 99, 999, "全碳素:full-carbon|进攻型:attacking|初学:beginner",
      "材质=碳纤维,铝合金;重量=4U,5U"),
    S("哑铃", "dumbbells", "dumbbell", 59, 599, "可调节:adjustable|六角:hex|家用:home",
      "材质=铸铁,包胶;重量=5kg,10kg,20kg", title_attr="重量"),
    S("跳绳", "jump rope", "jumprope", 19, 129, "计数:counting|负重:weighted|竞速:speed", "材质=PVC,钢丝"),
    S("帐篷", "tent", "tent", 199, 1999, "双人:2-person|三人:3-person|自动速开:pop-up|露营:camping",
      "材质=涤纶,尼龙", water=0.85, tags="户外"),
    S("运动水壶", "sports bottle", "bottle", 29, 199, "大容量:large|便携:portable|吸管:straw",
      "材质=Tritan,不锈钢;容量=600ml,1L", title_attr="容量"),
)
_TOYS = (
    S("毛绒熊", "teddy bear", "teddy", 39, 399, "抱抱:cuddly|大号:large|迷你:mini",
      "材质=毛绒,PP棉;尺寸=30cm,45cm,60cm", colours="棕色 米色 白色 粉色 灰色 黄色 蓝色",
      points="手感柔软:a soft, huggable feel|材质安全无异味:safe, odour-free materials|"
             "可机洗:machine-washable"),
    S("积木", "building blocks", "blocks", 49, 899, "拼插:interlocking|大颗粒:large-brick|城市系列:city-set",
      "材质=ABS塑料,实木"),
    S("遥控车", "RC car", "car", 99, 599, "越野:off-road|漂移:drift|四驱:4WD", "材质=ABS塑料,合金"),
    S("拼图", "jigsaw puzzle", "puzzle", 29, 199, "1000片:1000-piece|儿童:kids'|风景:landscape",
      "材质=纸质,实木"),
    S("风筝", "kite", "kite", 29, 199, "三角:delta|卡通:cartoon|大型:large", "材质=涤纶,尼龙"),
    S("魔方", "puzzle cube", "cube", 19, 129, "三阶:3x3|顺滑:smooth-turning|比赛:speed", "材质=ABS塑料"),
)
_FOOD = (
    S("坚果", "nuts", "snackbag", 29, 199, "原味:original|盐焗:salt-baked|蜂蜜:honey|混合:mixed",
      "净含量=500g,750g,1kg;保质期=9个月", fmt="plain", style_key="口味", title_attr="净含量",
      points="颗粒饱满:plump, whole kernels|独立包装方便携带:individually wrapped portions|"
             "原料精选:carefully selected ingredients"),
    S("薯片", "potato chips", "snackbag", 9.9, 39.9, "原味:original|香辣:spicy|番茄:tomato|烧烤:barbecue",
      "净含量=70g,104g,150g;保质期=9个月", fmt="plain", style_key="口味", title_attr="净含量",
      points="口感香脆:a satisfying crunch|原料精选:carefully selected ingredients|口感好:great taste"),
    S("茶叶", "tea", "teabox", 59, 899, "龙井:Longjing|铁观音:Tieguanyin|普洱:Pu'er|茉莉花茶:jasmine",
      "净含量=100g,250g,500g;保质期=18个月", fmt="plain", style_key="品种", title_attr="净含量",
      points="汤色清亮:a clear, bright brew|回甘持久:a lingering sweet finish|"
             "原料精选:carefully selected leaves",
      uses=f"{_PICK_ME_UP}|下午茶:afternoon tea|送礼:gifting"),
    S("咖啡豆", "coffee beans", "coffeebag", 39, 299,
      "中度烘焙:medium-roast|深度烘焙:dark-roast|浅度烘焙:light-roast",
      "净含量=250g,500g,1kg;保质期=12个月", fmt="plain", style_key="烘焙度", title_attr="净含量",
      points="香气浓郁:a rich aroma|酸度柔和:gentle acidity|新鲜烘焙:fresh roasting",
      uses=f"{_PICK_ME_UP}|早餐搭配:breakfast|手冲:pour-over brewing"),
    S("巧克力", "chocolate", "chocolate", 19, 199, "牛奶:milk|榛子:hazelnut|抹茶:matcha|70%可可:70% cocoa",
      "净含量=100g,250g;保质期=12个月", fmt="plain", style_key="口味", title_attr="净含量"),
    S("饼干", "cookies", "tin", 9.9, 99, "奶香:creamy|全麦:whole-wheat|海盐:sea-salt|巧克力:chocolate-chip",
      "净含量=200g,400g,618g;保质期=10个月", fmt="plain", style_key="口味", title_attr="净含量"),
    S("果汁", "juice", "carton", 9.9, 89, "苹果:apple|葡萄:grape|芒果:mango|桃子:peach",
      "净含量=1L,300ml×6,1L×2;保质期=6个月", fmt="plain", style_key="口味", title_attr="净含量",
      points="冷藏风味更佳:best-served-chilled freshness|原料精选:carefully selected fruit|"
             "口感好:great taste"),
)
_BOOKS = (
    S("小说", "novel", "book", 29, 89, "山海之间:Between Mountains and Seas|长夜将明:Before the Dawn|"
      "南方的雨:Southern Rain|灯塔之下:Beneath the Lighthouse|归途:The Way Home|"
      "海边的信:Letters from the Shore", fmt="book", brands=_PRESSES),
    S("童书", "children's book", "picturebook", 19, 69, "小熊的森林:Little Bear's Forest|"
      "月亮船:The Moon Boat|会飞的小象:The Flying Elephant|星星邮局:The Star Post Office|"
      "彩虹桥:The Rainbow Bridge", fmt="book", brands="晨光少儿出版社 Chenguang Children's Press",
      points="图文并茂:rich illustrations|语言浅显易懂:simple, clear language|装帧精美:a beautiful binding",
      uses="亲子共读:reading together with kids|睡前故事:bedtime stories"),
    S("烹饪书", "cookbook", "book", 39, 128, "家常菜一百道:100 Home-Style Dishes|一人食:Cooking for One|"
      "烘焙入门:Baking Basics|四季汤羹:Soups for Four Seasons|十分钟早餐:Ten-Minute Breakfasts", fmt="book",
      brands=_PRESSES,
      points="步骤详细:detailed step-by-step instructions|图文并茂:rich illustrations|"
             "食材易买:easy-to-find ingredients",
      uses="新手下厨:beginner cooks|家庭厨房:the family kitchen|送礼:gifting"),
    S("历史书", "history book", "book", 39, 168, "丝路往事:Tales of the Silk Road|"
      "古城记:Chronicles of an Ancient City|大河文明:River Civilisations|"
      "运河千年:A Thousand Years of the Canal|瓷器的故事:The Story of Porcelain", fmt="book", brands=_PRESSES,
      points="内容扎实:solid, thorough content|史料详实:well-researched sources|"
             "通俗易读:an accessible style"),
    S("编程书", "programming book", "book", 59, 169, "Python实战入门:Python in Practice|"
      "深度学习基础:Foundations of Deep Learning|数据结构精讲:Data Structures Explained|"
      "Web开发指南:A Guide to Web Development|Git版本控制实战:Git in Practice", fmt="book",
      brands="星河科技出版社 Xinghe Science Press",
      points="案例丰富:plenty of worked examples|由浅入深:a gentle learning curve|"
             "内容扎实:solid, thorough content",
      uses="自学入门:self-study|工作参考:on-the-job reference"),
    S("散文集", "essay collection", "book", 29, 79, "草木人间:Plants and People|晚风集:Evening Breeze|"
      "慢慢走:Walk Slowly|山居小记:Notes from the Hills|雨后书:After the Rain", fmt="book", brands=_PRESSES,
      points="文笔细腻:fine, delicate prose|情感真挚:heartfelt writing|装帧精美:a beautiful binding"),
)
_PET = (
    S("狗粮", "dog food", "sack", 59, 399, "成犬:adult|幼犬:puppy|小型犬:small-breed",
      "适用=狗;净含量=1.5kg,2kg,5kg,10kg;口味=鸡肉,牛肉,三文鱼", fmt="plain", style_key="适用阶段",
      title_attr="净含量", points=_PET_FOOD, uses=_FEEDING),
    S("猫粮", "cat food", "sack", 49, 399, "成猫:adult|幼猫:kitten|全价:complete",
      "适用=猫;净含量=1.5kg,2kg,5kg;口味=鸡肉,金枪鱼,三文鱼", fmt="plain", style_key="适用阶段",
      title_attr="净含量", points=_PET_FOOD, uses=_FEEDING),
    S("宠物碗", "pet bowl", "bowl", 19, 129, "防滑:non-slip|双碗:double|慢食:slow-feeder",
      "适用=猫狗通用;材质=不锈钢,陶瓷,硅胶"),
    S("磨牙骨", "chew bone", "bone", 9.9, 59, "洁齿:dental|耐咬:tough-chew|小号:small", "适用=狗",
      colours="白色 米色 棕色 黄色 绿色"),
    S("牵引绳", "leash", "leash", 29, 169, "反光:reflective|自动伸缩:retractable|胸背式:harness",
      "适用=狗;材质=尼龙,皮革"),
    S("宠物窝", "pet bed", "petbed", 59, 399, "四季通用:all-season|保暖:warm|可拆洗:washable",
      "适用=猫狗通用;材质=棉麻,毛绒,PP棉;尺寸=S,M,L"),
    S("猫砂", "cat litter", "sack", 29, 129, "豆腐:tofu|膨润土:bentonite|混合:mixed|松木:pine",
      "适用=猫;净含量=6L,10kg", fmt="plain", style_key="类型", title_attr="净含量",
      points="结团快:fast clumping|不易扬尘:low dust|除臭效果好:effective odour control",
      uses="多猫家庭:multi-cat homes|日常清洁:daily cleaning"),
)

CATEGORIES: tuple[Category, ...] = (
    C("服装", "clothing", "件", "云裳 Yunshang|织语 Zhiyu|北屿 Beiyu|棉舍 Mianshe",
      "版型修身显瘦:a slim, flattering cut|面料柔软亲肤:soft, skin-friendly fabric|"
      "走线平整做工精细:neat, even stitching|上身透气舒适:breathable comfort|"
      "简约百搭好搭配:an easy-to-match look|机洗不易变形:a shape that holds up in the wash",
      "日常通勤:everyday commuting|约会逛街:dates and weekend shopping|"
      "度假出游:holidays and trips|居家休闲:relaxing at home",
      _CLOTHING, "尺码=S/M/L,S/M/L/XL,M/L/XL,M/L/XL/XXL,XS/S/M/L", "新品 热卖 百搭 通勤"),
    C("鞋靴", "shoes", "双", "步云 Buyun|踏风 Tafeng|行者 Xingzhe",
      "鞋底防滑耐磨:a non-slip, hard-wearing sole|脚感轻盈:a light feel underfoot|"
      "包裹性好:a snug, supportive fit|鞋垫柔软有弹性:a soft, springy insole|透气不闷脚:breathable comfort",
      "日常通勤:daily commuting|跑步健身:running and workouts|户外徒步:outdoor walks|逛街出行:city strolls",
      _SHOES, "尺码=35/36/37/38/39,36/37/38/39/40,38/39/40/41/42,39/40/41/42/43/44,"
              "36/37/38/39/40/41/42/43/44", "新品 热卖 舒适"),
    C("箱包", "bags", "款", "远行 Yuanxing|拾光 Shiguang|麦田 Maitian",
      "容量大分区合理:roomy, well-organised compartments|五金件结实耐用:sturdy hardware|"
      "线条利落有质感:clean lines and a quality feel|做工精致:fine craftsmanship|"
      "轻便好收纳:a light, packable build",
      "通勤上班:the daily commute|出差旅行:business trips and travel|校园学习:school days|"
      "日常出街:everyday outings", _BAGS, tags="新品 热卖 送礼"),
    C("美妆", "beauty", "款", "花间 Huajian|凝露 Ninglu|初语 Chuyu", _SKIN,
      "日常妆容:everyday makeup|约会聚会:dates and parties|通勤上班:office days", _BEAUTY,
      tags="新品 热卖 送礼"),
    C("数码", "electronics", "款", "星驰 Xingchi|极光 Jiguang|青檬 Qingmeng|曜石 Yaoshi",
      "续航持久:long battery life|做工精致:a refined build|反应灵敏:responsive performance|"
      "轻巧便携:a light, portable design|手感舒适:a comfortable feel in hand",
      "日常使用:everyday use|办公学习:work and study|游戏娱乐:gaming and entertainment|"
      "出差旅行:business travel", _ELECTRONICS, tags="新品 热卖 学生"),
    C("家居", "home", "款", "栖木 Qimu|暖居 Nuanju|素简 Sujian",
      "简约百搭:a clean, versatile look|质感细腻:a refined finish|做工扎实:solid workmanship|"
      "易清洁打理:easy cleaning|结实耐用:a sturdy build",
      "客厅:the living room|卧室:the bedroom|书房:the study|小户型:small apartments", _HOME,
      tags="新品 热卖 乔迁"),
    C("厨具", "kitchen", "款", "味匠 Weijiang|厨悦 Chuyue|禾厨 Hechu",
      "做工扎实:solid workmanship|易清洗:easy cleaning|设计实用:a practical design|"
      "经久耐用:long-lasting durability|手感舒适:a comfortable grip",
      "日常做饭:everyday cooking|新手下厨:beginner cooks|三口之家:a family of three|小厨房:small kitchens",
      _KITCHEN, tags="新品 热卖 乔迁"),
    C("运动", "sports", "款", "劲动 Jindong|山野 Shanye|跃动 Yuedong",
      "做工扎实:solid workmanship|手感舒适:a comfortable feel|轻便易携带:easy portability|"
      "经久耐用:long-lasting durability",
      "健身房训练:gym training|居家锻炼:home workouts|户外运动:outdoor sports|日常锻炼:everyday exercise",
      _SPORTS, tags="新品 热卖 健身"),
    C("玩具", "toys", "款", "童趣 Tongqu|小树 Xiaoshu|乐多 Leduo",
      "边角圆润不伤手:smooth, rounded edges|材质安全无异味:safe, odour-free materials|"
      "做工精细:fine workmanship|锻炼动手能力:hands-on skill building|耐玩不易坏:sturdy, long-lasting play",
      "亲子互动:parent-child play|生日礼物:birthday gifts|益智启蒙:early learning|节日送礼:holiday gifts",
      _TOYS, "适用年龄=1岁以上,3岁以上,6岁以上,8岁以上", "新品 热卖 儿童节"),
    C("食品", "food", "款", "山味 Shanwei|果园记 Guoyuanji|谷源 Guyuan",
      "独立包装方便携带:individually wrapped portions|原料精选:carefully selected ingredients|"
      "新鲜发货:fresh stock shipped quickly|口感好:great taste",
      "办公室零食:office snacking|追剧:movie nights|下午茶:afternoon tea|送礼:gifting", _FOOD,
      tags="新品 热卖 送礼"),
    C("图书", "books", "本", "青禾出版社 Qinghe Press|远山文艺出版社 Yuanshan Literature Press|"
      "星河科技出版社 Xinghe Science Press|晨光少儿出版社 Chenguang Children's Press",
      "文笔细腻:fine, delicate prose|故事引人入胜:a gripping story|装帧精美:a beautiful binding",
      "睡前阅读:bedtime reading|通勤路上:the daily commute|周末闲读:weekend reading|送礼:gifting",
      _BOOKS, "作者=林知远,陈晓雨,周明川,苏念,王一鸣,李清和,赵书言,何以安,许南风", "新书 畅销 经典",
      pack=("封面以{c}为主色调。", "The cover is mainly {c}."), brand_attr="出版社"),
    C("宠物", "pet", "款", "萌宠 Mengchong|汪喵 Wangmiao|毛孩 Maohai",
      "安全无异味:safe, odour-free materials|易清洁:easy cleaning|"
      "结实耐咬:a tough, chew-resistant build|做工精细:fine workmanship",
      "日常照顾:everyday care|居家陪伴:time at home|外出遛弯:walks outside|新手养宠:first-time pet owners",
      _PET, tags="新品 热卖 囤货"),
)

# Products every demo catalog holds, whatever the seed (category, subtype, colour, price): so that
# "红色连衣裙 300元以内" has answers and "300元以上" has others.
PINS: tuple[tuple[str, str, str, float], ...] = (
    ("服装", "连衣裙", "红色", 129.0), ("服装", "连衣裙", "红色", 199.0), ("服装", "连衣裙", "红色", 239.0),
    ("服装", "连衣裙", "红色", 269.0), ("服装", "连衣裙", "红色", 359.0), ("服装", "连衣裙", "红色", 499.0),
    ("服装", "连衣裙", "红色", 599.0), ("服装", "连衣裙", "粉色", 169.0),
    ("服装", "连衣裙", "白色", 329.0), ("鞋靴", "运动鞋", "白色", 399.0), ("数码", "耳机", "黑色", 459.0),
)
