"""The typed reading of a shopper's turn, and the deterministic reader that checks every other reading.

`read_rules(text, state, index)` reads language, intent cues, product references (ids of any shape, looked up
in the catalog; ordinals; "it"; product names spelled out), constraints (prices, colours and sizes the catalog
can filter by, specs such as "60升") and refinements. It is the fallback with no model (`--no-llm`) and the
checker of the model's reading (`daogou.agent.model_reading`): everything the model proposes is compared with
what the shopper actually said, and with what the catalog holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from daogou.agent.kinds import best_lexical, in_some_title, kind_of, sold_as_kind
from daogou.agent.model_reading import ModelReading
from daogou.agent.state import DialogueState
from daogou.ingest.filters import Filters
from daogou.ingest.vocab import colors_in_text, strip_colors
from daogou.prompts import load_prompts
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.query import ParsedQuery, Spec, parse_query, specs_in_text
from daogou.tools.vocabulary import Vocabulary, title_terms

__all__ = ["Reading", "combine", "detect_lang", "ids_in_text", "need_kinds", "read_rules", "unknown_ids"]

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")

_GREETING = re.compile(
    r"^(你好|您好|嗨|哈喽|hello|hi|hey|在吗|在不在|早上好|晚上好|谢谢|谢了|多谢|thanks|thank you|thx|再见|拜拜|bye|"
    r"good (morning|evening|afternoon)|你是谁|who are you|你能做什么|what can you do|ok|好的|嗯|好)[\s!！。.,，?？~～]*"
    r"(你好|呀|啊|哦|there|again|a lot|so much)?[\s!！。.,，?？~～]*$", re.I)
_SIMILAR = re.compile(r"(类似|相似|差不多的|同款|像这个|像这样|一样的|同类|similar|more like|"
                      r"(something|anything|ones?|items?|products?|stuff|others?) like (this|that|it|these|the)|"
                      r"alike|same style|looks? like)", re.I)
_RECOMMEND = re.compile(r"(猜我喜欢|适合我|would suit me|suits? me|为我推荐|给我推荐|根据我的|按我的|我的喜好|我的口味|适合我的|推荐点我|个性化|我可能喜欢|"
                        r"我会喜欢|可能会喜欢|可能喜欢的|(根据|按照|基于).{0,6}(喜欢|看过|浏览|收藏)|再推荐|推荐几|"
                        r"what else (would|might|could|will) i (like|love|enjoy)|based on what i('ve| have)? "
                        r"(looked|liked|viewed|seen|picked)|what (else )?(would|might) i like|"
                        r"recommend (something|me|some)|for me based|based on (what|my)|my taste|you think i.d like|"
                        r"suggest something|personali[sz]ed)", re.I)
_COMPARE = re.compile(r"(比较|对比|比一比|哪个好|哪个更|哪款好|哪款更|区别|有什么不同|差别|compare|comparison|difference|"
                      r"\bvs\.?\b|versus|which (one )?is better|which should i)", re.I)
_DETAILS = re.compile(r"(详情|详细|介绍一下|介绍下|参数|规格|具体信息|看看第|说说|more about|tell me more|tell me about|"
                      r"details|specs|"
                      r"specifications|more info)", re.I)
_COPY = re.compile(r"(文案|广告语|卖点|写一段|写个|写一个|写段|宣传|推广语|种草|标题|copywriting|"
                   r"write .{0,40}\b(copy|description|ad|advert|blurb|slogan|tagline|listing)\b|marketing (copy|text)|"
                   r"slogan|tagline|selling points)", re.I)
_COPY_AGAIN = re.compile(r"(风格|版本|一版|再来|再写|换个|改成|正式|活泼|简洁|高端|促销|中文|英文|短一点|长一点|version|style|tone|"
                         r"formal|casual|shorter|longer|in english|in chinese|again|another|playful|fun|punchy|"
                         r"premium|luxur|promotional|salesy|make it (more|less|sound))", re.I)
_CHITCHAT = re.compile(r"(谢谢|谢了|多谢|再见|拜拜|考虑一下|想一想|先这样|就这样|你是谁|真人|机器人|thank|thanks|bye|"
                       r"that'?s all|that is all|who am i talking|real person|are you (a )?(bot|robot|human|real)|"
                       r"who are you|nice to meet)", re.I)
_ASKING = re.compile(r"([?？]\s*$|吗|多久|多少|多大|多重|几|什么|怎么|如何|是否|^\s*(how|what|which|is|are|does|do|can|will)\b)",
                     re.I)
_QUESTION = re.compile(r"(吗|么|呢)?\s*[?？]\s*$|吗\s*$|(是什么|什么材质|多少钱|多大|多重|多少|几|怎么样|能不能|可以.*吗|"
                       r"有没有|是不是|^(is|are|does|do|can|what|which|how|will)\b)", re.I)
_ATTRIBUTE_WORDS = re.compile(r"(防水|多大|大小|多重|多少克|how big|how heavy|how much does|材质|面料|尺码|码数|颜色|价格|多少钱|价钱|库存|有货|现货|容量|品牌|产地|重量|尺寸|"
                              r"作者|出版社|口味|保质期|净含量|适合|waterproof|material|fabric|size|colou?r|price|"
                              r"cost|stock|available|capacity|brand|made|weight|dimension|author|publisher|flavou?r)",
                              re.I)
_CHEAPER = re.compile(r"(便宜|实惠|划算|低价|省钱|cheaper|less expensive|lower price|more affordable|budget)", re.I)
_PRICIER = re.compile(r"(贵一点|贵点|更贵|好一点|高端一点|档次高|pricier|more expensive|higher[- ]end|premium|"
                      r"better quality)", re.I)
_SIZE_UP = re.compile(r"(大一号|大一码|大一点的码|大号一点|one size (up|bigger|larger)|a size (up|bigger|larger)|"
                      r"bigger size|larger size|size up)", re.I)
_SIZE_DOWN = re.compile(r"(小一号|小一码|one size (down|smaller)|a size (down|smaller)|smaller size|size down)", re.I)
_OTHER_BRAND = re.compile(r"(不要这个(牌子|品牌)|换个(牌子|品牌)|别的(牌子|品牌)|其他(牌子|品牌)|not that brand|"
                          r"other brands?|different brand|another brand)", re.I)
_LIKE = re.compile(r"(我(很|挺|比较|最)?喜欢|我爱|收藏|\bi (really |quite )?(like|love)\b|\blove (the|this|that|it)\b)", re.I)
_DISLIKE = re.compile(r"(不喜欢|不太喜欢|讨厌|不想要|don'?t like|do not like|dislike|hate)", re.I)
_BOUGHT = re.compile(r"(买了|已经买|下单了|bought|purchased|ordered)", re.I)
_CARTED = re.compile(r"(加入购物车|加购|放进购物车|add(ed)? (it |this |that )?to (my )?cart)", re.I)

_ORD_ZH = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ORD_EN = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
           "5th": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_ORDINAL_ZH = re.compile(r"第\s*([一二两三四五六七八九十]|\d{1,2})\s*(个|款|件|条|双|只|本|台|部|项|种|样)?")
_ORDINAL_EN = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|seventh|eighth|ninth|tenth)\b"
                         r"|(?:#|number |no\. ?)(\d{1,2})\b", re.I)
_LAST = re.compile(r"(最后一个|最后那个|最后一款|the last one|\blast one\b)", re.I)
_BOTH = re.compile(r"(这两个|这两款|这两件|前两个|前两款|两个都|both|these two|the two|them\b)", re.I)
_THREE = re.compile(r"(这三个|前三个|这三款|all three|these three)", re.I)
_PRONOUN = re.compile(r"(它|这件|这个|这款|那件|那个|那款|这双|那双|这本|这台|该商品|this one|that one|\bit\b|\bthis\b|"
                      r"\bthat\b)", re.I)
# tokens that may be a product id: letters, digits and - _ . / with at least one digit ("SKU-1092", "100042754736")
MAX_QUERY_CHARS = 120  # search words kept of a message (and carried to the next turns)
_ID_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-./])([A-Za-z0-9][A-Za-z0-9_\-./]*\d[A-Za-z0-9_\-./]*)(?![A-Za-z0-9_\-])")
# A question about a thing (not "do you have X?"): what lets a product named in full become the thing asked about.
_WH = re.compile(r"(多久|多少|多大|多重|多长|多宽|多高|几|什么|怎么|如何|是否|哪|^\s*(how|what|which|is|are|does|can|will)\b|"
                 r"\b(how|what|which)\b)", re.I)
_HAVE = re.compile(r"(有没有|有吗|^\s*有.{0,20}[吗么][?？]?$|do you (have|carry|sell|stock)|have you got|got any)", re.I)
_STOCK_Q = re.compile(r"(有货|有库存|有现货|还有吗|卖完了|售罄)|\b(in stock|available|sold out)\b", re.I)
_WHICH = re.compile(r"(哪个|哪款|哪一个|哪一款|哪件|哪双|哪台|which one|which of (them|these|the)|which is|which has)", re.I)
# "那粉色连帽外套呢？", "what about the Grey slim phone?": the previous question, asked of another product
_ELLIPSIS = re.compile(r"^\s*(那|那么|还有)?.{2,40}(呢|怎么样)[?？]?\s*$|^\s*(what|how) about\b|^\s*and (the|that)\b",
                       re.I)
_CHEAPEST = re.compile(r"(最便宜|最实惠|价格最低|最低价|cheapest|least expensive|lowest[- ]priced?)", re.I)
_SELL = re.compile(r"(有没有|有卖|卖不卖|有.{1,12}[吗么]|do you (have|sell|carry|stock)|have you got|is there|"
                   r"are there|any .{1,30}\?)", re.I)
_OTHERS = re.compile(r"(别的|其他的?|其它的?|另外的|换一[个款件]|another|\bother\b|\bdifferent\b|\belse\b)", re.I)
_PRICIER_Q = re.compile(r"(更贵|贵一些|贵点|more expensive|pricier|dearer|costs? more)", re.I)
_DEAREST = re.compile(r"(最贵|价格最高|most expensive|priciest|dearest|highest[- ]priced?)", re.I)
# a need, an occasion or a person to shop for, rather than a kind of product ("gift for my mom who loves cooking")
_NEED = re.compile(r"(礼物|送给|送人|送礼|生日|纪念日|过节|节日|喜欢|爱好|热爱|爱(做|喝|吃|玩|看|运动)|需要.{0,10}(用|的)|用来|"
                   r"怎么办|有什么办法|有啥办法|怎么解决|太多了|总是|老是|容易|不舒服|难受|"
                   r"给(我)?(妈|爸|老婆|老公|媳妇|女朋友|男朋友|对象|孩子|宝宝|儿子|女儿|朋友|闺蜜|同事|老师|长辈|爷爷|奶奶|"
                   r"父母|爸妈)|适合.{1,8}(用|的)|"
                   r"\bgifts?\b|\bpresents?\b|birthday|anniversary|christmas|valentine|house-?warming|\bloves?\b|"
                   r"\bis into\b|\bhobby\b|something (to|for|that)|anything (to|for|that)|ideas? for|"
                   r"\bfor (my|a|her|his|the) (mom|mum|mother|dad|father|wife|husband|girlfriend|boyfriend|kid|son|"
                   r"daughter|friend|boss|teacher|grandma|grandpa|parents?|baby|colleague|coworker))", re.I)
_FAREWELL = re.compile(r"(谢谢|谢了|多谢|再见|拜拜|先这样|就这样|thank|thanks|bye|that'?s all|that is all)", re.I)
_ELSE = re.compile(r"(再|别的|其他|其它|还有|更多|else|other|more|another)", re.I)
_OVERVIEW = re.compile(r"(都卖(些)?什么|卖什么|有哪些(品类|类目|商品|东西)|有什么(商品|东西|卖)|经营什么|"
                       r"what (do you|does (the|this) (shop|store)) (sell|have|carry)|what can i (buy|get) here|"
                       r"what kinds? of (products|things)|what categories)", re.I)

# Words that carry no product meaning: what is left after removing them (and constraints) decides whether a
# turn names a new kind of product ("那T恤呢") or only revises the current search ("有蓝色的吗").
_FILLER = re.compile(
    r"(我想要|我想买|我想|我要|想要|想买|帮我找|帮我|给我|找一下|找找|找|看看|看一下|有没有|有吗|有的|有|要|的|呢|吗|吧|啊|呀|"
    r"那|还有|什么|一些|一点|一下|点|些|再|换成|换|只要|只看|请|麻烦|可以|能|推荐|一款|一个|一件|款|色|颜色|你们|有卖|卖|请问|"
    r"店里|这里|吗)|"
    r"\b(show me|find me|find|i want|i need|i'm looking for|looking for|do you have|are there|any|some|ones?|"
    r"do you sell|do you carry|sell|carry|stock|you|have|got|is|are|there|do|does|i|i'm|am|get|buy|"
    r"what about|how about|please|can you|could you|instead|only|just|in|the|a|an|me|with|for|of|and|or|to|"
    r"cheaper|cheap|colou?r|size|brand|too|also|other|more|less|expensive|something|else|she|he|they|loves?|"
    r"likes?|wants?|needs?|my|her|his|their)\b",
    re.I)


_LEAD = re.compile(r"^((那|还有|有没有|帮我找|帮我|我想要|我想买|我要|给我|请|麻烦|的|你们|店里|有卖|请问|"
                   r"(show me|find me|do you have|do you sell|i'?m looking for|looking for|what about|how about|"
                   r"do you carry|have you got|got|any|some)(?![a-z]))\s*)+",
                   re.I)
_TAIL = re.compile(r"\s*(有吗|有没有|有不|呢|吗|吧|啊|呀|please)?\s*[?？!！。.]*$", re.I)


def detect_lang(text: str, default: str = "zh") -> str:
    """'zh' when Chinese characters outweigh English words (a word counting 1.5 characters), else 'en'.

    "iPhone 15 手机壳有吗" is Chinese; "Do you have the 蓝色雪地靴子 in size 37?" is English with a Chinese name in it.
    """
    cjk = len(_CJK.findall(text))
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    if cjk == 0 and words == 0:
        return default
    return "zh" if cjk > 1.5 * words else "en"


@dataclass
class Reading:
    """What the code reads from one turn."""

    lang: str
    parsed: ParsedQuery
    intent: str  # greet | similar | recommend | compare | details | answer | copy | search | refine
    refs: list[str] = field(default_factory=list)  # product ids referred to, in the order meant
    question: str = ""  # the question an answer turn asks (the previous one for "那粉色的呢？")
    named: bool = False  # refs come from product names spelled out in the message
    keywords: list[str] = field(default_factory=list)  # words a product must mention ("三文鱼" of "有三文鱼口味的吗")
    farewell: bool = False  # "thanks, that's all": small talk that closes
    uncertain: bool = False  # no cue decided the intent (a fallback search/refine): the model's reading decides
    cheapest: bool = False  # "what's the cheapest phone?": lowest price first, whatever budget was said before
    filters: Filters = field(default_factory=Filters)  # the constraints in force after this turn
    query: str = ""  # retrieval words after this turn
    signals: list[tuple[str, str]] = field(default_factory=list)  # (product_id, event) stated this turn
    notes: list[str] = field(default_factory=list)  # what was revised, for the trace
    ids_typed: list[str] = field(default_factory=list)  # catalog ids the shopper typed, in order
    unknown_ids: list[str] = field(default_factory=list)  # tokens shaped like this catalog's ids that are none of them
    specs: list[Spec] = field(default_factory=list)  # "60升": products must state this value in this unit
    kinds: list[str] = field(default_factory=list)  # kinds of product (catalog terms) the results must be of
    missing: str = ""  # a kind of product the shopper asked for that the catalog does not sell ("手机")
    nearest_ok: bool = False  # `missing` was only named ("马克杯"), not asked for: show the nearest, labelled so
    need: bool = False  # the words state a need or a gift, not a kind of product: search by the kinds it calls for
    ideas: bool = False  # the kinds are ideas for the need (needs.yaml, the model), not kinds the shopper named
    which: str = ""  # "cheapest" / "dearest": a superlative over the products on screen ("哪个最便宜")
    source: str = "rules"  # who read the intent: "rules" or "model"
    weak_refs: bool = False  # the refs come only from "it"/"this" (the product in focus), not from an id or ordinal


def _ordinal(raw: str) -> int:
    return int(raw) if raw.isdigit() else _ORD_ZH.get(raw, _ORD_EN.get(raw.lower(), 0))


def ids_in_text(text: str, index: CatalogIndex) -> list[str]:
    """Catalog ids the text names, in order: any token with a digit that is an id of this catalog, exactly or in
    another letter case ("sku-1092" for "SKU-1092"). Ids are never guessed from their shape."""
    out: list[str] = []
    for m in _ID_TOKEN.finditer(text):
        token = m.group(1).rstrip(".-/")
        for candidate in (token, token.upper(), token.lower()):
            if candidate in index.pos:
                out.append(candidate)
                break
    return list(dict.fromkeys(out))


MIN_ID_DIGITS = 3  # an id shape needs this many digits ("red-dress-2" is a handle, "SKU-1442" an id)
MIN_NUMERIC_ID = 8  # an all-digit id shape needs this many ("3000" is a price, "100012345678" an id)
MAX_SHAPE_SAMPLE = 20_000  # ids read for the shapes (a million ids would take seconds)
_SHAPES: dict[str, tuple[object, frozenset[str]]] = {}  # one entry: the id list the shapes were read from


def _id_shape(token: str) -> str:
    """An id's shape: letters upper-cased, every digit 9 ("sku-1442" -> "SKU-9999")."""
    return re.sub(r"\d", "9", token.upper())


def _catalog_id_shapes(index: CatalogIndex) -> frozenset[str]:
    """The shapes that at least two of the catalog's ids share (read once per state of the catalog)."""
    ids = index.ids  # (the list of one state of the catalog: a new state is a new list)
    held = _SHAPES.get("shapes")
    if held is not None and held[0] is ids:
        return held[1]
    counts: dict[str, int] = {}
    step = max(1, len(ids) // MAX_SHAPE_SAMPLE)  # the shapes of a catalog's ids show in an even sample of them
    for pid in ids[::step]:
        if sum(ch.isdigit() for ch in pid) >= MIN_ID_DIGITS:
            shape = _id_shape(pid)
            counts[shape] = counts.get(shape, 0) + 1
    shapes = frozenset(s for s, n in counts.items() if (n >= 2 or len(ids) <= 2)
                       and (not s.isdigit() or len(s) >= MIN_NUMERIC_ID))
    _SHAPES["shapes"] = (ids, shapes)
    return shapes


def unknown_ids(text: str, index: CatalogIndex) -> list[str]:
    """Tokens of the text shaped like this catalog's ids that are not ids of it ("SKU-1442" in a shop whose ids run
    SKU-1001..SKU-1040): a product the shopper names by an id the shop does not have. Only a shape that the
    catalog's own ids share counts, so model names, prices and sizes are never taken for ids."""
    tokens = [m.group(1).rstrip(".-/") for m in _ID_TOKEN.finditer(text)]
    tokens = [t for t in tokens if sum(ch.isdigit() for ch in t) >= MIN_ID_DIGITS
              and not (t.isdigit() and len(t) < MIN_NUMERIC_ID)  # a price or a size ("300元", "2000")
              and not any(c in index.pos for c in (t, t.upper(), t.lower()))]
    if not tokens:
        return []
    shapes = _catalog_id_shapes(index)
    return list(dict.fromkeys(t for t in tokens if _id_shape(t) in shapes))


def resolve_refs(text: str, state: DialogueState, index: CatalogIndex) -> list[str]:
    """Product ids the turn refers to: ids of the catalog typed out, ordinals over the latest list, "both", "it"."""
    shown = state.shown
    refs: list[str] = ids_in_text(text, index)
    for m in _ORDINAL_ZH.finditer(text):
        n = _ordinal(m.group(1))
        if 1 <= n <= len(shown):
            refs.append(shown[n - 1])
    for m in _ORDINAL_EN.finditer(text):
        n = _ordinal(m.group(1) or m.group(2) or "")
        if 1 <= n <= len(shown):
            refs.append(shown[n - 1])
    if _LAST.search(text) and shown:
        refs.append(shown[-1])
    if not refs and _THREE.search(text):
        refs += shown[:3]
    if not refs and _BOTH.search(text):
        refs += shown[:2]
    if not refs and _PRONOUN.search(text):
        target = state.focus or (shown[0] if shown else None)
        if target:
            refs.append(target)
    return list(dict.fromkeys(refs))


_CUES = (_CHEAPER, _PRICIER, _SIZE_UP, _SIZE_DOWN, _OTHER_BRAND, _LIKE, _DISLIKE, _BOUGHT, _CARTED, _RECOMMEND,
         _PRONOUN, _ORDINAL_ZH, _ORDINAL_EN, _LAST, _BOTH, _THREE)


def _has_product_words(rest: str) -> bool:
    """True when the words left after constraints, cue phrases and filler still name a kind of product."""
    for cue in _CUES:
        rest = cue.sub(" ", rest)
    left = _FILLER.sub(" ", rest.lower())
    left = re.sub(r"[\s\d.,，。!！?？~～:：;；'\"、/()（）-]+", " ", left).strip()
    cjk = len(_CJK.findall(left))
    words = re.findall(r"[a-z]{3,}", left)
    return cjk + len(re.findall(r"[a-z]", left)) >= 2 and (cjk >= 1 or bool(words))


def _names_product(words: str, vocab: Vocabulary) -> bool:
    """Whether the words (constraints removed) name a kind of product: catalog title terms when known."""
    if not vocab.title_terms:
        return _has_product_words(words)
    for cue in _CUES:
        words = cue.sub(" ", words)
    return vocab.names_product(_FILLER.sub(" ", words))


def _shown_named(text: str, state: DialogueState, vocab: Vocabulary) -> list[str]:
    """Shown products the message points at by a title term ("What sizes does the t-shirt come in?") or by
    colour ("What's the yellow one made of?")."""
    terms = vocab.product_terms(text)
    colours = colors_in_text(text)
    if not terms and not colours:
        return []
    out = []
    for pid in state.shown:
        p = state.catalog_seen.get(pid)
        if p is None:
            continue
        if terms and not terms & title_terms([p.title]):
            continue
        if colours and not set(colours) & set(colors_in_text(" ".join((p.title, *p.attributes.values())))):
            continue
        out.append(pid)
    return out


def _names_off_screen(text: str, state: DialogueState, index: CatalogIndex) -> bool:
    """Whether the words widen a title term of the products on screen into a longer phrase that some catalog title
    writes but none on screen does ("空调罩" when only "…空调冷库…" is shown): they name another product."""
    shown = [p.title.lower() for pid in state.shown if (p := state.catalog_seen.get(pid)) is not None]
    low = text.lower()
    for term in sorted(index.vocabulary.product_terms(text), key=len):
        if not _CJK.search(term) or not any(term in t for t in shown):
            continue
        at = low.find(term)
        while at >= 0:
            for more in (1, 2):
                wider = low[at:at + len(term) + more]
                if len(wider) == len(term) + more and all(_CJK.match(ch) for ch in wider) \
                        and not any(wider in t for t in shown) and in_some_title(wider, index):
                    return True
            at = low.find(term, at + 1)
    return False


def _best_shown(text: str, current: str, state: DialogueState, vocab: Vocabulary) -> str | None:
    """The product on screen that the words name best ("the lighter", "那个八音盒") when it is not `current`: it
    must share at least two title terms with the words ("八音", "音盒") and more than any other product shown,
    so that a question word alone ("这个能充电吗") never moves the reference."""
    terms = vocab.product_terms(text)
    if len(terms) < 2:
        return None
    scores = {}
    for pid in state.shown:
        p = state.catalog_seen.get(pid)
        if p is not None:
            scores[pid] = len(terms & title_terms([p.title]))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < 2 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    best = ranked[0][0]
    return best if best != current and scores.get(current, 0) < ranked[0][1] else None


def _shares_terms(text: str, pid: str, state: DialogueState, vocab: Vocabulary) -> bool:
    """Whether the product `pid` (seen in this dialogue) has a title term the words name ("这个手机" of a phone)."""
    p = state.catalog_seen.get(pid)
    return p is None or bool(vocab.product_terms(text) & title_terms([p.title]))


def _next_size(size: str, step: int) -> str | None:
    letters = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
    if size in letters:
        i = letters.index(size) + step
        return letters[i] if 0 <= i < len(letters) else None
    return str(int(size) + step) if size.isdigit() else None


def _strip_constraint_words(text: str, parsed: ParsedQuery) -> str:
    rest = parsed.text
    for words in parsed.mentions.values():
        for w in words:
            rest = rest.replace(w, " ")
    return rest


def read_rules(text: str, state: DialogueState, index: CatalogIndex) -> Reading:
    """Read one shopper message against the dialogue state and the catalog; see the module docstring."""
    vocab = index.vocabulary
    lang = detect_lang(text, default=state.lang)
    parsed = parse_query(text, vocab)
    typed = ids_in_text(text, index)
    refs = resolve_refs(text, state, index)
    r = Reading(lang=lang, parsed=parsed, intent="search", refs=refs, ids_typed=typed, specs=specs_in_text(text),
                unknown_ids=unknown_ids(text, index))
    new = parsed.filters
    words = _strip_constraint_words(text, parsed)
    for pid in typed + r.unknown_ids:  # an id is a reference, not words naming a kind of product
        words = re.sub(re.escape(pid), " ", words, flags=re.I)
    names_product = _names_product(words, vocab)
    refines = any(p.search(text) for p in (_CHEAPER, _PRICIER, _SIZE_UP, _SIZE_DOWN, _OTHER_BRAND))
    pointed = False

    has_constraints = not new.is_empty()
    weak_ref = bool(refs) and not (typed or _ORDINAL_ZH.search(text)
                                   or _ORDINAL_EN.search(text) or _LAST.search(text) or _BOTH.search(text))
    named: list[str] = []
    if not refs or weak_ref:
        named = vocab.named_products(text)
    asks = bool(_WH.search(text) or _ATTRIBUTE_WORDS.search(text)) and not _HAVE.search(text)
    acts = bool(_COMPARE.search(text) or _DETAILS.search(text) or _SIMILAR.search(text) or _COPY.search(text)
                or _BOUGHT.search(text) or _LIKE.search(text) or _DISLIKE.search(text) or _CARTED.search(text))
    if named and (asks or acts or (state.last_tool == "answer_about_product" and _ELLIPSIS.search(text))):
        refs = r.refs = named
        r.named, weak_ref, names_product = True, False, False
    if weak_ref and not r.named and len(state.shown) >= 2:
        better = _best_shown(text, refs[0], state, vocab)
        if better:  # "那个打火机能充电吗？": "那个" with the kind of one product on screen points at that one
            refs = r.refs = [better]
            weak_ref, names_product = False, False
    if not refs and state.shown and _ASKING.search(text) and _ATTRIBUTE_WORDS.search(text):
        found = _shown_named(text, state, vocab)
        if found and _names_off_screen(text, state, index):
            found = []  # "空调罩多少钱？" with an expansion valve "…空调冷库…" on screen: the cover is elsewhere
        if found:
            refs = r.refs = found[:1]
            names_product = False
            pointed = True  # "What's the yellow one made of?": the colour picks the product, it is not asked
    superlative = _CHEAPEST.search(text) or _DEAREST.search(text)
    comparative = _WHICH.search(text) and (_CHEAPER.search(text) or _PRICIER_Q.search(text))
    if not refs and len(state.shown) >= 2 and (superlative or comparative) \
            and (_WHICH.search(text) or not names_product) and not has_constraints:
        # "哪个最便宜", "which one is cheaper?": of the products on screen
        r.which = "cheapest" if (_CHEAPEST.search(text) or _CHEAPER.search(text)) else "dearest"
        refs = r.refs = state.shown[:10]
        names_product = False
    if not refs and len(state.shown) >= 2 and _WHICH.search(text) and not _HAVE.search(text):
        refs = r.refs = state.shown[:5]  # "哪个容量大一点？", "Which one is waterproof?": ask it of each
        names_product = False
    if not refs and state.focus and state.last_tool in ("answer_about_product", "product_details") \
            and _STOCK_Q.search(text) and not names_product:
        refs = r.refs = [state.focus]  # "现在有货吗？" after a question about one product: its stock, not a search
    if not refs and state.focus and state.last_tool in ("answer_about_product", "product_details") \
            and _WH.search(text) and not names_product and not has_constraints:
        refs = r.refs = [state.focus]  # "一罐有多少克？", "What about the screen size?": still the same product

    priced = new.price_min is not None or new.price_max is not None
    elsewhere = weak_ref and not r.named and not _shares_terms(text, refs[0], state, vocab)
    if (not refs or elsewhere) and names_product and (asks or _QUESTION.search(text)) and not priced \
            and not _HAVE.search(text):
        # "Is the rain jacket waterproof?"; "那个八音盒是什么颜色的？" when the product in focus is no music box
        one = _one_titled(_kind_words(parsed, r), text, parsed.filters.brands, index, state)
        if one:  # "Is the rain jacket waterproof?": the one product whose title says "rain jacket"
            refs = r.refs = [one]
            r.named, names_product = True, False

    for pattern, event in ((_DISLIKE, "disliked"), (_BOUGHT, "bought"), (_CARTED, "carted"), (_LIKE, "liked")):
        if pattern.search(text):
            targets = refs or ([state.focus] if state.focus else [])
            r.signals += [(pid, event) for pid in targets]
            break

    if _GREETING.match(text.strip()) or (_CHITCHAT.search(text) and (not refs or weak_ref) and not has_constraints
                                         and not (names_product and _has_request(text))):
        r.intent = "greet"
        r.farewell = bool(_FAREWELL.search(text))
    elif _OVERVIEW.search(text) and not refs:
        r.intent = "overview"
    elif r.which:
        r.intent = "answer"  # "哪个最便宜": of the products on screen
    elif _COPY.search(text) or (state.last_tool == "write_copy" and _COPY_AGAIN.search(text)
                                and not names_product):
        r.intent = "copy"
    elif _COMPARE.search(text):
        r.intent = "compare"
    elif _SIMILAR.search(text):
        r.intent = "similar"
    elif _RECOMMEND.search(text) and not names_product:
        r.intent = "recommend"
    elif _DETAILS.search(text) and refs:
        r.intent = "details"
    elif state.anchor and not names_product and not refs and (refines or has_constraints):
        r.intent = "similar"  # "要便宜点的，300以内" after "找类似的": more like the same product, revised
    elif refines and state.query and not names_product:
        r.intent = "refine"
    elif _NEED.search(text) and not refs:
        r.intent = "search"  # a need or a gift: a new search, whatever was searched before
    elif not refs and not refines and (not state.query or _SELL.search(text)) and _missing_kind(words, text, index):
        r.intent = "search"  # "do you sell refrigerators?": a kind the catalog does not hold
    elif _HAVE.search(text) and state.query and not refs and not names_product \
            and _in_catalog(_extra_words(words), vocab):
        r.intent = "refine"  # "有三文鱼口味的吗？": the same search, with these words added
    elif refs and (_QUESTION.search(text) or _ATTRIBUTE_WORDS.search(text) or r.named) \
            and not (weak_ref and has_constraints and not _ASKING.search(text)):
        r.intent = "answer"
    elif r.signals and not names_product:
        r.intent = "recommend"
    elif state.shown and not names_product and not has_constraints and _ASKING.search(text):
        r.intent = "answer"  # a question about what is on screen ("保修多久？", "What about the screen size?")
    elif state.query and not names_product:
        r.intent = "refine"
        r.uncertain = not has_constraints and (not refs or weak_ref)
    else:
        r.intent = "search"
        r.uncertain = not has_constraints and not names_product and (not refs or weak_ref)
    if r.intent == "search" and typed and refs and _only_reference(_LEAD.sub("", words.strip())):
        r.intent = "details"  # "帮我看看D0604", "show me SKU-1092": the product the id names
    r.weak_refs = weak_ref and not r.named and not r.which
    if r.intent == "answer" and not r.which and refs and not typed and _only_reference(words):
        r.intent = "details"  # "the second one?", "第二个呢": show it, there is no question to answer
    if r.intent == "answer":
        elliptic = r.named and state.last_question and _ELLIPSIS.search(text) and not _ATTRIBUTE_WORDS.search(text)
        r.question = state.last_question if elliptic else parsed.text
        if r.named and not elliptic:
            r.question = vocab.without_names(parsed.text).strip()  # "grey" of "Grey slim phone" is no question
        elif pointed:
            r.question = strip_colors(parsed.text).strip() or parsed.text
        if elliptic:
            r.notes.append("the previous question, about another product")

    if r.intent == "refine":
        r.filters, r.notes = _revise(state, new, text)
        r.query = state.query
        if state.kinds:  # "有没有更便宜一点的？" after a gift search: cheaper ones of the same kinds (ideas)
            r.kinds, r.ideas, r.need = list(state.kinds), state.need, state.need
        extra = _extra_words(words) if _HAVE.search(text) else ""
        if extra and extra not in r.query:
            r.query = f"{r.query} {extra}"
            r.keywords = [w for w in _ATTRIBUTE_WORDS.sub(" ", extra).split() if len(w) >= 2]
            r.notes.append(f"search words added: {extra}")
    elif r.intent == "similar" and state.anchor and not _SIMILAR.search(text):
        r.filters, r.notes = _revise(state, new, text)  # the anchor's constraints (see Agent._update_state)
        r.query = ""
    elif r.intent == "similar":
        r.filters = new  # only what this turn says ("anything similar I can buy now"): not an old search's
        r.query = state.query
    elif r.intent == "search":
        carried = state.filters
        r.cheapest = bool(_CHEAPEST.search(text))
        _read_kinds(r, text, _kind_words(parsed, r), index)
        if r.need and not r.kinds and state.need:
            r.kinds, r.ideas = list(state.kinds), True  # "她特别喜欢粉色的东西": the same gift, one more wish
        # the budget is the same need's: a gift's budget carries to "she loves tea"; a new need or kind starts afresh
        same_need = state.need if r.need else (state.need or not state.kinds or not r.kinds
                                               or bool(set(r.kinds) & set(state.kinds)))
        if r.cheapest:
            r.notes.append("cheapest first; the earlier budget is not carried")
        elif new.price_min is None and new.price_max is None and (carried.price_min is not None
                                                                 or carried.price_max is not None) and same_need:
            new = new.model_copy(update={"price_min": carried.price_min, "price_max": carried.price_max})
            r.notes.append("budget carried over")
        if carried.in_stock and not new.in_stock:
            new = new.model_copy(update={"in_stock": True})
        on_screen = list(state.shown) or ([state.focus] if state.focus else [])  # a list, or the one asked about
        if _OTHERS.search(text) and on_screen and not _OTHER_BRAND.search(text):
            new = new.model_copy(update={"exclude_ids": tuple(on_screen)})  # "别的降噪耳机": not the ones shown
            r.notes.append("not the products already shown")
        if carried.exclude_brands:
            new = new.model_copy(update={"exclude_brands": tuple(dict.fromkeys(carried.exclude_brands
                                                                               + new.exclude_brands))})
        r.filters = new
        r.query = _LEAD.sub("", _TAIL.sub("", parsed.text)).strip() or parsed.text
        if len(r.query) > MAX_QUERY_CHARS:  # a long message: search by what is wanted, never carry the whole text
            want = list(_WANT.finditer(r.query))
            r.query = (want[-1].group(1) if want else r.query)[:MAX_QUERY_CHARS].strip()
    else:
        r.filters = new if not new.is_empty() else state.filters
        r.query = state.query
    return r


def _only_reference(words: str) -> bool:
    """Whether the words say nothing besides pointing at a product ("the second one?", "第二个呢")."""
    for cue in (_ORDINAL_ZH, _ORDINAL_EN, _LAST, _BOTH, _THREE, _PRONOUN):
        words = cue.sub(" ", words)
    left = _FILLER.sub(" ", words.lower())
    return not re.sub(r"[\s\d.,，。!！?？~～:：;；'\"、/()（）-]+", "", left)


def _in_catalog(words: str, vocab: Vocabulary) -> bool:
    """Whether some word of `words` occurs in the catalog's titles or attribute values (an unknown catalog: yes)."""
    if not words or not vocab.product_count:
        return True
    if vocab.names_product(words):
        return True
    low = words.lower()
    parts = [w for w in re.split(r"\s+", low) if len(w) >= 2]
    return any(p in v.lower() or (len(v) >= 2 and v.lower() in low)
               for values in vocab.attribute_values.values() for v in values for p in parts)


def _one_titled(words: str, text: str, brands: tuple[str, ...], index: CatalogIndex,
                state: DialogueState) -> str | None:
    """The one product a question names by its kind (and brand): "Is the rain jacket waterproof?",
    "富光的保温杯是什么材质的？". Products on screen first; else the best lexical matches, if exactly one fits."""
    kind = kind_of(words, text, index)
    if kind is None or not kind.sold:
        return None
    phrase = kind.sold.lower()

    def fits(title: str, brand: str) -> bool:
        t = title.lower()
        of_kind = phrase in t if _CJK.search(phrase) else title_terms([phrase]) <= title_terms([t])
        return of_kind and (not brands or brand in brands)

    on_screen = [pid for pid in state.shown if (p := state.catalog_seen.get(pid)) and fits(p.title, p.brand)]
    if len(on_screen) == 1:
        return on_screen[0]
    top = best_lexical(index, " ".join([*brands, kind.sold]), 10)
    hits = [index.ids[i] for i in top if fits(index.title_of(i), str(index.meta[i].get("brand", "")))]
    return hits[0] if len(hits) == 1 else None


def _before(kind: str, pos: int, text: str) -> bool:
    """Whether `kind` (or its singular words) is written in `text` before position `pos`."""
    low = text.lower()
    first = min((i for i in (low.find(w) for w in kind.lower().split()) if i >= 0), default=-1)
    return 0 <= first < pos


_WANT = re.compile(r"(?:i would like|i'd like|i want|i need|i'm looking for|im looking for|looking for|get me|"
                   r"想要买|想要|想买|要买|我要|帮我找|找一?[个台件款])\s*(?:a |an |some |the |一[个台件款])?(.{2,60})", re.I)


def _kind_words(parsed: ParsedQuery, r: Reading) -> str:
    """The words that may name a kind of product: the text without prices, specs and ids (category words stay:
    "热水器" is both a category and the kind of "60升的电热水器"); in a long message, the clause of what is wanted
    ("..., so I would like a portable bluetooth speaker that survives rain")."""
    words = parsed.text
    wants = list(_WANT.finditer(words))
    if len(words) > 80 and wants:
        words = wants[-1].group(1)
    for raw in [s.raw for s in r.specs] + r.ids_typed:
        words = re.sub(re.escape(raw), " ", words, flags=re.I)
    return words


def _read_kinds(r: Reading, text: str, words: str, index: CatalogIndex) -> None:
    """What the search is for: kinds of product of this catalog (`r.kinds`), a need (`r.need`), or a kind the
    catalog does not sell (`r.missing`)."""
    vocab = index.vocabulary
    kind = kind_of(words, text, index)
    need = _NEED.search(text)
    if need and not (kind and kind.sold and _before(kind.phrase, need.start(), text)):
        r.need = True  # "a gift for my mom who loves cooking": the kinds that serve it
        named = [kind.sold] if kind and kind.sold else [kind.phrase] if kind and in_some_title(kind.phrase, index) \
            else []
        r.kinds = named or need_kinds(text, vocab)  # a thing named ("能定位的东西") before the people it is for
        r.ideas = not named
        return
    if kind is None:
        return
    if kind.sold:  # "60升的电热水器", "kites for the kids": the kind named
        r.kinds = [kind.sold]
    elif kind.buying and vocab.product_count:
        r.missing = kind.phrase  # "有空调卖吗？" where only air-conditioner covers are sold
    elif vocab.product_count and len(kind.phrase) >= 2 and not in_some_title(kind.phrase, index):
        # "马克杯" in a shop whose titles never say it: not sold as such; the nearest products are shown, labelled
        # as the nearest (a shopper's other word for a kind the shop sells still finds it), never as found
        r.missing, r.nearest_ok = kind.phrase, True


def _missing_kind(words: str, text: str, index: CatalogIndex) -> str:
    """The kind the words ask to buy when the catalog sells nothing of it ("do you sell refrigerators?"), else ""."""
    if not index.vocabulary.product_count:
        return ""  # a catalog that is not known cannot be said to lack anything
    kind = kind_of(words, text, index)
    return kind.phrase if kind is not None and not kind.sold and kind.buying and not _WH.search(words) else ""




def need_kinds(text: str, vocab: Vocabulary, limit: int = 6) -> list[str]:
    """The kinds of this catalog that serve the needs, hobbies and people the text names (prompts/needs.yaml); a
    person's kinds only when no need or hobby is named."""
    low = text.lower()
    out: list[str] = []
    people: list[str] = []  # a person's kinds: only when no need or hobby is named ("mum, she loves cooking")
    for entry in load_prompts("needs")["needs"]:
        if any(re.search(_cue_pattern(c), low) for c in entry["cues"]):
            into = people if entry.get("person") else out
            into += [k for k in entry["kinds"] if _sold(k, vocab) and k not in into]
    return (out or people)[:limit]


def _cue_pattern(cue: str) -> str:
    """A needs.yaml cue as a regex: Latin words whole, "a … b" = a, then b within 24 characters."""
    parts = [re.escape(p.strip()) for p in cue.lower().split("…")]
    body = r".{0,24}?".join(parts)
    return rf"(?<![a-z]){body}(?![a-z])" if cue.isascii() else body


def _sold(kind: str, vocab: Vocabulary) -> bool:
    """Whether every title term of `kind` is a term of the catalog's titles ("cutting board": both words, paired)."""
    terms = title_terms([kind])
    return bool(terms) and terms <= vocab.title_terms


def _extra_words(words: str) -> str:
    """What a refinement adds besides constraints and filler ("有三文鱼口味的吗" -> "三文鱼口味")."""
    for cue in _CUES:
        words = cue.sub(" ", words)
    left = _FILLER.sub(" ", words)
    return re.sub(r"[\s?？!！。.,，~～]+", " ", left).strip()


def _has_request(text: str) -> bool:
    """A chit-chat message that still asks for something ("thanks! now show me tents")."""
    return bool(re.search(r"(找|看看|买|要|推荐|呢|吗|[?？]|show|find|need|want|looking for|recommend|any)", text, re.I))


def _median(values: list[float]) -> float:
    """The middle value; of an even count the upper one ("cheaper ones?" of 139 and 439 means under 439)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _revise(state: DialogueState, new: Filters, text: str) -> tuple[Filters, list[str]]:
    """The state's constraints revised by what this turn says ("便宜点的", "换成蓝色", "not that brand")."""
    f = state.filters
    notes: list[str] = []
    changes: dict[str, object] = {}
    shown_prices = [p.price for pid in state.shown if (p := state.catalog_seen.get(pid)) and p.price is not None]
    focus = state.catalog_seen.get(state.focus) if state.focus else None
    if new.price_min is not None or new.price_max is not None:
        changes.update(price_min=new.price_min, price_max=new.price_max)
        notes.append("new price range")
    elif _CHEAPER.search(text):
        # cheaper than what the shopper is looking at: the focus product, else the middle of the list shown
        anchor = focus.price if focus and focus.price is not None else (_median(shown_prices) if shown_prices else None)
        if anchor is not None:
            changes["price_max"] = round(anchor - 0.01, 2)
            notes.append(f"cheaper than {anchor:g}")
    elif _PRICIER.search(text):
        anchor = focus.price if focus and focus.price is not None else (max(shown_prices) if shown_prices else None)
        if anchor is not None:
            changes.update(price_min=round(anchor + 0.01, 2), price_max=None)
            notes.append(f"pricier than {anchor:g}")
    if new.colors:
        changes["colors"] = new.colors
        notes.append("colour " + "/".join(new.colors))
    if new.sizes:
        changes["sizes"] = new.sizes
    else:
        step = 1 if _SIZE_UP.search(text) else -1 if _SIZE_DOWN.search(text) else 0
        if step and f.sizes:
            sized = [s for s in (_next_size(x, step) for x in f.sizes) if s]
            if sized:
                changes["sizes"] = tuple(sized)
                notes.append("size " + "/".join(sized))
    if new.categories:
        changes["categories"] = new.categories
    if new.brands:
        changes.update(brands=new.brands, exclude_brands=tuple(b for b in f.exclude_brands if b not in new.brands))
    if new.exclude_brands:
        changes["exclude_brands"] = tuple(dict.fromkeys(f.exclude_brands + new.exclude_brands))
        changes["brands"] = tuple(b for b in f.brands if b not in new.exclude_brands)
    elif _OTHER_BRAND.search(text):
        brand = focus.brand if focus else (state.catalog_seen[state.shown[0]].brand if state.shown else "")
        if brand:
            changes["exclude_brands"] = tuple(dict.fromkeys((*f.exclude_brands, brand)))
            changes["brands"] = tuple(b for b in f.brands if b != brand)
            notes.append(f"not {brand}")
    if new.in_stock:
        changes["in_stock"] = True
    merged = {**f.model_dump(), **changes}
    if merged.get("price_min") is not None and merged.get("price_max") is not None \
            and merged["price_min"] > merged["price_max"]:
        merged["price_min"] = None
    return Filters(**merged), notes


# -- the model's reading, checked --------------------------------------------------------------------------
_ACT_INTENT = {"search": "search", "similar": "similar", "recommend": "recommend", "details": "details",
               "compare": "compare", "answer": "answer", "copy": "copy", "chat": "greet"}
_NEEDS_REF = ("similar", "details", "answer", "copy")


def combine(rules: Reading, model: ModelReading | None, text: str, state: DialogueState,
            index: CatalogIndex) -> Reading:
    """The reading of a turn: the rules' reading, with what the model read where the words leave room for it.

    Every field of the model's reading is checked before it is used:
    - its act decides only when no cue in the words decided the intent (`rules.uncertain`), and only if the act
      can be carried out (a product on screen or named for details/answer/similar/copy, two for compare);
    - its kinds are used only when the words name no kind this catalog sells (a need: "something to keep my
      coffee hot"), and only the kinds the catalog sells (by its own titles);
    - its refs only point at products on screen, and only when the words give no reference of their own.
    Prices, colours, sizes, brands and ids always come from the words (`read_rules`), never from the model.
    """
    if model is None:
        return rules
    r = replace(rules, notes=list(rules.notes), kinds=list(rules.kinds))
    said = f"model read {model.act}" + (f" {model.kinds}" if model.kinds else "") + \
        (f" refs {model.refs}" if model.refs else "")
    shown = [state.shown[i - 1] for i in model.refs if 1 <= i <= len(state.shown)]
    intent = _ACT_INTENT.get(model.act, rules.intent)
    if rules.uncertain and intent != rules.intent and _feasible(intent, rules, shown, state):
        r = _as_intent(r, intent, shown, state)
        r.source = "model"
        said += f": taken ({rules.intent} -> {intent})"
    elif intent != rules.intent:
        said += f": the words ask for {rules.intent}"
    if r.intent == "search" and not r.missing and (r.need or not r.kinds):
        sold = [k for k in model.kinds if _sold_kind(k, index)]
        if sold and not r.kinds:  # only where the words and the needs table gave no kind of this catalog
            r.kinds, r.ideas = list(dict.fromkeys(sold + r.kinds))[:6], r.need
            said += f"; kinds {sold}"
    r.notes.append(said)
    return r


def _sold_kind(kind: str, index: CatalogIndex) -> bool:
    """Whether the catalog sells `kind` (the model's kinds are checked like the shopper's words)."""
    return len(kind) >= 2 and sold_as_kind(kind, index) is not None


def _feasible(intent: str, rules: Reading, shown: list[str], state: DialogueState) -> bool:
    """Whether a turn read as `intent` can be carried out with what the words and the screen give."""
    refs = rules.refs or shown
    if intent in _NEEDS_REF:
        return bool(refs or state.focus or state.shown)
    if intent == "compare":
        return len(refs or state.shown) >= 2
    if intent == "greet":
        return rules.parsed.filters.is_empty() and not rules.kinds
    return True


def _as_intent(r: Reading, intent: str, shown: list[str], state: DialogueState) -> Reading:
    """The reading redone for another intent: references, question and constraints as that intent reads them."""
    r.intent = intent
    r.uncertain = False
    if shown and (not r.refs or r.weak_refs):  # "这个" only meant the product in focus: the model may point
        r.refs = shown
    if intent == "answer":
        r.question = r.parsed.text
    elif intent == "search":
        r.filters, r.query = r.parsed.filters, r.parsed.text
    elif intent == "greet":
        r.farewell = bool(_FAREWELL.search(r.parsed.text))
    return r
