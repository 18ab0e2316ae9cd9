#!/usr/bin/env python3
"""Reference beam searches from HF transformers' generate(num_beams=k) -> tests/golden/sample/beam.json.

The "model" is a fixed random table model small enough to recompute in C++: over a
vocabulary of V tokens, the next-token logits after a sequence s are
    logits[v] = T[s[-1]][v] + U[s[-2]][v]       (float32)
T and U are stored in the file. HF generate() runs its own beam search on it (no cache,
greedy beams, no logits processors besides the defaults), with several num_beams,
length_penalty, early_stopping and eos settings; the file records the returned
sequences (generated part) and sequences_scores, best first.

Run (from the repo root):
  /work/venvs/torch/bin/python tools/golden/sample/gen_beam.py
Rerunning rewrites the same file: the seeds are fixed.
"""

import json
import os

import torch
import transformers
from transformers import GenerationConfig, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "tests", "golden", "sample", "beam.json")
SCRIPT = "tools/golden/sample/gen_beam.py"
V = 32


class TableConfig(PretrainedConfig):
    model_type = "pagoda_table_lm"

    def __init__(self, vocab_size=V, **kw):
        super().__init__(**kw)
        self.vocab_size = vocab_size


class TableLM(PreTrainedModel, GenerationMixin):
    config_class = TableConfig

    def __init__(self, config, t, u):
        super().__init__(config)
        self.t = torch.nn.Parameter(t, requires_grad=False)
        self.u = torch.nn.Parameter(u, requires_grad=False)

    def forward(self, input_ids=None, **kwargs):
        prev = torch.cat([input_ids[:, :1], input_ids[:, :-1]], dim=1)
        return CausalLMOutput(logits=self.t[input_ids] + self.u[prev])

    def prepare_inputs_for_generation(self, input_ids, **kwargs):
        return {"input_ids": input_ids}


# (num_beams, length_penalty, early_stopping, max_new_tokens, eos ids, eos boost, prompt)
CASES = [
    (4, 1.0, False, 8, [2], 0.0, [5, 6, 7]),
    (4, 1.0, False, 10, [2], 2.0, [9, 1]),
    (3, 0.0, True, 10, [2], 2.0, [4, 4, 8]),
    (3, 2.0, "never", 9, [2], 2.0, [11, 3]),
    (2, -0.5, False, 12, [2], 1.5, [7, 30]),
    (5, 1.0, True, 8, [2, 3], 1.5, [12, 13, 14]),
    (4, 0.5, "never", 7, [2, 3], 1.0, [20, 21]),
    (2, 1.0, True, 6, [2], 3.0, [17, 18]),
    (6, 1.3, False, 12, [2], 2.5, [1, 2, 3]),
]


def main():
    cases = []
    for ci, (k, lp, es, max_new, eos, boost, prompt) in enumerate(CASES):
        g = torch.Generator().manual_seed(100 + ci)
        t = torch.randn(V, V, generator=g) * 2.0
        u = torch.randn(V, V, generator=g) * 1.0
        t[:, eos] += boost  # make finishing common enough to exercise the bookkeeping
        model = TableLM(TableConfig(), t, u)
        model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=0)
        out = model.generate(
            torch.tensor([prompt]), num_beams=k, num_return_sequences=k, max_new_tokens=max_new,
            do_sample=False, use_cache=False, length_penalty=lp, early_stopping=es,
            return_dict_in_generate=True, output_scores=True)
        seqs = out.sequences[:, len(prompt):].tolist()
        scores = out.sequences_scores.tolist()
        hyps = []
        for s, sc in zip(seqs, scores):
            # HF pads after eos (pad 0; the eos itself is kept).
            cut = len(s)
            for i, tok in enumerate(s):
                if tok in eos:
                    cut = i + 1
                    break
            hyps.append(dict(tokens=s[:cut], score=sc))
        cases.append(dict(
            num_beams=k, length_penalty=lp,
            early_stopping={False: "heuristic", True: "true", "never": "never"}[es],
            max_new_tokens=max_new, eos_ids=eos, prompt_ids=prompt,
            t=t.flatten().tolist(), u=u.flatten().tolist(), hypotheses=hyps))
        print(f"case {ci}: k={k} lp={lp} es={es}: " +
              ", ".join(f"{len(h['tokens'])}:{h['score']:.4f}" for h in hyps))
    with open(OUT, "w") as f:
        json.dump(dict(generator=SCRIPT, vocab_size=V,
                       versions=dict(torch=torch.__version__, transformers=transformers.__version__),
                       cases=cases), f)
        f.write("\n")


if __name__ == "__main__":
    main()
