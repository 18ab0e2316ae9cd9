#include "cli/bench_roofline.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "backend/aligned_buffer.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/repack.h"
#include "common/cpu_features.h"

namespace pagoda::cli {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Runs fn repeatedly (at least 3 times) for min_seconds and returns the best time of one call.
template <typename Fn>
double BestSeconds(double min_seconds, Fn&& fn) {
  fn();  // warm-up: page faults, cache fill, thread wake-up
  double best = 1e30;
  const auto start = Clock::now();
  int runs = 0;
  while (runs < 3 || Seconds(start, Clock::now()) < min_seconds) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, Seconds(t0, Clock::now()));
    ++runs;
  }
  return best;
}

#if defined(__x86_64__)
// Horizontal sums through memory (GCC 12 warns falsely inside _mm512_reduce_add_*).
__attribute__((target("avx512f"))) inline int64_t HSum64(__m512i v) {
  alignas(64) int64_t t[8];
  _mm512_store_si512(t, v);
  int64_t s = 0;
  for (int64_t x : t) s += x;
  return s;
}

__attribute__((target("avx512f"))) inline int32_t HSum32(__m512i v) {
  alignas(64) int32_t t[16];
  _mm512_store_si512(t, v);
  int32_t s = 0;
  for (int32_t x : t) s += x;
  return s;
}

__attribute__((target("avx512f"))) uint64_t SumLinesAvx512(const uint8_t* p, int64_t lines) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 4 <= lines; i += 4) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + (i + 0) * 64));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + (i + 1) * 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + (i + 2) * 64));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + (i + 3) * 64));
  }
  for (; i < lines; ++i) a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i * 64));
  a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  return static_cast<uint64_t>(HSum64(a0));
}
#endif

uint64_t SumLinesScalar(const uint8_t* p, int64_t lines) {
  const uint64_t* q = reinterpret_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i < lines * 8; i += 4) {
    s0 += q[i];
    s1 += q[i + 1];
    s2 += q[i + 2];
    s3 += q[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

// Deterministic filler so the buffers are not all zeros (and pages are touched).
void Fill(uint8_t* p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<uint8_t>(x >> 24);
  }
}

void Int8TileScalar(const uint8_t* x, const int8_t* w, int64_t k, int32_t* out) {
  int32_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += static_cast<int32_t>(x[i]) * static_cast<int32_t>(w[i]);
  *out = s;
}

#if defined(__x86_64__)
// MR activation rows x NR weight rows; one vpdpbusd per (row, weight row) per 64 bytes of k.
template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8Tile(const uint8_t* x, int64_t ldx, const int8_t* w, int64_t ldw,
                                                                    int64_t k, int32_t* out, int64_t ldo) {
  __m512i acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_si512();
  for (int64_t i = 0; i < k; i += 64) {
    __m512i wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = _mm512_loadu_si512(w + b * ldw + i);
    for (int a = 0; a < MR; ++a) {
      const __m512i xv = _mm512_loadu_si512(x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_dpbusd_epi32(acc[a][b], xv, wv[b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = HSum32(acc[a][b]);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8RangeVnni(const uint8_t* x, int64_t m, const int8_t* w, int64_t n,
                                                                         int64_t k, int32_t* y, int64_t n0, int64_t n1) {
  constexpr int64_t kNBlock = 64;
  for (int64_t nb = n0; nb < n1; nb += kNBlock) {
    const int64_t ne = std::min(n1, nb + kNBlock);
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      int64_t j = nb;
      for (; j + 4 <= ne; j += 4) Int8Tile<4, 4>(x + i * k, k, w + j * k, k, k, y + i * n + j, n);
      for (; j < ne; ++j) Int8Tile<4, 1>(x + i * k, k, w + j * k, k, k, y + i * n + j, n);
    }
    for (; i < m; ++i)
      for (int64_t j = nb; j < ne; ++j) Int8Tile<1, 1>(x + i * k, k, w + j * k, k, k, y + i * n + j, n);
  }
}
#endif

bool HasVnni() {
  const CpuFeatures& f = GetCpuFeatures();
  return f.avx512f && f.avx512bw && f.avx512_vnni;
}

}  // namespace

double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes, double min_seconds) {
  bytes = std::max<size_t>(bytes / 256 * 256, 256);
  backend::AlignedBuffer buf(bytes);
  auto* p = reinterpret_cast<uint8_t*>(buf.data());
  // Touch every page from the threads that will read it (first-touch placement).
  const int64_t lines = static_cast<int64_t>(bytes / 64);
  pool.Run(lines, [&](int64_t b, int64_t e, int) { std::memset(p + b * 64, static_cast<int>(b & 0x7f), static_cast<size_t>(e - b) * 64); }, 64);
  const CpuFeatures& f = GetCpuFeatures();
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.num_threads()) * 8, 0);  // one cache line per chunk
  const double best = BestSeconds(min_seconds, [&] {
    pool.Run(lines, [&](int64_t b, int64_t e, int chunk) {
#if defined(__x86_64__)
      if (f.avx512f) {
        sinks[static_cast<size_t>(chunk) * 8] += SumLinesAvx512(p + b * 64, e - b);
        return;
      }
#endif
      sinks[static_cast<size_t>(chunk) * 8] += SumLinesScalar(p + b * 64, e - b);
    }, 64);
  });
  volatile uint64_t keep = 0;
  for (uint64_t s : sinks) keep = keep + s;
  (void)keep;
  return static_cast<double>(bytes) / best / 1e9;
}

double MeasureMatMulGflops(ThreadPool& pool, loader::DType weights, double min_seconds, backend::MatmulPrecision p) {
  constexpr int64_t m = 128, n = 1024, k = 1024;
  backend::Matrix w;
  w.dtype = weights;
  w.rows = n;
  w.cols = k;
  w.owned.Resize(w.bytes());
  if (weights == loader::DType::kF32) {
    float* d = w.owned.as<float>();
    for (int64_t i = 0; i < n * k; ++i) d[i] = static_cast<float>((i * 7919) % 2001 - 1000) * 1e-3f;
  } else {
    // Small normal bf16 / f16 values: random low bytes under a fixed sign/exponent byte.
    uint16_t* d = w.owned.as<uint16_t>();
    const uint16_t hi = weights == loader::DType::kBF16 ? 0x3c00 : 0x2c00;
    for (int64_t i = 0; i < n * k; ++i) d[i] = static_cast<uint16_t>(hi | ((i * 7919) & 0xff));
  }
  w.data = w.owned.data();
  backend::PrepareForPrecision(w, p);
  return MeasureMatrixGflops(pool, w, m, min_seconds);
}

double MeasureQuantMatMulGflops(ThreadPool& pool, loader::DType format, backend::MatmulPrecision p, double min_seconds) {
  constexpr int64_t m = 128, n = 1024, k = 1024;
  backend::Matrix f;
  f.dtype = loader::DType::kF32;
  f.rows = n;
  f.cols = k;
  f.owned.Resize(static_cast<size_t>(n * k) * sizeof(float));
  float* d = f.owned.as<float>();
  for (int64_t i = 0; i < n * k; ++i) d[i] = static_cast<float>((i * 7919) % 2001 - 1000) * 1e-3f;
  f.data = f.owned.data();
  auto q = backend::QuantizeMatrix(f, format);
  if (!q.ok()) return -1;
  backend::PrepareForPrecision(*q, p);
  return MeasureMatrixGflops(pool, *q, m, min_seconds);
}

double MeasureMatrixGflops(ThreadPool& pool, const backend::Matrix& w, int64_t m, double min_seconds) {
  const int64_t n = w.rows, k = w.cols;
  std::vector<float> x(m * k), y(m * n);
  for (int64_t i = 0; i < m * k; ++i) x[i] = static_cast<float>((i * 104729) % 2001 - 1000) * 1e-3f;
  const double best = BestSeconds(min_seconds, [&] { backend::MatMul(pool, x.data(), m, w, nullptr, y.data()); });
  return 2.0 * static_cast<double>(m * n * k) / best / 1e9;
}

const char* Int8KernelName() { return HasVnni() ? "avx512-vnni" : "scalar"; }

void Int8MatMul(ThreadPool& pool, const uint8_t* x, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* y) {
  const bool vnni = HasVnni() && k % 64 == 0;
  pool.Run(n, [&](int64_t n0, int64_t n1, int) {
#if defined(__x86_64__)
    if (vnni) {
      Int8RangeVnni(x, m, w, n, k, y, n0, n1);
      return;
    }
#endif
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n0; j < n1; ++j) Int8TileScalar(x + i * k, w + j * k, k, y + i * n + j);
  }, 16);
}

double MeasureInt8Gops(ThreadPool& pool, double min_seconds) {
  constexpr int64_t m = 128, n = 1024, k = 1024;
  std::vector<uint8_t> x(m * k);
  std::vector<int8_t> w(n * k);
  Fill(x.data(), x.size(), 1);
  Fill(reinterpret_cast<uint8_t*>(w.data()), w.size(), 2);
  std::vector<int32_t> y(m * n);
  Int8MatMul(pool, x.data(), m, w.data(), n, k, y.data());
  // The figure only counts if the loop computes the right thing.
  for (int64_t i = 0; i < m; i += 37)
    for (int64_t j = 0; j < n; j += 53) {
      int32_t ref = 0;
      Int8TileScalar(x.data() + i * k, w.data() + j * k, k, &ref);
      if (ref != y[i * n + j]) return -1;
    }
  const double best = BestSeconds(min_seconds, [&] { Int8MatMul(pool, x.data(), m, w.data(), n, k, y.data()); });
  return 2.0 * m * n * k / best / 1e9;
}

namespace {

#if defined(__x86_64__)
// Twelve independent accumulator chains in registers: no memory traffic, so the
// rate is the core's issue rate for the instruction. Returns instructions run.
__attribute__((target("avx512f,fma"))) double FmaLoop(int64_t iters, float* sink) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], x, y);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  _mm512_storeu_ps(sink, s);
  return 12.0 * static_cast<double>(iters);
}

__attribute__((target("avx512f,avx512bf16"))) double Bf16DotLoop(int64_t iters, float* sink) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3F7F), y = (__m512bh)_mm512_set1_epi16(0x3A83);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_dpbf16_ps(a[i], x, y);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  _mm512_storeu_ps(sink, s);
  return 12.0 * static_cast<double>(iters);
}

__attribute__((target("avx512f,avx512vnni"))) double VnniLoop(int64_t iters, float* sink) {
  __m512i a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_dpbusd_epi32(a[i], x, y);
  __m512i s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, a[i]);
  _mm512_storeu_si512(sink, s);  // only kept alive, never read as floats
  return 12.0 * static_cast<double>(iters);
}

// The AVX2 tier's instructions (CPUs without AVX-512).
__attribute__((target("avx2,fma"))) double FmaLoopAvx2(int64_t iters, float* sink) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1e-3f * static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-4f);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], x, y);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  _mm256_storeu_ps(sink, s);
  return 12.0 * static_cast<double>(iters);
}

// The inner step of the AVX2 int8 kernel (Q4 formats): vpmaddubsw (32 u8 x s8
// products, pairs summed) then vpaddw into a 16-bit accumulator. Returns steps run.
__attribute__((target("avx2"))) double MaddubsLoop(int64_t iters, float* sink) {
  __m256i a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_epi16(static_cast<short>(i));
  const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_add_epi16(a[i], _mm256_maddubs_epi16(x, y));
  __m256i s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_epi16(s, a[i]);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sink), s);  // only kept alive
  return 12.0 * static_cast<double>(iters);
}
#endif

}  // namespace

std::vector<InstructionCeiling> MeasureInstructionCeilings(ThreadPool& pool, double min_seconds) {
  std::vector<InstructionCeiling> out;
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  struct Probe {
    const char* name;
    double flops_per_instr;
    bool available;
    double (*loop)(int64_t, float*);
  };
  const Probe probes[] = {
      {"fp32 FMA (vfmadd, zmm)", 32, f.avx512f, FmaLoop},
      {"bf16 dot (vdpbf16ps)", 64, f.avx512f && f.avx512_bf16, Bf16DotLoop},
      {"int8 dot (vpdpbusd)", 128, f.avx512f && f.avx512_vnni, VnniLoop},
      {"fp32 FMA (vfmadd, ymm)", 16, !f.avx512f && f.avx2 && f.fma, FmaLoopAvx2},
      {"int8 dot (vpmaddubsw + vpaddw, ymm)", 64, !f.avx512f && f.avx2, MaddubsLoop},
  };
  constexpr int64_t kIters = 1 << 20;
  for (const Probe& p : probes) {
    if (!p.available) continue;
    std::vector<float> sink(16 * static_cast<size_t>(pool.num_threads()));
    std::vector<double> instrs(pool.num_threads());
    const double best = BestSeconds(min_seconds, [&] {
      pool.Run(pool.num_threads(), [&](int64_t b, int64_t e, int) {
        for (int64_t t = b; t < e; ++t) instrs[t] = p.loop(kIters, sink.data() + 16 * t);
      });
    });
    double total = 0;
    for (double x : instrs) total += x;
    out.push_back({p.name, total * p.flops_per_instr / best / 1e9});
  }
#endif
  return out;
}

}  // namespace pagoda::cli
