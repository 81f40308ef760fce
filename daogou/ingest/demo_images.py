"""Pillow drawings of demo products: one flat silhouette per product shape, filled with the product's colour.

Each shape is a few drawing ops in a tiny notation (below), on a 256x256 canvas centred at (128, 128).
Same shape + same colour -> nearly the same picture (only small jitter); different shapes differ.
"""

from __future__ import annotations

import random
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["SHAPES", "SIZE", "draw_product_image"]

SIZE = 256

# Ops are separated by ";". A lower-case op gets a thin darker outline, an upper-case one none.
#   p ROLE x y x y ...            polygon              r ROLE x0 y0 x1 y1 radius    rounded rectangle
#   e ROLE x0 y0 x1 y1            ellipse              c ROLE x0 y0 x1 y1 a0 a1     chord (filled segment)
#   l ROLE w x y x y ...          polyline, width w    a ROLE w x0 y0 x1 y1 a0 a1   arc, width w
#   g ROLE x0 y0 x1 y1 cols rows  grid of small tiles (keys, chocolate squares, fringe)
# Roles: m product colour, d darker, l lighter, k ink, w white, s silver, x screen, o gold, n paper, c cocoa.
SHAPES: dict[str, str] = {
    # clothing
    "dress": "l m 4 112 52 104 28; l m 4 144 52 152 28; p m 104 50 152 50 156 108 100 108; "
             "p m 100 104 156 104 202 216 54 216; R d 99 101 157 113 3",
    "tshirt": "p m 98 40 114 36 128 48 142 36 158 40 210 78 190 108 168 96 168 214 88 214 88 96 "
              "66 108 46 78; a d 3 112 22 144 50 20 160",
    "shirt": "p m 96 40 160 40 200 70 218 190 194 198 168 104 168 216 88 216 88 104 62 198 38 190 56 70; "
             "p l 108 40 128 64 124 34; p l 148 40 128 64 132 34; L d 2 128 64 128 214; "
             "E d 125 92 131 98; E d 125 132 131 138; E d 125 172 131 178",
    "jacket": "p m 92 38 164 38 206 66 222 196 196 204 170 108 172 220 84 220 86 108 60 204 34 196 50 66; "
              "p d 104 38 128 84 152 38 140 30 128 52 116 30; L k 3 128 84 128 218; r d 96 160 120 190 3; "
              "r d 136 160 160 190 3",
    "hoodie": "e d 94 14 162 70; "
              "p m 96 44 160 44 200 72 214 188 192 196 168 106 168 214 88 214 88 106 64 196 42 188 56 72; "
              "E k 112 26 144 56; r d 98 156 158 194 10; L w 2 120 56 116 92; L w 2 136 56 140 92",
    "sweater": "p m 96 40 160 40 200 70 216 186 194 194 168 104 168 216 88 216 88 104 62 194 40 186 56 70; "
               "a d 5 108 26 148 58 20 160; R d 88 202 168 216 0; L d 2 112 70 112 198; "
               "L d 2 144 70 144 198",
    "trousers": "p m 80 34 176 34 190 222 142 222 128 100 114 222 66 222; r d 80 34 176 50 2; "
                "L d 2 100 50 104 82; L d 2 156 50 152 82",
    # shoes
    "sneaker": "p m 40 172 42 120 64 104 96 106 124 130 178 142 206 150 220 166 218 180 40 180; "
               "r w 34 172 224 192 8; L w 3 100 118 112 112; L w 3 108 126 120 120; "
               "L w 3 116 134 128 128; P d 64 164 150 146 204 160 150 158",
    "runner": "p m 38 170 40 128 58 112 92 112 128 134 184 142 214 154 226 168 224 176 38 176; "
              "r w 32 168 228 198 12; l d 4 56 158 96 150 140 154; L w 3 96 122 106 116; "
              "L w 3 106 130 116 124",
    "oxford": "p m 34 176 36 132 70 124 110 134 160 140 206 150 230 170 226 182 34 182; "
              "r k 30 178 228 194 6; p d 36 132 70 124 76 150 38 156; L d 2 104 136 116 160; "
              "L d 2 114 138 126 162",
    "boot": "p m 70 40 130 40 136 140 196 150 222 174 220 194 66 194; r k 62 190 224 210 5; "
            "r d 66 40 134 58 3; P d 118 86 134 86 136 140 120 140",
    "canvas": "p m 40 170 44 124 70 116 100 120 150 138 206 148 222 166 220 176 40 176; "
              "r w 32 170 228 194 6; r w 192 158 226 190 10; L w 3 94 124 104 118; L w 3 104 132 114 126; "
              "L w 3 114 140 124 134",
    "heel": "p m 46 112 70 122 112 148 170 160 214 168 228 184 214 194 150 188 104 176 66 160 52 150; "
            "p k 52 148 68 156 62 224 54 224; L k 4 104 178 150 190 214 196",
    "sandal": "r m 36 168 224 188 10; r d 42 176 218 194 8; a m 10 70 120 130 210 180 360; "
              "a m 10 140 120 200 210 180 360; L m 8 40 174 60 146",
    # bags
    "backpack": "a d 8 96 22 160 76 180 360; r m 62 48 194 220 34; r d 84 132 172 206 14; "
                "L k 3 84 150 172 150; E o 124 120 132 128",
    "handbag": "a d 9 84 30 172 134 180 360; p m 52 92 204 92 220 212 36 212; "
               "p d 52 92 204 92 196 124 60 124; r o 118 116 138 132 3",
    "suitcase": "L k 6 110 52 110 28 146 28 146 52; r m 62 50 194 212 16; L d 4 96 62 96 200; "
                "L d 4 128 62 128 200; L d 4 160 62 160 200; e k 72 206 94 228; e k 162 206 184 228",
    "wallet": "r m 40 80 216 180 12; p d 40 80 216 80 216 124 150 138 40 124; e o 158 120 174 136",
    "crossbody": "a d 5 40 8 216 172 180 360; r m 58 100 198 210 18; p d 58 100 198 100 198 150 58 150; "
                 "e o 120 142 136 158",
    "briefcase": "L k 7 104 80 108 54 148 54 152 80; r m 34 78 222 208 10; L d 3 34 122 222 122; "
                 "r o 118 112 138 130 3",
    # beauty
    "lipstick": "r s 96 150 160 226 5; r s 102 124 154 152 3; p m 108 124 108 56 148 32 148 124",
    "pumpbottle": "r m 80 76 176 222 14; r k 112 56 144 78 3; L k 6 128 56 128 32 156 32; "
                  "r w 96 132 160 180 4",
    "jar": "r m 52 110 204 210 18; r d 46 78 210 114 10; r w 88 140 168 176 4",
    "perfume": "r k 112 30 144 58 4; r s 110 56 146 82 3; r m 62 80 194 222 22; R l 82 100 104 200 8",
    "palette": "r m 30 64 226 192 12; g l 48 82 208 174 3 2",
    "tube": "p m 84 36 172 36 160 190 96 190; r d 80 28 176 44 2; r k 104 188 152 228 5; "
            "r w 100 90 156 140 4",
    # electronics
    "phone": "r m 40 28 136 220 18; r d 52 40 90 92 10; e k 58 46 72 60; e k 58 70 72 84; "
             "r m 114 38 214 232 18; r x 122 52 206 218 6",
    "tablet": "r m 20 36 196 180 14; e k 34 50 48 64; r m 62 80 238 220 14; r x 72 90 228 210 6",
    "headphones": "a m 14 56 34 200 178 180 360; r m 40 110 92 200 20; r m 164 110 216 200 20; "
                  "r k 88 128 100 184 4; r k 156 128 168 184 4",
    "watch": "r m 98 14 158 242 12; r k 74 70 182 186 30; r x 86 82 170 174 22; r s 180 112 192 142 3",
    "powerbank": "r m 66 36 190 220 20; E w 108 190 116 198; E w 124 190 132 198; E w 140 190 148 198; "
                 "r k 110 42 146 52 3",
    "keyboard": "r m 16 82 240 178 10; g l 28 92 228 152 12 3; r l 70 156 186 170 3",
    "mouse": "e m 82 36 174 222; L d 3 128 40 128 110; r k 122 64 134 94 5",
    # home
    "lamp": "p m 84 34 172 34 200 106 56 106; L k 6 128 106 128 200; e d 80 192 176 222",
    "sofa": "r m 44 70 212 150 18; r d 32 116 70 200 14; r d 186 116 224 200 14; r m 62 138 194 190 10; "
            "L k 6 50 200 50 220; L k 6 206 200 206 220",
    "cushion": "r m 52 52 204 204 44; E d 122 122 134 134; e d 52 52 68 68; e d 188 52 204 68; "
               "e d 52 188 68 204; e d 188 188 204 204",
    "bedding": "r d 28 64 228 96 8; r w 40 92 216 210 6; r w 48 102 120 132 10; r w 136 102 208 132 10; "
               "p m 40 140 216 140 216 210 40 210; R d 40 140 216 150 0",
    "storagebox": "p m 48 100 208 100 196 212 60 212; r d 40 82 216 106 5; r k 108 130 148 142 6",
    "rug": "r m 36 56 220 200 2; R l 52 72 204 184 2; R m 68 88 188 168 2; g d 36 200 220 214 16 1; "
           "g d 36 42 220 56 16 1",
    "vase": "p m 112 36 144 36 140 66 176 100 186 150 168 214 88 214 70 150 80 100 116 66; "
            "e d 110 30 146 42",
    # kitchen
    "pan": "e m 30 84 178 196; e d 46 100 162 180; r k 170 128 242 150 8",
    "stockpot": "r k 32 120 58 134 4; r k 198 120 224 134 4; r m 56 96 200 212 14; e d 48 80 208 108; "
                "e k 116 64 140 84",
    "knifeblock": "r k 88 46 104 102 4; r k 112 40 128 102 4; r k 136 46 152 102 4; r k 160 56 176 102 4; "
                  "p m 70 96 186 96 204 222 88 222",
    "board": "r m 34 64 222 200 26; e w 190 80 208 98; L d 2 60 114 180 114; L d 2 60 150 180 150",
    "thermos": "r k 100 22 156 54 6; r m 94 50 162 228 20; R d 94 100 162 110 0",
    "ricecooker": "r k 108 52 148 66 5; r m 44 92 212 208 34; e d 48 68 208 124; r w 102 150 154 182 6",
    "plates": "e m 26 124 230 218; e l 62 140 194 202; c m 70 58 186 176 0 180; e d 70 100 186 128",
    # sports
    "yogamat": "r m 30 96 196 176 36; e d 160 96 214 176; a l 4 174 112 200 160 0 360",
    "basketball": "e m 44 44 212 212; L k 3 44 128 212 128; L k 3 128 44 128 212; "
                  "a k 3 -20 44 100 212 -70 70; a k 3 156 44 276 212 110 250",
    "football": "e m 44 44 212 212; p k 128 100 152 118 143 146 113 146 104 118; L k 3 128 100 128 48; "
                "L k 3 152 118 202 104; L k 3 143 146 172 194; L k 3 113 146 84 194; "
                "L k 3 104 118 54 104",
    "racket": "e m 70 18 186 156; e w 82 30 174 144; g l 94 40 162 134 5 6; r m 120 150 136 236 4; "
              "r k 118 196 138 238 4",
    "dumbbell": "r s 60 120 196 136 3; r m 40 76 74 180 8; r m 182 76 216 180 8; r d 22 94 42 162 6; "
                "r d 214 94 234 162 6",
    "jumprope": "a k 3 52 40 204 260 180 360; r m 40 150 64 228 10; r m 192 150 216 228 10",
    "tent": "p m 128 38 230 208 26 208; p d 128 92 162 208 94 208; L k 3 128 38 128 22; "
            "L k 2 26 208 10 222; L k 2 230 208 246 222",
    "bottle": "r k 106 24 150 48 6; L k 4 150 34 176 34 176 62; r m 92 44 164 228 22; "
              "R l 102 90 114 200 6",
    # toys
    "teddy": "e m 66 34 102 70; e m 154 34 190 70; e m 44 138 84 190; e m 172 138 212 190; "
             "e m 64 130 192 234; e m 76 44 180 146; e l 106 96 150 134; E k 100 78 112 90; "
             "E k 144 78 156 90; E k 122 102 134 112; e l 98 162 158 214",
    "blocks": "r m 40 140 120 220 4; r d 124 140 204 220 4; r m 82 60 162 140 4; e l 96 46 116 62; "
              "e l 128 46 148 62",
    "car": "p m 70 120 96 78 164 78 192 120; P x 100 116 110 88 124 88 124 116; "
           "P x 134 116 134 88 154 88 168 116; r m 30 114 226 176 18; e k 50 154 96 200; "
           "e k 160 154 206 200; E s 62 166 84 188; E s 172 166 194 188",
    "puzzle": "e m 104 44 140 82; e m 176 122 214 158; r m 56 74 184 204 6; E m 108 76 136 90; "
              "E m 178 126 190 154",
    "kite": "p m 128 24 204 110 128 196 52 110; L d 2 128 24 128 196; L d 2 52 110 204 110; "
            "L k 2 128 196 118 214 136 228 122 246; P d 112 210 124 214 118 222",
    "cube": "p l 128 40 206 84 128 128 50 84; p m 50 84 128 128 128 222 50 178; "
            "p d 128 128 206 84 206 178 128 222; L k 2 76 99 76 193; L k 2 102 113 102 207; "
            "L k 2 50 115 128 159; L k 2 50 147 128 191; L k 2 154 113 154 207; L k 2 180 99 180 193; "
            "L k 2 128 159 206 115; L k 2 128 191 206 147",
    # food
    "snackbag": "p m 58 40 198 40 192 70 202 130 192 196 198 222 58 222 64 196 54 130 64 70; "
                "r d 58 32 198 52 2; r d 58 212 198 230 2; e w 92 96 164 160",
    "teabox": "r m 70 60 186 220 6; e d 70 46 186 74; r w 90 110 166 170 2",
    "coffeebag": "p m 64 52 192 52 204 222 52 222; r d 64 38 192 60 3; e k 120 80 136 96; "
                 "r w 88 120 168 180 4",
    "chocolate": "r m 34 60 222 196 6; R c 118 66 216 190 2; g d 122 70 212 186 3 4",
    "tin": "r m 36 100 220 196 0; e m 36 168 220 224; e d 36 72 220 128; e l 76 84 180 116",
    "carton": "p m 80 66 176 66 176 226 80 226; p d 80 66 128 30 176 66; r k 140 30 160 48 3; "
              "e w 100 120 156 176",
    # books
    "book": "r n 78 36 202 222 4; r m 56 30 192 226 4; r d 56 30 76 226 2; r w 96 64 170 98 3; "
            "L w 2 96 120 170 120",
    "picturebook": "r n 40 72 228 198 4; r m 28 64 216 190 4; r d 28 64 44 190 2; e w 92 92 172 160; "
                   "E o 148 98 164 114",
    # pet
    "sack": "p m 62 46 194 46 206 226 50 226; r d 62 32 194 56 3; r w 84 100 172 170 6; "
            "E k 116 130 140 154; E k 104 112 114 124; E k 120 104 130 116; E k 136 104 146 116; "
            "E k 146 114 156 126",
    "bowl": "p m 40 124 216 124 190 206 66 206; e d 40 110 216 142; E c 62 116 194 134",
    "bone": "e m 40 82 84 128; e m 40 128 84 174; e m 172 82 216 128; e m 172 128 216 174; "
            "R m 64 106 192 150 8",
    "leash": "a m 10 68 26 188 130 0 360; L m 10 128 130 128 200; r s 116 196 140 232 6",
    "petbed": "e m 24 80 232 224; e l 56 104 200 198",
}

_FIXED = {"k": (52, 52, 58), "w": (250, 250, 250), "s": (192, 195, 202), "x": (30, 34, 46),
          "o": (214, 176, 60), "n": (240, 232, 212), "c": (96, 58, 34)}


@cache
def _ops(shape: str) -> tuple[tuple[str, str, tuple[float, ...]], ...]:
    try:
        spec = SHAPES[shape]
    except KeyError as e:
        raise ValueError(f"unknown demo shape {shape!r}; known shapes: {', '.join(sorted(SHAPES))}") from e
    out = []
    for part in spec.split(";"):
        op, role, *nums = part.split()
        out.append((op, role, tuple(float(n) for n in nums)))
    return tuple(out)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _roles(rgb: tuple[int, int, int]) -> dict[str, tuple[int, int, int]]:
    dark = sum(rgb) < 180
    roles = {"m": rgb, "d": _mix(rgb, (255, 255, 255), 0.25) if dark else _mix(rgb, (0, 0, 0), 0.22),
             "l": _mix(rgb, (255, 255, 255), 0.5)}
    if sum(rgb) > 690:  # white: keep the lighter shades visible
        roles["d"], roles["l"] = (214, 214, 218), (236, 236, 240)
    return roles | _FIXED


def _pattern(kind: str, rgb: tuple[int, int, int], rng: random.Random) -> Image.Image:
    """A transparent tile of stripes, dots, flowers or plaid, in a colour that stands out on `rgb`."""
    ink = (*_mix(rgb, (0, 0, 0), 0.45), 255) if sum(rgb) > 450 else (250, 250, 250, 255)
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    step = rng.choice((14, 16, 18))
    off = rng.randrange(step)
    for i, y in enumerate(range(off - step, SIZE + step, step)):
        if kind in ("stripes", "plaid"):
            d.rectangle((0, y, SIZE, y + step // 3), fill=ink if kind == "stripes" else ink[:3] + (140,))
        if kind == "plaid":
            d.rectangle((y, 0, y + step // 3, SIZE), fill=ink[:3] + (140,))
        for x in range(off - step + (step // 2) * (i % 2), SIZE + step, step):
            if kind == "dots":
                d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=ink)
            elif kind == "floral" and (i + x // step) % 2 == 0:
                d.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(250, 250, 250, 255))
                d.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=(246, 198, 36, 255))
    return img


def draw_product_image(shape: str, rgb: tuple[int, int, int], rng: random.Random,
                       pattern: str = "") -> Image.Image:
    """Draw one 256x256 RGB picture: `shape` filled with `rgb`, jittered by `rng`, optionally patterned."""
    ops = _ops(shape)
    scale, angle = rng.uniform(0.9, 1.04), rng.uniform(-7.0, 7.0)
    dx, dy = rng.uniform(-6.0, 6.0), rng.uniform(-6.0, 6.0)
    background = tuple(rng.randint(234, 250) for _ in range(3))
    roles = _roles(rgb)

    def xy(vals: tuple[float, ...]) -> list[tuple[float, float]]:
        return [(128 + (vals[i] - 128) * scale + dx, 128 + (vals[i + 1] - 128) * scale + dy)
                for i in range(0, len(vals) - 1, 2)]

    layer = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for op, role, v in ops:
        fill = roles[role]
        outline = _mix(fill, (0, 0, 0), 0.3) if op.islower() else None
        width = max(1, round(2 * scale))
        kind = op.lower()
        if kind == "p":
            draw.polygon(xy(v), fill=fill, outline=outline, width=width)
        elif kind == "r":
            draw.rounded_rectangle(_box(xy(v[:4])), radius=v[4] * scale, fill=fill, outline=outline,
                                   width=width)
        elif kind == "e":
            draw.ellipse(_box(xy(v)), fill=fill, outline=outline, width=width)
        elif kind == "c":
            draw.chord(_box(xy(v[:4])), v[4], v[5], fill=fill, outline=outline, width=width)
        elif kind == "l":
            draw.line(xy(v[1:]), fill=fill, width=max(1, round(v[0] * scale)), joint="curve")
        elif kind == "a":
            draw.arc(_box(xy(v[1:5])), v[5], v[6], fill=fill, width=max(1, round(v[0] * scale)))
        elif kind == "g":
            (x0, y0), (x1, y1) = xy(v[:4])
            cols, rows = int(v[4]), int(v[5])
            cw, rh = (x1 - x0) / cols, (y1 - y0) / rows
            for r in range(rows):
                for c in range(cols):
                    draw.rounded_rectangle((x0 + c * cw + 2, y0 + r * rh + 2, x0 + (c + 1) * cw - 2,
                                            y0 + (r + 1) * rh - 2), radius=2, fill=fill)
        else:
            raise ValueError(f"shape {shape!r}: unknown op {op!r}; use one of p r e c l a g (or upper case)")
    if pattern:
        arr = np.array(layer)
        main = np.all(arr == np.array((*rgb, 255), dtype=np.uint8), axis=-1)
        patterned = np.array(Image.alpha_composite(layer, _pattern(pattern, rgb, rng)))
        arr[main] = patterned[main]
        layer = Image.fromarray(arr, "RGBA")
    layer = layer.rotate(angle, resample=Image.Resampling.NEAREST, center=(128 + dx, 128 + dy))
    canvas = Image.new("RGBA", (SIZE, SIZE), (*background, 255))
    return Image.alpha_composite(canvas, layer).convert("RGB")


def _box(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    (x0, y0), (x1, y1) = points[0], points[1]
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
