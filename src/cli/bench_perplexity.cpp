// pagoda bench perplexity: the model's perplexity on a text file (tokenized
// with the model's tokenizer, no special tokens added), to compare weight
// formats and precisions: --quantization and --fast-matmul load the model as
// serve/generate would. See cli/perplexity.h for the windowing.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/bench_commands.h"
#include "cli/request_json.h"
#include "cli/perplexity.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

namespace {

using nlohmann::json;

struct PerplexityBenchOptions {
  std::string model;
  std::string text;
  std::string tokenizer;  // default: the model's
  int64_t context = 512;
  int64_t stride = 0;
  int64_t max_tokens = 0;  // 0 = the whole text
  int threads = 0;
  bool fast_matmul = false;
  std::string quantization;
  std::string kv_cache_dtype = "auto";
  std::string json_path;
};

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunPerplexity(const PerplexityBenchOptions& o) {
  auto text = ReadText(o.text);
  if (!text.ok()) return BenchFail(text.status());
  auto tok = LoadBenchTokenizer(o.tokenizer.empty() ? o.model : o.tokenizer);
  if (!tok.ok()) return BenchFail(tok.status());
  std::vector<int32_t> ids = (*tok)->Encode(*text, /*add_special_tokens=*/false);
  const int64_t text_tokens = static_cast<int64_t>(ids.size());
  if (o.max_tokens > 0 && text_tokens > o.max_tokens) ids.resize(static_cast<size_t>(o.max_tokens));

  auto files = loader::ModelFiles::Open(o.model);
  if (!files.ok()) return BenchFail(files.status());
  auto lo = model::LoadOptions::FromFlags(o.fast_matmul, o.quantization);
  if (!lo.ok()) return BenchFail(lo.status());
  auto loaded = model::Model::Load(**files, *lo);
  if (!loaded.ok()) return BenchFail(loaded.status());
  model::Model& m = **loaded;
  ThreadPool pool(o.threads);
  const loader::DType wt = ModelWeightDType(m);
  std::printf("model %s: %.1f MiB %s weights%s; text %s: %lld tokens (%lld used); context %lld, stride %lld, %d threads\n", o.model.c_str(),
              m.weight_bytes() / 1048576.0, FormatName(wt), o.fast_matmul ? ", fast matmul" : "", o.text.c_str(),
              static_cast<long long>(text_tokens), static_cast<long long>(ids.size()), static_cast<long long>(o.context),
              static_cast<long long>(o.stride > 0 ? o.stride : o.context), pool.num_threads());

  PerplexityOptions po;
  po.context = o.context;
  po.stride = o.stride;
  auto kv_dtype = backend::ParseKvDType(o.kv_cache_dtype);
  if (!kv_dtype.ok()) return BenchFail(kv_dtype.status());
  po.kv_dtype = *kv_dtype;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ComputePerplexity(m, pool, ids, po);
  if (!r.ok()) return BenchFail(r.status());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("tokens scored %lld in %lld windows (%.1f s, %.0f tokens/s)\n", static_cast<long long>(r->tokens_scored),
              static_cast<long long>(r->windows), secs, static_cast<double>(ids.size()) / secs);
  std::printf("mean NLL %.5f nats, perplexity %.4f\n", r->mean_nll(), r->perplexity());

  if (!o.json_path.empty()) {
    json j = {{"model", o.model},
              {"text", o.text},
              {"weights", FormatName(wt)},
              {"quantization", o.quantization.empty() ? "none" : o.quantization},
              {"fast_matmul", o.fast_matmul},
              {"kv_cache_dtype", backend::KvDTypeName(*kv_dtype)},
              {"context", o.context},
              {"stride", o.stride > 0 ? o.stride : o.context},
              {"text_tokens", text_tokens},
              {"tokens_used", static_cast<int64_t>(ids.size())},
              {"tokens_scored", r->tokens_scored},
              {"windows", r->windows},
              {"mean_nll", r->mean_nll()},
              {"perplexity", r->perplexity()},
              {"seconds", secs},
              {"threads", pool.num_threads()}};
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return 0;
}

}  // namespace

void AddBenchPerplexityCommand(CLI::App* bench) {
  auto o = std::make_shared<PerplexityBenchOptions>();
  CLI::App* cmd = bench->add_subcommand("perplexity", "Perplexity of --model on a text file (weight formats and precisions compared)");
  cmd->add_option("--model", o->model, "Model directory or .gguf")->required();
  cmd->add_option("--text", o->text, "Plain-text file to score (e.g. tests/data/perplexity.txt)")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer.json, its directory or a .gguf (default: the model's)");
  cmd->add_option("--context", o->context, "Tokens per window")->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--stride", o->stride, "Window start step (0 = --context: windows do not overlap)")->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--max-tokens", o->max_tokens, "Score only the first N tokens of the text (0 = all)")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--threads", o->threads, "Kernel threads (0 = all cores)");
  cmd->add_flag("--fast-matmul", o->fast_matmul, kFastMatmulHelp);
  cmd->add_option("--quantization", o->quantization, kQuantizationHelp);
  cmd->add_option("--kv-cache-dtype", o->kv_cache_dtype, kKvCacheDtypeHelp);
  cmd->add_option("--json", o->json_path, "Write the figures to this JSON file");
  cmd->callback([o] {
    int rc = RunPerplexity(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
