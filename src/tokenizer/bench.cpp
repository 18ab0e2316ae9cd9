#include "tokenizer/bench.h"

#include <chrono>

namespace pagoda::tokenizer {

std::vector<std::string_view> SplitBenchChunks(std::string_view text, size_t max_bytes) {
  std::vector<std::string_view> chunks;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + max_bytes);
    if (end < text.size()) {
      size_t nl = text.rfind('\n', end - 1);
      if (nl != std::string_view::npos && nl >= pos) {
        end = nl + 1;
      } else {
        while (end > pos && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        if (end == pos) end = std::min(text.size(), pos + max_bytes);
      }
    }
    chunks.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return chunks;
}

double BenchEncodeMBps(const Tokenizer& tokenizer, std::string_view text, double min_seconds) {
  const auto chunks = SplitBenchChunks(text);
  size_t sink = 0;
  for (auto c : chunks) sink += tokenizer.Encode(c).size();  // warm-up (fills the word cache)
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  double elapsed = 0;
  size_t bytes = 0;
  do {
    for (auto c : chunks) sink += tokenizer.Encode(c).size();
    bytes += text.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  if (sink == 0 && !text.empty()) return 0;
  return static_cast<double>(bytes) / 1e6 / elapsed;
}

}  // namespace pagoda::tokenizer
