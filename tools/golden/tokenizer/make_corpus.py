#!/usr/bin/env python3
"""Writes tests/golden/tokenizer/corpus.jsonl: the tokenizer test corpus.

Hand-written cases plus one deterministic ~100 KB mixed document (seeded PRNG
over a fixed list of fragments), so the file can be regenerated bit for bit.
Run: python3 tools/golden/tokenizer/make_corpus.py
"""
import json
import os
import random
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden", "tokenizer", "corpus.jsonl")

VIET = "Tiếng Việt có dấu: Người ta thường nói rằng học, học nữa, học mãi."

CASES = [
    ("empty", ""),
    ("space", " "),
    ("spaces2", "  "),
    ("spaces3", "   "),
    ("tab", "\t"),
    ("newline", "\n"),
    ("newlines", "\n\n\n"),
    ("mixed_ws", " \t \n  \r\n\t\t  x  \n"),
    ("prose", "The quick brown fox jumps over the lazy dog. It wasn't me, I'd say; they're here, we've seen it, you'll see!"),
    ("prose_lead_trail", "   Hello, world!   "),
    ("lead_space", " Hello world"),
    ("trail_space", "Hello world "),
    ("contractions", "I'M SURE it's fine. DON'T you THINK so? 'quoted' and \"double\" ''"),
    ("code_py", "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n"),
    ("code_cpp", "#include <vector>\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\tfor (auto& x : v) x *= 2;  // double\n\treturn v.size() > 2 ? 0 : 1;\n}\n"),
    ("code_json", '{"key": [1, 2.5, -3e10, null, true], "nested": {"a": "b\\n"}}'),
    ("spaces_runs", "a  b   c    d     e      f       g" + " " * 24 + "h" + " " * 40 + "end"),
    ("tabs_newlines", "col1\tcol2\t\tcol3\n\nrow2\r\n\r\n\t\n   \n\t \t"),
    ("digits", "0 1 12 123 1234 12345 123456 1234567 3.14159 -42 1e-9 0x1F 2024-06-01 10:30"),
    ("long_number", "31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679"),
    ("punct_runs", "Wait... what?!?! ---- ==== ****** !!! ??? ;;; ::: ((())) [[[]]] {{{}}} <<<>>> ~~~ ``` @@@ ### $$$ %%% ^^^ &&& ||| \\\\ //"),
    ("emoji", "I love 🦙 and 🍕! 😀😃😄 👍🏽 ✨"),
    ("emoji_zwj", "Family: 👨‍👩‍👧‍👦, flags: 🇫🇷🇯🇵, rainbow flag: 🏳️‍🌈, technologist: 👩🏾‍💻"),
    ("cjk", "我爱自然语言处理。東京は日本の首都です。한국어도 테스트합니다. 漢字とカタカナとひらがな"),
    ("thai", "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ สวัสดีครับ"),
    ("persian", "سلام دنیا! این یک متن فارسی است، با اعداد ۱۲۳۴ و ١٢٣."),
    ("russian", "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю."),
    ("vietnamese_nfc", unicodedata.normalize("NFC", VIET)),
    ("vietnamese_nfd", unicodedata.normalize("NFD", VIET)),
    ("combining", "e\u0301 a\u0308 n\u0303 \u212b \ufb01 \u2460 \uff21\uff22 ｶﾀｶﾅ x\u0327\u0301"),
    ("accents", "Café naïve façade Führer São Paulo Ångström"),
    ("special_eot", "Hello<|endoftext|>world <|endoftext|> end"),
    ("special_chatml", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>"),
    ("special_llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"),
    ("special_spm", "<s>Hello</s> <s> world </s><unk>"),
    ("special_gemma", "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"),
    ("special_phi3", "<|user|>\nHello<|end|>\n<|assistant|>"),
    ("special_deepseek", "<｜begin▁of▁sentence｜>Hi<｜User｜>Hello<｜Assistant｜><think>\nhmm</think>ok<｜end▁of▁sentence｜>"),
    ("special_partial", "<|im_start <|endoftext <s <bos <|"),
    ("metaspace_char", "▁already▁has▁metaspace ▁ x"),
    ("bytes_rare", "\u0000\u0001\u007f \u00a0nbsp\u2028ls\u2029ps \ufeffbom \U0001f9ec \U00010348"),
    ("mixed_script", "English, 中文, русский, العربية, हिन्दी, ελληνικά, עברית, 日本語 — all together."),
    ("cleanup_patterns", "Hello , world . Are you sure ? Yes ! I 'm sure , it 's ok , we 've , they 're , don 't , can n't ' quote ' ."),
    ("markdown", "# Title\n\n* item one\n* item two\n\n```bash\nls -la | grep '^d'\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
    ("url_email", "Visit https://example.com/path?q=1&r=two#frag or mail me@example.org."),
    ("single_char", "a"),
    ("single_cjk", "中"),
    ("single_emoji", "🦙"),
]

FRAGMENTS = [
    "The history of tokenization is long and full of surprises. ",
    "In 2019, GPT-2 introduced byte-level BPE; later models refined it.\n",
    "    for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
    "def main():\n\treturn 42\n\n",
    "Numbers like 1234567890 and 3.14159265 appear often. ",
    "东京和北京都是大城市。", "ภาษาไทย ", "Съешь же ещё этих мягких булок. ",
    "سلام دنیا ", "Tiếng Việt ", "🦙🍕👨‍👩‍👧‍👦 ", "   \t  \n", "!!! ??? ... ", "<|endoftext|>",
    "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<bos>", "<|eot_id|>",
    "Mixed CASE Words And UPPER lower. ", "e\u0301", "\u00a0", "don't won't it's ",
    "https://example.com/a/b?c=d ", "x = y ** 2 // 3 % 4;\n", "'s 're 've 'll 'd 'm ",
]


def big_document(target=100_000):
    rng = random.Random(1234)
    parts = []
    size = 0
    while size < target:
        frag = rng.choice(FRAGMENTS)
        if rng.random() < 0.1:
            frag = frag.upper()
        parts.append(frag)
        size += len(frag.encode("utf-8"))
    return "".join(parts)


def main():
    with open(OUT, "w", encoding="utf-8") as f:
        for name, text in CASES:
            f.write(json.dumps({"name": name, "text": text}, ensure_ascii=False) + "\n")
        f.write(json.dumps({"name": "doc100k", "text": big_document()}, ensure_ascii=False) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
