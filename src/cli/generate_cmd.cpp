#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "cli/commands.h"
#include "common/cpu_features.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::cli {

namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt_ids;
  int max_tokens = 32;
  int threads = 0;
  int block_size = 16;
};

long PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

Result<std::vector<int32_t>> ParseIds(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    if (tok.empty()) continue;
    try {
      size_t used = 0;
      long v = std::stol(tok, &used);
      if (used != tok.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(tok);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return InvalidArgument("--prompt-ids: '" + tok + "' is not a token id");
    }
  }
  if (ids.empty()) return InvalidArgument("--prompt-ids: no token ids given");
  return ids;
}

int RunGenerate(const GenerateOptions& o) {
  using Clock = std::chrono::steady_clock;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  };
  auto ids = ParseIds(o.prompt_ids);
  if (!ids.ok()) return fail(ids.status());
  const auto t_load = Clock::now();
  auto files = loader::ModelFiles::Open(o.model);
  if (!files.ok()) return fail(files.status());
  auto model = model::Model::Load(**files);
  if (!model.ok()) return fail(model.status());
  const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
  const loader::ModelConfig& c = (*model)->config();

  ThreadPool pool(o.threads);
  const int64_t total = static_cast<int64_t>(ids->size()) + o.max_tokens;
  const int64_t nblocks = (total + o.block_size - 1) / o.block_size + 1;
  backend::KvCache kv(c.num_layers, nblocks, o.block_size, c.num_kv_heads, c.head_dim);
  std::vector<int32_t> table;
  for (int64_t i = 1; i < nblocks; ++i) table.push_back(static_cast<int32_t>(i));  // block 0 stays the null block

  std::vector<int32_t> tokens = *ids;
  std::vector<float> logits(c.vocab_size);
  std::vector<int32_t> out;
  double prefill_s = 0, decode_s = 0;
  int32_t computed = 0;
  for (int step = 0; step < o.max_tokens; ++step) {
    model::ForwardBatch b;
    const int32_t n_new = static_cast<int32_t>(tokens.size()) - computed;
    b.AddSequence(tokens, computed, n_new, table, o.block_size, false);
    const auto t0 = Clock::now();
    Status st = (*model)->Forward(pool, b, kv, logits.data());
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!st.ok()) return fail(st);
    (step == 0 ? prefill_s : decode_s) += dt;
    computed += n_new;
    int32_t best = 0;
    for (int64_t i = 1; i < c.vocab_size; ++i)
      if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
    out.push_back(best);
    tokens.push_back(best);
  }
  std::printf("output_ids:");
  for (size_t i = 0; i < out.size(); ++i) std::printf("%s%d", i ? "," : " ", out[i]);
  std::printf("\n");
  const int decode_steps = o.max_tokens - 1;
  std::fprintf(stderr,
               "model %s (%s, %s), %d threads, kernels %s [%s]\n"
               "load %.3f s | prefill %zu tokens %.1f ms (%.1f tok/s) | decode %d tokens %.1f ms (%.1f tok/s) | peak RSS %.1f MiB\n",
               o.model.c_str(), loader::ArchitectureName(c.arch), (*files)->format().c_str(), pool.num_threads(),
               backend::MatMulKernelName(), GetCpuFeatures().ToString().c_str(), load_s, ids->size(), prefill_s * 1e3,
               ids->size() / prefill_s, decode_steps, decode_s * 1e3, decode_steps > 0 ? decode_steps / decode_s : 0.0,
               PeakRssKb() / 1024.0);
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Greedy continuation of a prompt");
  cmd->add_option("--model", opts->model, "Model directory (config.json + safetensors) or .gguf file")->required();
  cmd->add_option("--prompt-ids", opts->prompt_ids, "Comma-separated prompt token ids")->required();
  cmd->add_option("--max-tokens", opts->max_tokens, "Tokens to generate")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", opts->threads, "Kernel threads (0 = all cores)");
  cmd->add_option("--block-size", opts->block_size, "KV cache block size in tokens")->check(CLI::Range(1, 1024));
  cmd->callback([opts] {
    int rc = RunGenerate(*opts);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
