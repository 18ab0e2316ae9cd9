#!/usr/bin/env python3
"""Writes N chat prompts of mixed lengths (JSONL for `pagoda generate --input`).

Deterministic (seeded). Each line: {"id", "messages": [{"role": "user", ...}],
"max_tokens", "ignore_eos": true} so every request generates exactly max_tokens.
Usage: python3 tools/bench/mixed_prompts.py [N] [SEED] > prompts.jsonl
"""
import json
import random
import sys

TOPICS = ["the history of Paris", "how bees make honey", "why the sky is blue", "a recipe for bread",
          "the rules of chess", "how a compiler works", "the water cycle", "learning to swim",
          "the life of a lighthouse keeper", "how to plant tomatoes", "the moon landing", "a day at the market"]
FILLER = ("Please be specific and give examples. Consider the details a curious student would ask about, "
          "and explain each step clearly before moving on to the next one. ")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    for i in range(n):
        topic = rng.choice(TOPICS)
        text = f"Tell me about {topic}. " + FILLER * rng.randint(0, 12)
        print(json.dumps({"id": i, "messages": [{"role": "user", "content": text}],
                          "max_tokens": rng.randint(16, 128), "ignore_eos": True}))


if __name__ == "__main__":
    main()
