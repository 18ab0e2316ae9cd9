"""Real mixed text for the golden prompts: English prose, code, unicode, numbers.

gen_logits.py cuts the n-token prompt of case k from TEXTS[k], TEXTS[k+1], ... joined,
so every case starts on a different text. Changing these texts changes every golden
file: rerun gen_logits.py and commit its outputs together.
"""

TEXTS = [
    # 0: a children's story, the register of the TinyStories models
    "Once upon a time, there was a little girl named Lily. She loved to play outside "
    "in the park with her red ball. One day, she saw a big dog near the swings. The dog "
    "was sad because it had lost its way home. Lily said, \"Don't worry, I will help "
    "you!\" They walked together past the pond, the tall trees and the bakery that smelled "
    "of warm bread, until they found a small blue house. A boy ran out and hugged the dog. "
    "\"Thank you, Lily!\" he said. Lily smiled all the way home.",
    # 1: Python code
    "def merge_sorted(a: list[int], b: list[int]) -> list[int]:\n"
    "    \"\"\"Merges two sorted lists in O(len(a) + len(b)).\"\"\"\n"
    "    out, i, j = [], 0, 0\n"
    "    while i < len(a) and j < len(b):\n"
    "        if a[i] <= b[j]:\n"
    "            out.append(a[i]); i += 1\n"
    "        else:\n"
    "            out.append(b[j]); j += 1\n"
    "    out.extend(a[i:]); out.extend(b[j:])\n"
    "    return out\n\n"
    "print(merge_sorted([1, 4, 9], [2, 3, 10, 11]))  # [1, 2, 3, 4, 9, 10, 11]\n",
    # 2: unicode: accents, Greek, Cyrillic, CJK, emoji, math
    "Crème brûlée, naïve façade, Ångström, Œuvre — «guillemets» and „Anführungszeichen“. "
    "Ελληνικά: Καλημέρα κόσμε. Русский: Съешь же ещё этих мягких французских булок. "
    "中文：我们在北京的天安门广场见面吧。日本語：今日はいい天気ですね。한국어: 안녕하세요! "
    "Emoji: 🚀🔥👍🏽 🇫🇷 ❤️‍🔥. Math: ∀x∈ℝ, x² ≥ 0; ∑ᵢ aᵢ = π ≈ 3.14159. Tab\there, nbsp\u00a0there.",
    # 3: C++ code
    "template <typename T>\n"
    "Result<std::vector<T>> ReadAll(std::span<const std::byte> bytes) {\n"
    "  if (bytes.size() % sizeof(T) != 0) {\n"
    "    return Status::InvalidArgument(\"size \" + std::to_string(bytes.size()));\n"
    "  }\n"
    "  std::vector<T> out(bytes.size() / sizeof(T));\n"
    "  std::memcpy(out.data(), bytes.data(), bytes.size());\n"
    "  return out;\n"
    "}\n",
    # 4: an encyclopedic paragraph with numbers and dates
    "The Eiffel Tower, completed on 31 March 1889 for the World's Fair, is 330 metres "
    "(1,083 ft) tall and weighs about 10,100 tonnes. It was the tallest man-made structure "
    "in the world for 41 years, until the Chrysler Building in New York City was finished "
    "in 1930. Around 6.9 million people visited it in 2015; tickets cost between €11.30 "
    "and €26.80.",
    # 5: JSON and a shell line
    "{\"model\": \"smollm2\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}], "
    "\"temperature\": 0.7, \"max_tokens\": 128, \"stop\": [\"\\n\\n\"]}\n"
    "$ curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: "
    "application/json' -d @req.json | jq '.choices[0].message.content'\n",
    # 6: a dialogue
    "User: What is the capital of Australia?\nAssistant: The capital of Australia is "
    "Canberra, not Sydney as many people think. It was chosen in 1908 as a compromise "
    "between Sydney and Melbourne.\nUser: And how many states does it have?\nAssistant: "
    "Six states — New South Wales, Victoria, Queensland, Western Australia, South "
    "Australia and Tasmania — plus two major mainland territories.",
    # 7: mixed scripts and whitespace runs
    "Mixed   spacing\n\n\tand\ttabs;   العربية: مرحبا بالعالم. हिन्दी: नमस्ते दुनिया। "
    "עברית: שלום עולם. ไทย: สวัสดีชาวโลก. Türkçe: Çok güzel! Polski: Zażółć gęślą jaźń. "
    "URL: https://example.org/path?q=1&lang=en#top — email: someone@example.com.",
]
