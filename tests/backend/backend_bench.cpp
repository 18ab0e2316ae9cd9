// Micro-benchmarks of the CPU kernels on the shapes of the default model
// (SmolLM2-135M: hidden 576, intermediate 1536, 9 heads / 3 KV heads of 64,
// vocab 49152). Not a test: prints medians of several runs.
//   backend_bench [threads] [matmul|attention]   (both by default)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/kernel_info.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/repack.h"

using namespace pagoda;
using namespace pagoda::backend;
using loader::DType;

namespace {

double MedianSeconds(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Matrix Plain(int64_t n, int64_t k, std::mt19937& rng) {
  Matrix w;
  w.rows = n;
  w.cols = k;
  w.owned.Resize(w.bytes());
  std::normal_distribution<float> nd(0, 0.05f);
  for (int64_t i = 0; i < n * k; ++i) w.owned.as<float>()[i] = nd(rng);
  w.data = w.owned.data();
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const char* only = argc > 2 ? argv[2] : "";
  ThreadPool pool(threads);
  std::printf("kernels: %s, threads %d\n", CpuKernelSummary().c_str(), threads);
  std::mt19937 rng(1);
  struct Shape { const char* name; int64_t n, k; };
  const Shape shapes[] = {{"qkv-sum 960x576", 960, 576}, {"gate+up 3072x576", 3072, 576}, {"down 576x1536", 576, 1536},
                          {"lm_head 49152x576", 49152, 576}};
  for (DType t : {DType::kQ4_1, DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kBF16, DType::kF32}) {
    if (std::strcmp(only, "attention") == 0) break;
    for (MatmulPrecision p : {MatmulPrecision::kExact, MatmulPrecision::kFast}) {
      if (p == MatmulPrecision::kFast && !(t == DType::kQ4_1 || t == DType::kQ8_0 || t == DType::kQ4_K || t == DType::kBF16)) continue;
      for (const Shape& s : shapes) {
        Matrix f = Plain(s.n, s.k, rng);
        Matrix w;
        if (t == DType::kF32) {
          w = std::move(f);
        } else if (t == DType::kBF16) {
          w.dtype = t; w.rows = s.n; w.cols = s.k; w.owned.Resize(w.bytes());
          for (int64_t i = 0; i < s.n * s.k; ++i) w.owned.as<uint16_t>()[i] = loader::F32ToBf16(f.owned.as<float>()[i]);
          w.data = w.owned.data();
        } else if (t == DType::kQ4_K) {
          // Random k-quant bytes with small scales (the kernel's cost does not depend on the values).
          w.dtype = t; w.rows = s.n; w.cols = s.k - s.k % 256 + (s.k % 256 ? 256 : 0); w.owned.Resize(w.bytes());
          for (size_t i = 0; i < w.bytes(); ++i) w.owned.as<uint8_t>()[i] = static_cast<uint8_t>(rng());
          for (size_t b = 0; b < w.bytes(); b += 144) { uint16_t h = loader::F32ToF16(0.001f); std::memcpy(w.owned.as<uint8_t>() + b, &h, 2); std::memcpy(w.owned.as<uint8_t>() + b + 2, &h, 2); }
          w.data = w.owned.data();
        } else {
          auto q = QuantizeMatrix(f, t);
          w = std::move(q.value());
        }
        PrepareForPrecision(w, p);
        for (int64_t m : {1, 64, 512}) {
          std::vector<float> x(m * w.cols, 0.5f), y(m * w.rows);
          const int reps = m == 1 ? 50 : (m == 64 ? 10 : 3);
          double sec = MedianSeconds(reps, [&] { MatMul(pool, x.data(), m, w, nullptr, y.data()); });
          std::printf("%-5s %-5s %-20s m=%-4lld %8.3f ms  %7.1f GB/s weights  %7.1f GFLOP/s\n", loader::DTypeName(t),
                      p == MatmulPrecision::kFast ? "fast" : "exact", s.name, static_cast<long long>(m), sec * 1e3,
                      w.bytes() / sec / 1e9, 2.0 * m * w.rows * w.cols / sec / 1e9);
        }
      }
    }
  }
  if (std::strcmp(only, "matmul") == 0) return 0;
  // Attention: decode of one sequence over a long context, and a 512-token prefill.
  const int64_t H = 9, KVH = 3, D = 64, bs = 16;
  for (int64_t ctx : {512, 2048}) {
    KvCache cache(1, ctx / bs + 1, bs, KVH, D);
    std::vector<float> kv(ctx * KVH * D, 0.1f);
    std::vector<int64_t> slots(ctx);
    std::vector<int32_t> table(ctx / bs + 1);
    for (int64_t i = 0; i < static_cast<int64_t>(table.size()); ++i) table[i] = static_cast<int32_t>(i);
    for (int64_t p = 0; p < ctx; ++p) slots[p] = p;
    WriteKv(kv.data(), kv.data(), slots.data(), ctx, cache, 0);
    for (int64_t qlen : {int64_t{1}, ctx}) {
      std::vector<float> q(qlen * H * D, 0.2f), out(qlen * H * D);
      AttentionSeq seq{0, static_cast<int32_t>(qlen), static_cast<int32_t>(ctx), table.data()};
      double sec = MedianSeconds(qlen == 1 ? 50 : 3, [&] { PagedAttention(pool, q.data(), cache, 0, {&seq, 1}, H, 0.125f, 0, 0.0f, out.data()); });
      std::printf("attention ctx=%-5lld q=%-5lld %8.3f ms\n", static_cast<long long>(ctx), static_cast<long long>(qlen), sec * 1e3);
    }
  }
  // Batched decode: 64 sequences, one query row each, over 64 cached tokens each,
  // for each KV cache element type.
  for (KvDType kvt : {KvDType::kF32, KvDType::kF16, KvDType::kBF16}) {
    const int64_t nseq = 64, ctx = 64;
    KvCache cache(1, nseq * ctx / bs, bs, KVH, D, kvt);
    std::vector<float> kv(nseq * ctx * KVH * D, 0.1f);
    std::vector<int64_t> slots(nseq * ctx);
    for (int64_t p = 0; p < nseq * ctx; ++p) slots[p] = p;
    WriteKv(kv.data(), kv.data(), slots.data(), nseq * ctx, cache, 0);
    std::vector<int32_t> table(nseq * ctx / bs);
    for (int64_t i = 0; i < static_cast<int64_t>(table.size()); ++i) table[i] = static_cast<int32_t>(i);
    std::vector<AttentionSeq> seqs;
    for (int64_t s = 0; s < nseq; ++s)
      seqs.push_back({static_cast<int32_t>(s), 1, static_cast<int32_t>(ctx), table.data() + s * (ctx / bs)});
    std::vector<float> q(nseq * H * D, 0.2f), out(nseq * H * D);
    double sec = MedianSeconds(50, [&] { PagedAttention(pool, q.data(), cache, 0, seqs, H, 0.125f, 0, 0.0f, out.data()); });
    std::printf("attention %lld seqs x ctx=%lld q=1, %s KV %8.3f ms\n", static_cast<long long>(nseq), static_cast<long long>(ctx),
                KvDTypeName(kvt), sec * 1e3);
  }
  return 0;
}
