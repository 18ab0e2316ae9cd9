// tokenizer_bench: single-thread encode throughput per tokenizer (MB/s) on the
// committed corpus (all cases joined by '\n', 8 times), in 4 KB chunks. Compare
// with tools/golden/tokenizer/bench_hf.py, which encodes the same chunks with HF.
// Usage: tokenizer_bench [name ...]   (names as in tests/golden/tokenizer/*.jsonl)

#include <cstdio>
#include <string>

#include "golden_util.h"
#include "tokenizer/bench.h"

int main(int argc, char** argv) {
  using namespace pagoda::tokenizer;
  std::string text;
  for (const auto& c : testing::ReadJsonl(testing::GoldenDir() + "/corpus.jsonl")) {
    text += c.at("text").get<std::string>();
    text += '\n';
  }
  std::string big;
  for (int i = 0; i < 8; ++i) big += text;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) names.push_back(argv[i]);
  if (names.empty()) names = testing::GoldenNames();
  std::printf("corpus: %zu bytes, %zu chunks\n", big.size(), SplitBenchChunks(big).size());
  for (const auto& name : names) {
    auto golden = testing::ReadJsonl(testing::GoldenDir() + "/" + name + ".jsonl");
    auto tok = testing::LoadGoldenTokenizer(golden.at(0));
    if (!tok) {
      std::printf("%-24s load failed\n", name.c_str());
      continue;
    }
    std::printf("%-24s %8.2f MB/s\n", name.c_str(), BenchEncodeMBps(*tok, big, 2.0));
    std::fflush(stdout);
  }
  return 0;
}
