#include "cli/request_json.h"

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

using nlohmann::json;

void AddEngineFlags(CLI::App* cmd, EngineFlags* f, bool model_positional) {
  if (model_positional) cmd->add_option("model", f->model, "Model directory (config.json + safetensors) or .gguf file")->required();
  else cmd->add_option("--model", f->model, "Model directory (config.json + safetensors) or .gguf file")->required();
  cmd->add_option("--tokenizer", f->tokenizer, "Directory with tokenizer.json (default: the model's own)");
  cmd->add_option("--threads", f->threads, "Kernel threads (0 = all cores)");
  cmd->add_option("--block-size", f->block_size, "KV cache block size in tokens")->check(CLI::Range(1, 1024));
  cmd->add_option("--kv-cache-memory", f->kv_cache_memory, "KV cache bytes (0 = 40% of available RAM, at most 4 GiB)");
  cmd->add_option("--max-num-seqs", f->max_num_seqs, "Requests running at once");
  cmd->add_option("--max-num-batched-tokens", f->max_num_batched_tokens, "Token budget of one step");
  cmd->add_option("--max-model-len", f->max_model_len, "Prompt + output tokens of one request (0 = the model's, at most 8192)");
  cmd->add_flag("--no-prefix-caching", f->no_prefix_caching, "Disable prefix caching");
  cmd->add_flag("--pin-threads", f->pin_threads, kPinThreadsHelp);
  cmd->add_flag("--fast-matmul", f->fast_matmul, kFastMatmulHelp);
  cmd->add_option("--quantization", f->quantization, kQuantizationHelp);
  cmd->add_option("--kv-cache-dtype", f->kv_cache_dtype, kKvCacheDtypeHelp);
}

Result<std::unique_ptr<engine::Engine>> CreateEngine(const EngineFlags& f, bool log_stats) {
  engine::EngineConfig c;
  c.model = f.model;
  c.tokenizer = f.tokenizer;
  c.threads = f.threads;
  c.block_size = f.block_size;
  c.kv_cache_memory = f.kv_cache_memory;
  c.max_num_seqs = f.max_num_seqs;
  c.max_num_batched_tokens = f.max_num_batched_tokens;
  c.max_model_len = f.max_model_len;
  c.enable_prefix_caching = !f.no_prefix_caching;
  c.log_stats = log_stats;
  c.fast_matmul = f.fast_matmul;
  c.pin_threads = f.pin_threads;
  c.quantization = f.quantization;
  c.kv_cache_dtype = f.kv_cache_dtype;
  return engine::Engine::Create(c);
}

Result<std::vector<int32_t>> RenderChat(const engine::Engine& eng, const json& messages, bool add_generation_prompt) {
  const tokenizer::Tokenizer* tok = eng.tokenizer();
  if (!tok) return FailedPrecondition("the model has no tokenizer, so chat messages cannot be rendered");
  if (tok->chat_template().empty()) return NotFound("the model has no chat template (tokenizer_config.json / GGUF metadata)");
  PAGODA_ASSIGN_OR_RETURN(chat::ChatTemplate tmpl, chat::ChatTemplate::Parse(tok->chat_template()));
  chat::ChatTemplate::Options opts;
  opts.add_generation_prompt = add_generation_prompt;
  opts.bos_token = tok->bos_token();
  opts.eos_token = tok->eos_token();
  PAGODA_ASSIGN_OR_RETURN(std::string text, tmpl.Render(nlohmann::ordered_json::parse(messages.dump()), opts));
  return tok->Encode(text, false);
}

Result<PromptLine> ParsePromptLine(const engine::Engine& eng, const std::string& line, const sample::SamplingParams& defaults) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return InvalidArgument("each line must be a JSON object");
  PromptLine p;
  p.params = defaults;
  if (j.contains("id")) p.meta["id"] = j["id"];
  try {
    if (j.contains("prompt_ids")) {
      p.prompt = j["prompt_ids"].get<std::vector<int32_t>>();
    } else if (j.contains("messages")) {
      PAGODA_ASSIGN_OR_RETURN(p.prompt, RenderChat(eng, j["messages"], j.value("add_generation_prompt", true)));
    } else if (j.contains("prompt") && j["prompt"].is_string()) {
      if (!eng.tokenizer()) return FailedPrecondition("the model has no tokenizer; use prompt_ids");
      p.prompt = eng.tokenizer()->Encode(j["prompt"].get<std::string>(), true);
    } else {
      return InvalidArgument("a line needs prompt (string), prompt_ids or messages");
    }
    sample::SamplingParams& s = p.params;
    if (j.contains("max_tokens")) s.max_tokens = j["max_tokens"].get<int>();
    if (j.contains("temperature")) s.temperature = j["temperature"].get<double>();
    if (j.contains("top_p")) s.top_p = j["top_p"].get<double>();
    if (j.contains("top_k")) s.top_k = j["top_k"].get<int>();
    if (j.contains("min_p")) s.min_p = j["min_p"].get<double>();
    if (j.contains("presence_penalty")) s.presence_penalty = j["presence_penalty"].get<double>();
    if (j.contains("frequency_penalty")) s.frequency_penalty = j["frequency_penalty"].get<double>();
    if (j.contains("repetition_penalty")) s.repetition_penalty = j["repetition_penalty"].get<double>();
    if (j.contains("min_tokens")) s.min_tokens = j["min_tokens"].get<int>();
    if (j.contains("ignore_eos")) s.ignore_eos = j["ignore_eos"].get<bool>();
    if (j.contains("seed")) s.seed = j["seed"].get<uint64_t>();
    if (j.contains("n")) s.n = j["n"].get<int>();
    if (j.contains("logprobs")) s.logprobs = j["logprobs"].get<int>();
    if (j.contains("stop")) {
      if (j["stop"].is_string()) s.stop = {j["stop"].get<std::string>()};
      else s.stop = j["stop"].get<std::vector<std::string>>();
    }
    if (j.contains("stop_token_ids")) s.stop_token_ids = j["stop_token_ids"].get<std::vector<int32_t>>();
    if (j.contains("include_stop_str_in_output")) s.include_stop_str_in_output = j["include_stop_str_in_output"].get<bool>();
    if (j.contains("skip_special_tokens")) s.skip_special_tokens = j["skip_special_tokens"].get<bool>();
    if (j.contains("logit_bias"))
      for (auto it = j["logit_bias"].begin(); it != j["logit_bias"].end(); ++it) s.logit_bias[std::stoi(it.key())] = it.value().get<double>();
    if (j.contains("allowed_token_ids")) s.allowed_token_ids = j["allowed_token_ids"].get<std::vector<int32_t>>();
    if (j.contains("best_of")) s.best_of = j["best_of"].get<int>();
    if (j.contains("use_beam_search")) s.use_beam_search = j["use_beam_search"].get<bool>();
    if (j.contains("length_penalty")) s.length_penalty = j["length_penalty"].get<double>();
    if (j.contains("early_stopping")) s.early_stopping = j["early_stopping"].get<bool>();
    if (j.contains("bad_words")) {
      if (!eng.tokenizer()) return FailedPrecondition("bad_words needs the model's tokenizer");
      s.bad_words_ids = tokenizer::BadWordsIds(*eng.tokenizer(), j["bad_words"].get<std::vector<std::string>>());
    }
    if (j.contains("prompt_logprobs")) s.prompt_logprobs = j["prompt_logprobs"].get<int>();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("bad field: ") + e.what());
  }
  return p;
}

}  // namespace pagoda::cli
