#pragma once
// Shared by the CLI subcommands: engine flags, chat rendering, and JSONL prompt
// lines with per-line sampling parameters.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/engine.h"

namespace pagoda::cli {

struct EngineFlags {
  std::string model;
  std::string tokenizer;
  int threads = 0;
  int block_size = 16;
  int64_t kv_cache_memory = 0;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;
  bool no_prefix_caching = false;
  bool fast_matmul = false;
  bool pin_threads = false;
  std::string quantization;
};

void AddEngineFlags(CLI::App* cmd, EngineFlags* f, bool model_positional = false);
Result<std::unique_ptr<engine::Engine>> CreateEngine(const EngineFlags& f, bool log_stats = false);

// Renders messages with the model's chat template and encodes the result the way
// transformers' apply_chat_template(tokenize=True) does (no extra special tokens).
Result<std::vector<int32_t>> RenderChat(const engine::Engine& eng, const nlohmann::json& messages, bool add_generation_prompt);

struct PromptLine {
  std::vector<int32_t> prompt;
  sample::SamplingParams params;
  nlohmann::json meta;  // an "id" field, echoed back
};
// One JSONL request: prompt | prompt_ids | messages, plus sampling fields.
Result<PromptLine> ParsePromptLine(const engine::Engine& eng, const std::string& line, const sample::SamplingParams& defaults);

}  // namespace pagoda::cli
