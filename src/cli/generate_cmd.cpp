// pagoda generate: offline generation through the engine (continuous batching).
// One prompt from the command line (--prompt, --prompt-ids, --chat), or a JSONL
// file of prompts (--input) with optional per-line sampling parameters.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "backend/cpu/kernel_info.h"
#include "cli/commands.h"
#include "cli/request_json.h"
#include "common/cpu_features.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct GenerateOptions {
  EngineFlags engine;
  std::string prompt;
  std::string prompt_ids;
  std::string chat;
  std::string input;
  std::string output;
  int max_tokens = 32;
  double temperature = 0.0;
  double top_p = 1.0;
  int top_k = 0;
  int64_t seed = -1;
  bool ignore_eos = false;
  bool quiet = false;
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
    char* end = nullptr;
    long v = std::strtol(tok.c_str(), &end, 10);
    if (end == tok.c_str() || *end != '\0' || v < 0 || v > INT32_MAX) return InvalidArgument("--prompt-ids: '" + tok + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return InvalidArgument("--prompt-ids: no token ids given");
  return ids;
}

struct Job {
  std::vector<int32_t> prompt;
  sample::SamplingParams params;
  json meta;  // echoed into the output line
};

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

int RunGenerate(const GenerateOptions& o) {
  const auto t_start = Clock::now();
  auto engine = CreateEngine(o.engine);
  if (!engine.ok()) return Fail(engine.status());
  engine::Engine& eng = **engine;
  const double load_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  if (!o.quiet)
    std::fprintf(stderr, "%s\nloaded in %.3f s; %s\n", eng.Describe().c_str(), load_s, backend::CpuKernelSummary().c_str());

  sample::SamplingParams base;
  base.max_tokens = o.max_tokens;
  base.temperature = o.temperature;
  base.top_p = o.top_p;
  base.top_k = o.top_k;
  base.ignore_eos = o.ignore_eos;
  if (o.seed >= 0) base.seed = static_cast<uint64_t>(o.seed);

  std::vector<Job> jobs;
  if (!o.input.empty()) {
    std::ifstream in(o.input);
    if (!in) return Fail(NotFound(o.input + ": cannot open"));
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto job = ParsePromptLine(eng, line, base);
      if (!job.ok()) return Fail(job.status().WithContext(o.input + ":" + std::to_string(lineno)));
      jobs.push_back({std::move(job->prompt), std::move(job->params), std::move(job->meta)});
    }
  } else {
    Job j;
    j.params = base;
    if (!o.prompt_ids.empty()) {
      auto ids = ParseIds(o.prompt_ids);
      if (!ids.ok()) return Fail(ids.status());
      j.prompt = *ids;
    } else if (!o.chat.empty()) {
      json messages;
      try {
        messages = json::parse(o.chat);
      } catch (const json::exception&) {
        messages = json::array({{{"role", "user"}, {"content", o.chat}}});  // plain text = one user turn
      }
      auto ids = RenderChat(eng, messages, true);
      if (!ids.ok()) return Fail(ids.status());
      j.prompt = *ids;
    } else if (!o.prompt.empty()) {
      if (!eng.tokenizer()) return Fail(FailedPrecondition("the model has no tokenizer; pass --prompt-ids"));
      j.prompt = eng.tokenizer()->Encode(o.prompt, true);
    } else {
      return Fail(InvalidArgument("give one of --prompt, --prompt-ids, --chat or --input"));
    }
    jobs.push_back(std::move(j));
  }

  // Submit everything at once: the engine batches continuously.
  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;
  int64_t in_tokens = 0;
  for (Job& j : jobs) {
    in_tokens += static_cast<int64_t>(j.prompt.size());
    auto h = eng.AddRequest(j.prompt, j.params);
    if (!h.ok()) return Fail(h.status());
    handles.push_back(std::move(*h));
  }
  std::unique_ptr<std::ofstream> out;
  if (!o.output.empty()) {
    out = std::make_unique<std::ofstream>(o.output);
    if (!*out) return Fail(InvalidArgument(o.output + ": cannot write"));
  }
  const bool single = o.input.empty();
  int64_t out_tokens = 0;
  size_t done = 0;
  double last_progress = 0;
  double ttft_first = -1;
  std::vector<json> results(jobs.size());
  // Drain in order; later requests keep running meanwhile.
  for (size_t i = 0; i < handles.size(); ++i) {
    engine::RequestOutput r;
    struct ChoiceOut {
      std::vector<int32_t> ids;
      std::string text;
      engine::RequestOutput last;
    };
    std::map<int, ChoiceOut> choices;
    std::vector<core::SampleLogprobs> prompt_logprobs;
    while (handles[i]->Next(&r)) {
      if (!r.error.ok()) return Fail(r.error);
      if (!r.prompt_logprobs.empty()) prompt_logprobs = r.prompt_logprobs;
      if (ttft_first < 0 && !r.token_ids.empty()) ttft_first = std::chrono::duration<double>(Clock::now() - t0).count();
      ChoiceOut& c = choices[r.index];
      c.ids.insert(c.ids.end(), r.token_ids.begin(), r.token_ids.end());
      c.text += r.text;
      if (single && !o.quiet && !r.text.empty() && r.index == 0 && jobs[i].params.n == 1) {
        std::fputs(r.text.c_str(), stdout);
        std::fflush(stdout);
      }
      if (r.finished || c.last.token_ids.empty()) c.last = r;
    }
    ++done;
    auto describe = [&](const ChoiceOut& c) {
      json d;
      d["output_ids"] = c.ids;
      if (eng.tokenizer()) d["text"] = c.text;
      const auto fr = c.last.finish_reason;
      d["finish_reason"] = fr == core::FinishReason::kStop ? "stop" : fr == core::FinishReason::kLength ? "length" : "abort";
      if (c.last.stop_string) d["stop_reason"] = *c.last.stop_string;
      else if (c.last.stop_token_id) d["stop_reason"] = *c.last.stop_token_id;
      if (jobs[i].params.use_beam_search || jobs[i].params.best_of) d["cumulative_logprob"] = c.last.cumulative_logprob;
      return d;
    };
    json res = jobs[i].meta;
    res["index"] = i;
    res["prompt_tokens"] = jobs[i].prompt.size();
    if (!prompt_logprobs.empty()) {
      // [token id, logprob] of each prompt token after the first.
      json pl = json::array();
      for (const auto& lp : prompt_logprobs) pl.push_back(json::array({lp.token_ids[0], lp.logprobs[0]}));
      res["prompt_logprobs"] = pl;
    }
    for (const auto& [idx, c] : choices) out_tokens += static_cast<int64_t>(c.ids.size());
    if (choices.size() == 1 && jobs[i].params.n == 1) {
      res.update(describe(choices.begin()->second));
    } else {
      res["choices"] = json::array();
      for (const auto& [idx, c] : choices) res["choices"].push_back(describe(c));
    }
    results[i] = res;
    if (out) *out << res.dump() << "\n";
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!single && !o.quiet && (el - last_progress > 0.5 || done == jobs.size())) {
      const engine::EngineStats s = eng.Stats();
      const double tps = s.generation_tokens_total / std::max(el, 1e-9);
      const double eta = done ? el / done * (jobs.size() - done) : 0;
      std::fprintf(stderr, "\r[%zu/%zu] %.0f out tok/s, %d running, ETA %.0fs   ", done, jobs.size(), tps, s.num_running, eta);
      last_progress = el;
    }
  }
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  if (single) {
    if (!o.quiet && eng.tokenizer()) std::printf("\n");
    if (results[0].contains("output_ids")) {
      std::printf("output_ids:");
      const auto& ids = results[0]["output_ids"];
      for (size_t k = 0; k < ids.size(); ++k) std::printf("%s%d", k ? "," : " ", ids[k].get<int>());
      std::printf("\n");
    } else {
      std::printf("%s\n", results[0]["choices"].dump().c_str());
    }
  } else if (!o.quiet) {
    std::fprintf(stderr, "\n");
  }
  const engine::EngineStats s = eng.Stats();
  if (!o.quiet) {
    const double hit = s.prefix_cache_queries ? 100.0 * s.prefix_cache_hits / s.prefix_cache_queries : 0.0;
    std::fprintf(stderr,
                 "%zu requests in %.3f s: %.2f req/s, input %.1f tok/s, output %.1f tok/s | time to first token %.1f ms | "
                 "prefix cache hit rate %.1f%% | preemptions %lld | peak RSS %.1f MiB\n",
                 jobs.size(), el, jobs.size() / el, in_tokens / el, out_tokens / el, ttft_first * 1e3, hit,
                 static_cast<long long>(s.num_preemptions), PeakRssKb() / 1024.0);
    if (single && out_tokens > 1) {
      const double decode_s = el - ttft_first;
      std::fprintf(stderr, "prefill %lld tokens in %.1f ms (%.1f tok/s) | decode %lld tokens in %.1f ms (%.1f tok/s)\n",
                   static_cast<long long>(in_tokens), ttft_first * 1e3, in_tokens / ttft_first, static_cast<long long>(out_tokens - 1),
                   decode_s * 1e3, (out_tokens - 1) / decode_s);
    }
  }
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate continuations offline (one prompt, or a JSONL file of them)");
  AddEngineFlags(cmd, &o->engine);
  cmd->add_option("--prompt", o->prompt, "Prompt text (encoded with the model's tokenizer, special tokens added)");
  cmd->add_option("--prompt-ids", o->prompt_ids, "Comma-separated prompt token ids");
  cmd->add_option("--chat", o->chat, "A user message, or a JSON list of {role, content} messages, rendered with the chat template");
  cmd->add_option("--input", o->input,
                  "JSONL file: one request per line, {\"prompt\": ...} | {\"prompt_ids\": [...]} | {\"messages\": [...]}, "
                  "plus sampling fields (max_tokens, temperature, top_p, top_k, seed, stop, ...)");
  cmd->add_option("--output", o->output, "JSONL results, one line per input line");
  cmd->add_option("--max-tokens", o->max_tokens, "Tokens to generate")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temperature", o->temperature, "0 = greedy (default)");
  cmd->add_option("--top-p", o->top_p);
  cmd->add_option("--top-k", o->top_k);
  cmd->add_option("--seed", o->seed);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Do not stop at the end-of-sequence token");
  cmd->add_flag("--quiet", o->quiet, "Print only the output ids");
  cmd->callback([o] {
    int rc = RunGenerate(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
