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

// Help texts of the load and kernel flags that serve shares with the other commands.
inline constexpr const char* kFastMatmulHelp = "Q4_0/Q4_1/Q8_0/Q4_K/Q5_0 weights: int8 activations and int8 dot products (VNNI, or AVX2 vpmaddubsw); BF16 weights: bf16 activations and AVX512-BF16 dot products (faster; not bit-comparable with the exact path)";
inline constexpr const char* kQuantizationHelp = "Quantize F32/BF16/F16 weights at load: none, int8 (per output row), q8_0, q4_0, q4_1 (per 32 values)";
inline constexpr const char* kKvCacheDtypeHelp = "KV cache elements: auto (float32), float16 or bfloat16 (half the memory per token, rounded when written)";
inline constexpr const char* kPinThreadsHelp = "Bind the engine thread and each kernel thread to one CPU of the allowed set";

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
  std::string kv_cache_dtype = "auto";
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
