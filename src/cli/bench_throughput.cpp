// pagoda bench throughput: offline, through the engine (continuous batching),
// on vLLM's random dataset or a file of prompts; prints what vLLM's
// benchmark_throughput prints (requests/s, total and output tokens/s) plus
// input tokens/s. All requests are queued at once, as there.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/bench_commands.h"
#include "cli/bench_dataset.h"
#include "cli/request_json.h"
#include "engine/engine.h"

namespace pagoda::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ThroughputOptions {
  EngineFlags engine;
  std::string dataset;  // empty = random
  int64_t num_prompts = 256;
  int64_t input_len = 128;
  int64_t output_len = 128;
  bool output_len_given = false;
  double range_ratio = 0.0;
  uint64_t seed = 0;
  double temperature = 1.0;
  bool no_ignore_eos = false;
  bool disable_detokenize = false;
  std::string json_path;
};

int RunThroughput(const ThroughputOptions& o) {
  const auto t_load = Clock::now();
  auto created = CreateEngine(o.engine);
  if (!created.ok()) return BenchFail(created.status());
  engine::Engine& eng = **created;
  std::fprintf(stderr, "%s\nloaded in %.2f s\n", eng.Describe().c_str(), std::chrono::duration<double>(Clock::now() - t_load).count());

  std::vector<BenchRequest> reqs;
  if (o.dataset.empty()) {
    reqs = RandomRequests(o.num_prompts, o.input_len, o.output_len, o.range_ratio, eng.model_config().vocab_size, o.seed);
  } else {
    DatasetFileOptions d;
    d.num_prompts = o.num_prompts;
    d.output_len = o.output_len;
    d.force_output_len = o.output_len_given;
    auto loaded = LoadDatasetFile(o.dataset, eng.tokenizer(), d);
    if (!loaded.ok()) return BenchFail(loaded.status());
    reqs = std::move(*loaded);
    for (const BenchRequest& r : reqs)
      if (r.prompt_ids.empty()) return BenchFail(FailedPrecondition("the model has no tokenizer to encode text prompts; use prompt_ids"));
  }
  for (size_t i = 0; i < reqs.size(); ++i)
    if (reqs[i].prompt_len + reqs[i].output_len > eng.max_model_len())
      return BenchFail(InvalidArgument("request " + std::to_string(i) + ": " + std::to_string(reqs[i].prompt_len) + " prompt + " +
                                       std::to_string(reqs[i].output_len) + " output tokens exceed max_model_len " +
                                       std::to_string(eng.max_model_len())));

  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;
  handles.reserve(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    sample::SamplingParams p;
    p.max_tokens = static_cast<int>(reqs[i].output_len);
    p.temperature = o.temperature;
    p.top_p = 1.0;
    p.ignore_eos = !o.no_ignore_eos;
    p.seed = o.seed + i;
    engine::AddRequestOptions ro;
    ro.detokenize = !o.disable_detokenize;  // the text is not used, but its cost counts, as in vLLM's benchmark
    auto h = eng.AddRequest(reqs[i].prompt_ids, p, ro);
    if (!h.ok()) return BenchFail(h.status().WithContext("request " + std::to_string(i)));
    handles.push_back(std::move(*h));
  }
  int64_t in_tokens = 0, out_tokens = 0, failed = 0;
  for (size_t i = 0; i < handles.size(); ++i) {
    engine::RequestOutput r;
    bool ok = true;
    while (handles[i]->Next(&r)) {
      if (!r.error.ok()) ok = false;
      out_tokens += static_cast<int64_t>(r.token_ids.size());
    }
    if (!ok) ++failed;
    in_tokens += reqs[i].prompt_len;
  }
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  const double n = static_cast<double>(reqs.size());
  const engine::EngineStats st = eng.Stats();
  std::printf("Throughput: %.2f requests/s, %.2f total tokens/s, %.2f output tokens/s, %.2f input tokens/s\n", n / el,
              (in_tokens + out_tokens) / el, out_tokens / el, in_tokens / el);
  std::printf("Total num prompt tokens:  %lld\nTotal num output tokens:  %lld\nRequests: %zu (%lld failed) in %.2f s; preemptions %lld\n",
              static_cast<long long>(in_tokens), static_cast<long long>(out_tokens), reqs.size(), static_cast<long long>(failed), el,
              static_cast<long long>(st.num_preemptions));
  // Engine overhead: step time outside the model forward pass (scheduling, batch
  // preparation, sampling, detokenization and delivery), from the engine's own clocks.
  const double busy = st.engine_seconds_busy, fwd = st.forward_seconds;
  const double overhead_pct = busy > 0 ? 100.0 * (busy - fwd) / busy : 0;
  std::printf("Engine steps: %lld, busy %.2f s, of which model forward %.2f s; overhead (scheduling, batch preparation, sampling, "
              "%s) %.2f%% of step time, %.3f ms per step\n",
              static_cast<long long>(st.num_steps), busy, fwd, o.disable_detokenize ? "delivery" : "detokenization, delivery",
              overhead_pct,
              st.num_steps > 0 ? 1e3 * (busy - fwd) / static_cast<double>(st.num_steps) : 0.0);
  if (!o.json_path.empty()) {
    json j = {{"elapsed_time", el},
              {"engine_steps", st.num_steps},
              {"engine_busy_seconds", busy},
              {"forward_seconds", fwd},
              {"engine_overhead_pct", overhead_pct},
              {"num_requests", reqs.size()},
              {"failed_requests", failed},
              {"total_num_tokens", in_tokens + out_tokens},
              {"total_input_tokens", in_tokens},
              {"total_output_tokens", out_tokens},
              {"requests_per_second", n / el},
              {"tokens_per_second", (in_tokens + out_tokens) / el},
              {"output_tokens_per_second", out_tokens / el},
              {"input_tokens_per_second", in_tokens / el},
              {"num_preemptions", st.num_preemptions},
              {"detokenize", !o.disable_detokenize}};
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void AddBenchThroughputCommand(CLI::App* bench) {
  auto o = std::make_shared<ThroughputOptions>();
  CLI::App* cmd = bench->add_subcommand("throughput", "Offline throughput through the engine on random prompts or a dataset file");
  AddEngineFlags(cmd, &o->engine);
  cmd->add_option("--dataset", o->dataset,
                  "JSONL or JSON array of {prompt} | {prompt_ids} | ShareGPT {conversations}, optional output_len (default: random prompts)");
  cmd->add_option("--num-prompts", o->num_prompts, "Requests (for a dataset: at most this many; 0 = all)")->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--input-len", o->input_len, "Random prompts: mean prompt tokens")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  CLI::Option* out = cmd->add_option("--output-len", o->output_len, "Output tokens (random mean; for a dataset it overrides the items' lengths)")
                         ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--range-ratio", o->range_ratio, "Random lengths uniform in [len x (1 - r), len x (1 + r)]")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o->seed, "Seed of the random dataset and of sampling");
  cmd->add_option("--temperature", o->temperature, "Sampling temperature (vLLM's benchmark uses 1.0)");
  cmd->add_flag("--no-ignore-eos", o->no_ignore_eos, "Stop at end-of-sequence (by default every request runs to its output length)");
  cmd->add_flag("--disable-detokenize", o->disable_detokenize,
                "Do not detokenize the outputs (vLLM's flag): leaves detokenization out of the time and the engine overhead");
  cmd->add_option("--json", o->json_path, "Write the figures to this JSON file");
  cmd->callback([o, out] {
    o->output_len_given = out->count() > 0;
    int rc = RunThroughput(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
