#pragma once
// Encode throughput measurement for `pagoda bench tokenizer`.

#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {

// Cuts text into chunks of at most max_bytes, at the last '\n' inside the limit
// when there is one, else at a UTF-8 boundary. tools/golden/tokenizer/bench_hf.py
// cuts the same way so both sides encode identical inputs.
std::vector<std::string_view> SplitBenchChunks(std::string_view text, size_t max_bytes = 4096);

// Single-thread encode throughput in MB/s (1e6 bytes) over the chunks of text,
// repeated until at least min_seconds have passed (after one warm-up pass).
double BenchEncodeMBps(const Tokenizer& tokenizer, std::string_view text, double min_seconds = 1.0);

}  // namespace pagoda::tokenizer
