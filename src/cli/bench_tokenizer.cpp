// pagoda bench tokenizer: single-thread encode throughput (MB/s) with
// tokenizer::BenchEncodeMBps over the SplitBenchChunks of a corpus: by default
// the committed golden corpus texts joined by '\n' and repeated 8 times, the
// input tools/golden/tokenizer/bench_hf.py gives HF tokenizers.

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/bench_commands.h"
#include "loader/gguf_file.h"
#include "loader/mapped_file.h"
#include "loader/weights.h"
#include "tokenizer/bench.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

using nlohmann::json;

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<tokenizer::Tokenizer>> LoadBenchTokenizer(const std::string& path) {
  if (EndsWith(path, ".json")) {
    const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    const std::string config = dir + "/tokenizer_config.json";
    return tokenizer::Tokenizer::FromFile(path, loader::FileExists(config) ? config : "");
  }
  if (EndsWith(path, ".gguf")) {
    PAGODA_ASSIGN_OR_RETURN(auto gguf, loader::GgufFile::Open(path));
    return tokenizer::Tokenizer::FromGguf(*gguf);
  }
  if (loader::FileExists(path + "/tokenizer.json")) return tokenizer::Tokenizer::FromDirectory(path);
  PAGODA_ASSIGN_OR_RETURN(auto files, loader::ModelFiles::Open(path));
  if (!files->is_gguf()) return NotFound(path + ": no tokenizer.json and no .gguf");
  return tokenizer::Tokenizer::FromGguf(*files->gguf());
}

namespace {

struct TokenizerBenchOptions {
  std::string model;
  std::string corpus = "tests/golden/tokenizer/corpus.jsonl";
  int repeat = 8;
  double min_seconds = 2.0;
  std::string json_path;
};

// JSONL with a "text" field per line: the texts joined by '\n' (bench_hf.py's
// reading); any other file: its bytes.
Result<std::string> ReadCorpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open (run from the repository root or pass --corpus)");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string raw = ss.str();
  if (!EndsWith(path, ".jsonl")) return raw;
  std::string text;
  std::istringstream lines(raw);
  std::string line;
  int lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (line.empty()) continue;
    try {
      const json j = json::parse(line);
      text += j.at("text").get<std::string>();
      text += '\n';
    } catch (const json::exception& e) {
      return InvalidArgument(path + ":" + std::to_string(lineno) + ": expected a JSON object with a \"text\" string: " + e.what());
    }
  }
  return text;
}

int RunTokenizerBench(const TokenizerBenchOptions& o) {
  auto tok = LoadBenchTokenizer(o.model);
  if (!tok.ok()) return BenchFail(tok.status());
  auto text = ReadCorpus(o.corpus);
  if (!text.ok()) return BenchFail(text.status());
  std::string big;
  big.reserve(text->size() * static_cast<size_t>(o.repeat));
  for (int i = 0; i < o.repeat; ++i) big += *text;
  const auto chunks = tokenizer::SplitBenchChunks(big);
  size_t tokens = 0;
  for (auto c : chunks) tokens += (*tok)->Encode(c).size();
  const double mbps = tokenizer::BenchEncodeMBps(**tok, big, o.min_seconds);
  std::printf("corpus: %zu bytes, %zu chunks, %zu tokens (%s x %d)\n", big.size(), chunks.size(), tokens, o.corpus.c_str(), o.repeat);
  std::printf("encode: %.2f MB/s, %.0f tokens/s (single thread, add_special_tokens)\n", mbps,
              big.empty() ? 0.0 : mbps * 1e6 * static_cast<double>(tokens) / static_cast<double>(big.size()));
  if (!o.json_path.empty()) {
    json j = {{"tokenizer", o.model}, {"corpus", o.corpus}, {"repeat", o.repeat}, {"bytes", big.size()},
              {"chunks", chunks.size()}, {"tokens", tokens}, {"encode_mb_per_s", mbps}};
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return 0;
}

}  // namespace

void AddBenchTokenizerCommand(CLI::App* bench) {
  auto o = std::make_shared<TokenizerBenchOptions>();
  CLI::App* cmd = bench->add_subcommand("tokenizer", "Single-thread encode throughput (MB/s) of a tokenizer");
  cmd->add_option("--model", o->model, "tokenizer.json, a directory with one, or a .gguf")->required();
  cmd->add_option("--corpus", o->corpus, "Text file, or JSONL with a \"text\" field per line (default: the golden corpus)");
  cmd->add_option("--repeat", o->repeat, "Corpus repetitions")->check(CLI::Range(1, 10000));
  cmd->add_option("--min-seconds", o->min_seconds, "Measure for at least this long")->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--json", o->json_path, "Write the figures to this JSON file");
  cmd->callback([o] {
    int rc = RunTokenizerBench(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
