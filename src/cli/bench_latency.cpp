// pagoda bench latency: one fixed batch (--batch-size sequences of --input-len
// random token ids, then --output-len tokens each, greedy), driving
// Model::Forward directly so the figures are the model's, not the scheduler's.
// Reports prefill time, decode tokens/s, per-step latency and the share of the
// roofline limit reached (bandwidth and peak FLOP/s measured in the same run
// unless given).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "backend/kv_cache.h"
#include "cli/bench_commands.h"
#include "cli/request_json.h"
#include "cli/bench_roofline.h"
#include "cli/bench_stats.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/forward_batch.h"
#include "model/model.h"

namespace pagoda::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct LatencyOptions {
  std::string model;
  int threads = 0;
  int batch_size = 8;
  int input_len = 32;
  int output_len = 128;
  int num_iters = 3;
  int num_iters_warmup = 1;
  uint64_t seed = 0;
  int block_size = 16;
  double bandwidth_gbs = 0;  // 0 = measure
  double peak_gflops = 0;    // 0 = measure
  std::string json_path;
  bool fast_matmul = false;
  bool pin_threads = false;
  std::string quantization;
  std::string kv_cache_dtype = "auto";
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int32_t Argmax(const float* row, int64_t n) { return static_cast<int32_t>(std::max_element(row, row + n) - row); }

struct IterResult {
  double prefill_s = 0;
  double total_s = 0;
  std::vector<double> step_s;  // decode forward passes
};

int RunLatency(const LatencyOptions& o) {
  auto files = loader::ModelFiles::Open(o.model);
  if (!files.ok()) return BenchFail(files.status());
  auto lo = model::LoadOptions::FromFlags(o.fast_matmul, o.quantization);
  if (!lo.ok()) return BenchFail(lo.status());
  auto loaded = model::Model::Load(**files, *lo);
  if (!loaded.ok()) return BenchFail(loaded.status());
  model::Model& m = **loaded;
  const loader::ModelConfig& c = m.config();
  const int64_t B = o.batch_size, in = o.input_len, out = o.output_len, bs = o.block_size;
  if (c.learned_positions && in + out > c.max_position_embeddings)
    return BenchFail(InvalidArgument("input + output length " + std::to_string(in + out) + " exceeds the model's " +
                                     std::to_string(c.max_position_embeddings) + " positions"));
  const std::string load_before = LoadAverage();
  ThreadPool pool(o.threads, o.pin_threads);
  if (pool.pinned() && !pool.PinCallingThread()) std::fprintf(stderr, "warning: could not bind the calling thread to a CPU\n");

  // Machine limits for the roofline share.
  // Peak: MatMul on the model's own largest layer matrix (its format and kernel path), m = 128.
  const loader::DType wt = ModelWeightDType(m);
  const double bw = o.bandwidth_gbs > 0 ? o.bandwidth_gbs : MeasureReadBandwidthGBs(pool, size_t{256} << 20, 0.3);
  const double peak = o.peak_gflops > 0 ? o.peak_gflops : MeasureMatrixGflops(pool, ModelProbeMatrix(m), 128, 0.3);

  auto kv_dtype = backend::ParseKvDType(o.kv_cache_dtype);
  if (!kv_dtype.ok()) return BenchFail(kv_dtype.status());
  const int64_t blocks_per_seq = (in + out + bs - 1) / bs;
  backend::KvCache kv(c.num_layers, B * blocks_per_seq, bs, c.num_kv_heads, c.head_dim, *kv_dtype);
  std::vector<std::vector<int32_t>> tables(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < blocks_per_seq; ++i) tables[b].push_back(static_cast<int32_t>(b * blocks_per_seq + i));
  std::vector<float> logits(static_cast<size_t>(B * c.vocab_size));
  BenchRng rng(o.seed);

  std::printf("model %s: %.1f M parameters, %.1f MiB %s weights; batch %lld, input %lld, output %lld, %d threads\n", o.model.c_str(),
               m.num_parameters() / 1e6, m.weight_bytes() / 1048576.0, FormatName(wt), static_cast<long long>(B), static_cast<long long>(in),
               static_cast<long long>(out), pool.num_threads());

  auto run_once = [&](IterResult* r) -> Status {
    std::vector<std::vector<int32_t>> tokens(B);
    for (auto& t : tokens) {
      t.resize(in);
      for (int32_t& id : t) id = static_cast<int32_t>(rng.UniformInt(0, c.vocab_size - 1));
    }
    const auto t_start = Clock::now();
    model::ForwardBatch fb;
    for (int64_t b = 0; b < B; ++b) fb.AddSequence(tokens[b], 0, static_cast<int32_t>(in), tables[b], static_cast<int32_t>(bs), false);
    auto t0 = Clock::now();
    PAGODA_RETURN_IF_ERROR(m.Forward(pool, fb, kv, logits.data()));
    r->prefill_s = Since(t0);
    for (int64_t b = 0; b < B; ++b) tokens[b].push_back(Argmax(&logits[b * c.vocab_size], c.vocab_size));
    for (int64_t s = 1; s < out; ++s) {
      model::ForwardBatch d;
      for (int64_t b = 0; b < B; ++b)
        d.AddSequence(tokens[b], static_cast<int32_t>(tokens[b].size() - 1), 1, tables[b], static_cast<int32_t>(bs), false);
      t0 = Clock::now();
      PAGODA_RETURN_IF_ERROR(m.Forward(pool, d, kv, logits.data()));
      r->step_s.push_back(Since(t0));
      for (int64_t b = 0; b < B; ++b) tokens[b].push_back(Argmax(&logits[b * c.vocab_size], c.vocab_size));
    }
    r->total_s = Since(t_start);
    return Status::Ok();
  };

  for (int i = 0; i < o.num_iters_warmup; ++i) {
    IterResult r;
    Status s = run_once(&r);
    if (!s.ok()) return BenchFail(s);
  }
  std::vector<double> prefill_ms, total_ms, step_ms;
  double decode_s = 0;
  for (int i = 0; i < o.num_iters; ++i) {
    IterResult r;
    Status s = run_once(&r);
    if (!s.ok()) return BenchFail(s);
    prefill_ms.push_back(r.prefill_s * 1e3);
    total_ms.push_back(r.total_s * 1e3);
    for (double x : r.step_s) {
      step_ms.push_back(x * 1e3);
      decode_s += x;
    }
  }

  // Roofline of one iteration: each step is bound by max(bytes / bandwidth, FLOPs / peak).
  // Bytes: all weights once per step plus the K and V read for every context token;
  // FLOPs: 2 per parameter per token plus attention (QK^T and PV: 4 x heads x head_dim per context token).
  const double wbytes = static_cast<double>(m.weight_bytes()), params = static_cast<double>(m.num_parameters());
  const double kv_bytes_per_ctx = 2.0 * c.num_layers * c.num_kv_heads * c.head_dim * backend::KvElemBytes(kv.dtype());
  const double attn_flops_per_ctx = 4.0 * c.num_layers * c.num_heads * c.head_dim;
  double ideal_decode_s = 0;
  for (int64_t s = 1; s < out; ++s) {
    const double ctx = static_cast<double>(in + s);
    const double bytes = wbytes + B * ctx * kv_bytes_per_ctx;
    const double flops = B * (2 * params + ctx * attn_flops_per_ctx);
    ideal_decode_s += std::max(bytes / (bw * 1e9), flops / (peak * 1e9));
  }
  const double prefill_flops = B * in * 2 * params + B * attn_flops_per_ctx * in * (in + 1) / 2.0;
  const double ideal_prefill_s = std::max(prefill_flops / (peak * 1e9), wbytes / (bw * 1e9));
  const double n_iter = static_cast<double>(std::max(o.num_iters, 1));
  const double decode_tokens = static_cast<double>(B * (out - 1)) * n_iter;
  const double decode_tps = decode_s > 0 ? decode_tokens / decode_s : 0;
  const double mean_prefill_s = Mean(prefill_ms) / 1e3;
  const double decode_pct = decode_s > 0 ? 100.0 * ideal_decode_s * n_iter / decode_s : 0;
  const double prefill_pct = mean_prefill_s > 0 ? 100.0 * ideal_prefill_s / mean_prefill_s : 0;
  const double batch1_limit = bw * 1e9 / wbytes;

  const double pct[] = {50, 90, 99};
  const Summary steps = Summarize(step_ms, pct), totals = Summarize(total_ms, pct);
  std::printf("load average: %s before, %s after\n", load_before.c_str(), LoadAverage().c_str());
  std::printf("limits: read bandwidth %.2f GB/s%s, peak %.1f GFLOP/s (%s)%s\n", bw, o.bandwidth_gbs > 0 ? " (given)" : " (measured)", peak,
              FormatName(wt), o.peak_gflops > 0 ? " (given)" : " (measured on the model's up-projection, m=128)");
  std::printf("iteration latency: mean %.2f ms, p50 %.2f ms, p99 %.2f ms (%d iterations after %d warm-up)\n", totals.mean,
              totals.percentiles[0].second, totals.percentiles[2].second, o.num_iters, o.num_iters_warmup);
  std::printf("prefill: %lld tokens in %.2f ms (%.1f tokens/s), %.1f%% of its roofline limit\n", static_cast<long long>(B * in),
              mean_prefill_s * 1e3, mean_prefill_s > 0 ? B * in / mean_prefill_s : 0, prefill_pct);
  std::printf("decode: %.1f tokens/s (%lld sequences x %lld steps)\n", decode_tps, static_cast<long long>(B), static_cast<long long>(out - 1));
  std::printf("decode step: mean %.3f ms, p50 %.3f ms, p99 %.3f ms\n", steps.mean, steps.percentiles[0].second, steps.percentiles[2].second);
  std::printf("roofline: decode reached %.1f%% of max(bytes / bandwidth, FLOPs / peak) per step (weights %.1f MB + KV reads)\n", decode_pct,
              wbytes / 1e6);
  if (B == 1) std::printf("          batch-1 limit bandwidth / weight bytes = %.1f tokens/s: %.1f%% reached\n", batch1_limit, 100.0 * decode_tps / batch1_limit);
  else std::printf("          batch-1 limit bandwidth / weight bytes = %.1f tokens/s (x %lld sequences if bandwidth-bound)\n", batch1_limit, static_cast<long long>(B));

  if (!o.json_path.empty()) {
    auto summary = [](const Summary& s) {
      json j = {{"mean", s.mean}, {"median", s.median}, {"std", s.std}};
      for (const auto& [p, v] : s.percentiles) j["p" + std::to_string(static_cast<int>(p))] = v;
      return j;
    };
    json j = {{"model", o.model},
              {"batch_size", B},
              {"input_len", in},
              {"output_len", out},
              {"num_iters", o.num_iters},
              {"threads", pool.num_threads()},
              {"load_average_before", load_before},
              {"bandwidth_gbs", bw},
              {"peak_gflops", peak},
              {"iteration_ms", summary(totals)},
              {"prefill_ms_mean", mean_prefill_s * 1e3},
              {"prefill_roofline_pct", prefill_pct},
              {"decode_tokens_per_s", decode_tps},
              {"decode_step_ms", summary(steps)},
              {"decode_roofline_pct", decode_pct},
              {"decode_batch1_limit_tokens_per_s", batch1_limit}};
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return 0;
}

}  // namespace

void AddBenchLatencyCommand(CLI::App* bench) {
  auto o = std::make_shared<LatencyOptions>();
  CLI::App* cmd = bench->add_subcommand("latency", "Prefill and decode latency of one fixed batch through Model::Forward");
  cmd->add_option("--model", o->model, "Model directory or .gguf")->required();
  cmd->add_option("--threads", o->threads, "Kernel threads (0 = all cores)");
  cmd->add_option("--batch-size", o->batch_size, "Sequences in the batch")->check(CLI::Range(1, 4096));
  cmd->add_option("--input-len", o->input_len, "Prompt tokens per sequence (random ids)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--output-len", o->output_len, "Generated tokens per sequence (the first comes from the prefill)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--num-iters", o->num_iters, "Measured iterations")->check(CLI::Range(1, 100000));
  cmd->add_option("--num-iters-warmup", o->num_iters_warmup, "Warm-up iterations")->check(CLI::Range(0, 100000));
  cmd->add_option("--seed", o->seed, "Seed of the random prompts");
  cmd->add_option("--block-size", o->block_size, "KV cache block size")->check(CLI::Range(1, 1024));
  cmd->add_option("--bandwidth-gbs", o->bandwidth_gbs, "Read bandwidth for the roofline (0 = measure now)");
  cmd->add_option("--peak-gflops", o->peak_gflops, "Peak matmul GFLOP/s for the roofline (0 = measure now)");
  cmd->add_option("--json", o->json_path, "Write the figures to this JSON file");
  cmd->add_flag("--pin-threads", o->pin_threads, "Bind this thread and each kernel thread to one CPU (as serve/generate)");
  cmd->add_flag("--fast-matmul", o->fast_matmul, kFastMatmulHelp);
  cmd->add_option("--kv-cache-dtype", o->kv_cache_dtype, kKvCacheDtypeHelp);
  cmd->add_option("--quantization", o->quantization, kQuantizationHelp);
  cmd->callback([o] {
    int rc = RunLatency(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
