// pagoda bench: roofline | latency | throughput | serve | tokenizer. Benchmarks
// print figures; nothing here asserts a timing. This file registers the group
// and holds `bench roofline`; the others live in bench_<name>.cpp.

#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/bench_commands.h"
#include "cli/request_json.h"
#include "cli/bench_roofline.h"
#include "cli/commands.h"
#include "common/cpu_features.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::cli {

using nlohmann::json;

int BenchFail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

Status WriteJsonFile(const std::string& path, const json& j) {
  std::ofstream out(path);
  if (!out) return InvalidArgument(path + ": cannot write");
  out << j.dump(2) << "\n";
  if (!out) return DataLoss(path + ": write failed");
  return Status::Ok();
}

loader::DType ModelWeightDType(const model::Model& m) {
  const auto& layers = m.weights().layers;
  return layers.empty() ? m.weights().embed.dtype : layers[0].q.dtype;
}

const backend::Matrix& ModelProbeMatrix(const model::Model& m) {
  const auto& layers = m.weights().layers;
  if (layers.empty()) return m.weights().embed;
  return layers[0].up.rows > 0 ? layers[0].up : layers[0].q;
}

const char* FormatName(loader::DType t) {
  switch (t) {
    case loader::DType::kF32: return "fp32";
    case loader::DType::kBF16: return "bf16";
    case loader::DType::kF16: return "fp16";
    default: return loader::DTypeName(t);
  }
}

namespace {

struct RooflineOptions {
  std::string model;
  int threads = 0;
  int64_t bandwidth_mib = 512;
  double min_seconds = 1.0;
  std::string json_path;
  bool fast_matmul = false;
  std::string quantization;
};

int RunRoofline(const RooflineOptions& o) {
  ThreadPool pool(o.threads);
  std::printf("machine: %d threads; cpu [%s]; matmul kernel %s; load average %s\n", pool.num_threads(),
              GetCpuFeatures().ToString().c_str(), backend::MatMulKernelName(), LoadAverage().c_str());
  const double bw = MeasureReadBandwidthGBs(pool, static_cast<size_t>(o.bandwidth_mib) << 20, o.min_seconds);
  std::printf("read bandwidth: %.2f GB/s (best pass over a %lld MiB buffer, %d threads)\n", bw, static_cast<long long>(o.bandwidth_mib),
              pool.num_threads());
  json j = {{"load_average", LoadAverage()}, {"threads", pool.num_threads()}, {"read_bandwidth_gbs", bw}, {"matmul_kernel", backend::MatMulKernelName()}};
  std::printf("instruction ceilings (register-only loops, %d threads):\n", pool.num_threads());
  json ceil = json::object();
  for (const InstructionCeiling& c : MeasureInstructionCeilings(pool, std::min(o.min_seconds, 0.5))) {
    std::printf("  %-24s %8.1f GFLOP/s\n", c.name.c_str(), c.gflops);
    ceil[c.name] = c.gflops;
  }
  j["instruction_ceiling_gflops"] = ceil;
  std::printf("peak matmul (m=128, n=k=1024, in cache, %d threads):\n", pool.num_threads());
  json peaks = json::object();
  for (loader::DType t : {loader::DType::kF32, loader::DType::kBF16, loader::DType::kF16}) {
    const double g = MeasureMatMulGflops(pool, t, o.min_seconds);
    std::printf("  %-9s %8.1f GFLOP/s  backend::MatMul, kernel family %s\n", FormatName(t), g, backend::MatMulKernelName());
    peaks[FormatName(t)] = {{"gflops", g}, {"kernel", std::string("backend::MatMul ") + backend::MatMulKernelName()}};
  }
  if (backend::HasFastKernel(loader::DType::kBF16)) {
    const double g = MeasureMatMulGflops(pool, loader::DType::kBF16, o.min_seconds, backend::MatmulPrecision::kFast);
    const char* how = "bf16 activations x bf16 weights, AVX512-BF16 vdpbf16ps (MatmulPrecision::kFast)";
    std::printf("  %-9s %8.1f GFLOP/s  backend::MatMul, %s\n", "bf16/fast", g, how);
    peaks["bf16/fast"] = {{"gflops", g}, {"kernel", std::string("backend::MatMul ") + how}};
  }
  for (loader::DType t : {loader::DType::kQ8_0, loader::DType::kQ4_1, loader::DType::kQ4_0}) {
    for (backend::MatmulPrecision p : {backend::MatmulPrecision::kExact, backend::MatmulPrecision::kFast}) {
      const bool fast = p == backend::MatmulPrecision::kFast;
      if (fast && !backend::HasFastKernel(t)) continue;
      const double g = MeasureQuantMatMulGflops(pool, t, p, o.min_seconds);
      if (g < 0) continue;
      const std::string name = std::string(FormatName(t)) + (fast ? "/fast" : "");
      const std::string how = fast ? std::string("int8 activations x int8 codes, ") + backend::FastInt8KernelName() +
                                         " kernel (MatmulPrecision::kFast)"
                                   : "dequantized in registers, float32 FMA (MatmulPrecision::kExact)";
      std::printf("  %-9s %8.1f GFLOP/s  backend::MatMul, %s\n", name.c_str(), g, how.c_str());
      peaks[name] = {{"gflops", g}, {"kernel", std::string("backend::MatMul ") + how}};
    }
  }
  const double int8 = MeasureInt8Gops(pool, o.min_seconds);
  if (int8 < 0) return BenchFail(Internal("the int8 loop disagrees with its scalar check"));
  std::printf("  %-9s %8.1f GOP/s    own %s loop: u8 x s8 -> s32 dot products, no scales (the int8 ceiling)\n", "int8", int8,
              Int8KernelName());
  peaks["int8"] = {{"gops", int8}, {"kernel", std::string("own ") + Int8KernelName() + " loop"}};
  j["peak"] = peaks;

  if (!o.model.empty()) {
    auto files = loader::ModelFiles::Open(o.model);
    if (!files.ok()) return BenchFail(files.status());
    auto lo = model::LoadOptions::FromFlags(o.fast_matmul, o.quantization);
    if (!lo.ok()) return BenchFail(lo.status());
    auto m = model::Model::Load(**files, *lo);
    if (!m.ok()) return BenchFail(m.status());
    const model::Model& model = **m;
    const loader::DType wt = ModelWeightDType(model);
    const std::string fmt = FormatName(wt);
    // The prefill peak of this model: MatMul on its own largest layer matrix (its
    // format, its kernel path), m = 128 rows as in a prefill chunk.
    const backend::Matrix& probe = ModelProbeMatrix(model);
    const double peak = MeasureMatrixGflops(pool, probe, 128, o.min_seconds);
    const std::string peak_from = "MatMul on its " + std::to_string(probe.rows) + "x" + std::to_string(probe.cols) + " " +
                                  FormatName(probe.dtype) + " up-projection, m=128";
    std::printf("  %-9s %8.1f GFLOP/s  (this model: %s, %s precision)\n", fmt.c_str(), peak, peak_from.c_str(),
                probe.precision == backend::MatmulPrecision::kFast ? "fast" : "exact");
    const double wb = static_cast<double>(model.weight_bytes());
    const double params = static_cast<double>(model.num_parameters());
    const double decode = bw * 1e9 / wb;
    const double prefill = peak * 1e9 / (2 * params);
    std::printf("model %s (%s on file): %.1f M parameters, %.1f MiB of %s weights in memory after load\n", o.model.c_str(),
                (*files)->format().c_str(), params / 1e6, wb / 1048576.0, fmt.c_str());
    std::printf("  decode  at batch 1 <= %.2f GB/s / %.1f MB per token = %.1f tokens/s\n", bw, wb / 1e6, decode);
    std::printf("  prefill            <= %.1f GFLOP/s (%s) / (2 x %.1f M) = %.1f tokens/s\n", peak, fmt.c_str(), params / 1e6, prefill);
    j["model"] = {{"path", o.model},          {"parameters", model.num_parameters()}, {"weight_bytes", model.weight_bytes()},
                  {"weight_format", fmt},     {"decode_tokens_per_s_batch1_limit", decode},
                  {"prefill_tokens_per_s_limit", prefill}, {"prefill_peak_gflops", peak}, {"prefill_peak_from", peak_from}};
  }
  if (!o.json_path.empty()) {
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return 0;
}

}  // namespace

void AddBenchRooflineCommand(CLI::App* bench) {
  auto o = std::make_shared<RooflineOptions>();
  CLI::App* cmd = bench->add_subcommand("roofline", "Measure read bandwidth and peak matmul throughput; print the limits they imply for --model");
  cmd->add_option("--model", o->model, "Model directory or .gguf (optional): print its decode and prefill limits");
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)");
  cmd->add_option("--bandwidth-mib", o->bandwidth_mib, "Buffer for the bandwidth test, MiB")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--min-seconds", o->min_seconds, "Time spent on each measurement")->check(CLI::Range(0.0, 60.0));
  cmd->add_option("--json", o->json_path, "Write the figures to this JSON file");
  cmd->add_flag("--fast-matmul", o->fast_matmul, kFastMatmulHelp);
  cmd->add_option("--quantization", o->quantization, kQuantizationHelp);
  cmd->callback([o] {
    int rc = RunRoofline(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

void AddBenchCommand(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks: roofline | latency | perplexity | throughput | serve | tokenizer");
  bench->require_subcommand(1);
  AddBenchRooflineCommand(bench);
  AddBenchLatencyCommand(bench);
  AddBenchPerplexityCommand(bench);
  AddBenchThroughputCommand(bench);
  AddBenchServeCommand(bench);
  AddBenchTokenizerCommand(bench);
}

}  // namespace pagoda::cli
