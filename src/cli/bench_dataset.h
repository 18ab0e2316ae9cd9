#pragma once
// Request sets for `pagoda bench throughput` and `bench serve`: vLLM-style
// random prompts (seeded lengths and token ids), or a file of prompts (JSONL or
// a JSON array) whose items are {"prompt": text} | {"prompt_ids": [...]} |
// ShareGPT {"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}]},
// each with an optional "output_len" / "max_tokens".

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace pagoda::tokenizer {
class Tokenizer;
}

namespace pagoda::cli {

struct BenchRequest {
  std::vector<int32_t> prompt_ids;  // empty when only text is known
  std::string prompt_text;          // empty for random / id prompts
  int64_t prompt_len = 0;           // tokens (0 when unknown: text without a tokenizer)
  int64_t output_len = 0;           // max_tokens to ask for
};

// n prompts with lengths from RandomLengths(input_len / output_len, range_ratio)
// and token ids uniform in [0, vocab_size), all from one seeded generator.
std::vector<BenchRequest> RandomRequests(int64_t n, int64_t input_len, int64_t output_len, double range_ratio, int64_t vocab_size,
                                         uint64_t seed);

struct DatasetFileOptions {
  int64_t num_prompts = 0;         // 0 = all
  int64_t output_len = 128;        // when an item gives none (and no reply to measure)
  bool force_output_len = false;   // --output-len given: overrides every item
};
// Text is encoded with tok when given (add_special_tokens = true); a ShareGPT
// reply's token count is its output_len as in vLLM, and ShareGPT items are
// filtered as vLLM does (prompt or reply under 4 tokens, prompt over 1024 or
// both over 2048 tokens are skipped; needs tok).
Result<std::vector<BenchRequest>> LoadDatasetFile(const std::string& path, const tokenizer::Tokenizer* tok,
                                                  const DatasetFileOptions& options);

}  // namespace pagoda::cli
