# SPDX-License-Identifier: ISC
"""A corpus for tokenizer tests: English sentences of the held-out text
beside made-up lines of code, numbers, whitespace runs, scripts other than
Latin, emoji and strings that look like special tokens, mixed; the same
lines on every run.

    texts(n=3000) -> list of str (some hold tabs or newlines)
"""
import os
import random
import re

HELDOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "models", "heldout.txt")

SCRIPTS = [
    "Привет, как у тебя дела сегодня?", "Съешь же ещё этих мягких булок",
    "Καλημέρα σε όλους τους φίλους", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία",
    "مرحبا بكم في هذا المكان الجميل", "שלום לכולם ותודה רבה",
    "你好，世界！今天天气很好。", "我们一起去图书馆看书吧",
    "こんにちは、世界。カタカナとひらがな", "東京は日本の首都です",
    "안녕하세요 여러분, 반갑습니다", "नमस्ते दुनिया, आप कैसे हैं",
    "สวัสดีชาวโลก ยินดีต้อนรับ", "Γειά σου Κόσμε — ελληνικά",
    "Ünïcödé façade naïve café résumé Øre Åland", "ﬁ ﬂ ½ ² ℃ № ™ Ⅻ",
    "ğüşöçİı Türkçe metin", "Tiếng Việt có dấu đầy đủ",
]
EMOJI = ["😀", "🚀", "👩‍💻", "🇫🇷", "👍🏽", "❤️", "🧪🧬", "🐍", "✨✨✨",
         "🏳️‍🌈", "🤖", "☕"]
LIKE_SPECIAL = ["<s>", "</s>", "<unk>", "<s >", "< s>", "<ss>", "<0x41>",
                "<|endoftext|>", "<<s>>", "[INST]", "</s></s>", "<s><s>",
                "<pad>", "<0x0A>", "<|sep|>", "<|sep|", "|sep|>"]
CODE = [
    "def {f}(x, y=3):\n    return x * y + {n}",
    "for (int i = 0; i < {n}; i++) {{ {f}[i] = i << 2; }}",
    "const {f} = async () => await fetch('/api/{f}?id={n}');",
    "if ({f} != NULL && {f}->len >= {n}) return -1;",
    "SELECT {f}, COUNT(*) FROM t WHERE id > {n} GROUP BY {f};",
    "\t{f}:\n\t\tmov eax, {n}\n\t\tret",
    "#include <stdio.h>\nint main(void) {{ puts(\"{f}\"); }}",
    "x = [{n}, {n}.5, -{n}e-3]  # {f}",
    "{{\"{f}\": {n}, \"ok\": true, \"list\": [1, 2, 3]}}",
    "git commit -m '{f}: fix #{n}' && make -j{n}",
]
WORDS = ["alpha", "beta_gamma", "parseHeader", "tstream_read_frame", "x1",
         "__init__", "MAX_SIZE", "nodeList", "buf", "i2s"]


def english():
    with open(HELDOUT, encoding="utf-8") as f:
        text = f.read()
    return [s.strip() for s in re.split(r"(?<=[.;:?!])\s+", text)
            if len(s.strip()) > 1]


def number(rng):
    return rng.choice([
        str(rng.randrange(10 ** rng.randrange(1, 12))),
        "%.*f" % (rng.randrange(1, 6), rng.uniform(-1e4, 1e4)),
        "{:,}".format(rng.randrange(10 ** 9)),
        "%04d-%02d-%02d" % (rng.randrange(1900, 2100), rng.randrange(1, 13),
                            rng.randrange(1, 29)),
        "+1 (%03d) %03d-%04d" % (rng.randrange(1000), rng.randrange(1000),
                                 rng.randrange(10000)),
        "0x%X" % rng.randrange(1 << 32), "%de%d" % (rng.randrange(99),
                                                    rng.randrange(-9, 9))])


def spaces(rng):
    return rng.choice([" " * rng.randrange(2, 9), "\t", "\t\t", " \t ",
                       "\n", "\n\n", "\r\n", "   \n  ", "\u00a0", "\u3000"])


def piece(rng, eng):
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(CODE).format(f=rng.choice(WORDS),
                                       n=rng.randrange(1000))
    if kind == 1:
        return number(rng)
    if kind == 2:
        return spaces(rng)
    if kind == 3:
        return rng.choice(SCRIPTS)
    if kind == 4:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randrange(1, 4)))
    if kind == 5:
        return rng.choice(LIKE_SPECIAL)
    return " ".join(rng.choice(eng).split()[:rng.randrange(1, 8)])


def texts(n=3000, seed=28):
    """n texts: half English sentences as they are, half mixed lines of
    one to five pieces, some with leading or trailing whitespace."""
    rng = random.Random(seed)
    eng = english()
    out = eng[:n // 2]
    while len(out) < n:
        parts = [piece(rng, eng) for _ in range(rng.randrange(1, 6))]
        sep = rng.choice(["", " ", " ", "  "])
        line = sep.join(parts)
        if rng.randrange(8) == 0:
            line = spaces(rng) + line
        if rng.randrange(8) == 0:
            line += spaces(rng)
        out.append(line)
    return out
