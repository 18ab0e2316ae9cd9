#include "backend/cpu/matmul.h"

#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/repack.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cpu/avx2_matmul.h"
#include "backend/cpu/blocking.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/int8_row_matmul.h"
#include "backend/cpu/quant_matmul.h"
#include "backend/cpu/tile_avx512.h"
#include "common/check.h"
#include "common/cpu_features.h"

namespace pagoda::backend {

namespace {

using loader::DType;

bool IsPlain(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16; }

// Portable: 16 partial sums over k in order (the SIMD lane layout), then summed.
// Written so that the compiler vectorizes the 16 lanes; on x86-64 it is also
// built for AVX2 and picked at load time (target_clones), the same values
// either way (no FMA contraction in this library). Not under ASan or TSan (the
// instrumented ifunc resolver crashes at load).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define PAGODA_AVX2_CLONES 1
__attribute__((target_clones("avx2", "default")))
#endif
float DotScalar(const float* x, const float* w, int64_t k) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= k; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += x[i + l] * w[i + l];
  for (int l = 0; i < k; ++i, ++l) acc[l] += x[i] * w[i];
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

// A 16-bit float (BF16/F16) weight row as float32, one conversion loop per type
// (F32 rows are used in place).
void HalfRow(const Matrix& w, int64_t j, float* row) {
  const uint16_t* src = reinterpret_cast<const uint16_t*>(w.Row(j));
  if (w.dtype == DType::kBF16) {
    for (int64_t i = 0; i < w.cols; ++i) row[i] = loader::Bf16ToF32(src[i]);
  } else {
    for (int64_t i = 0; i < w.cols; ++i) row[i] = loader::F16ToF32(src[i]);
  }
}

// y[r, j] += bias[j] for the m rows (row stride ldo) and columns [n0, n1); no-op without a bias.
void AddBiasColumns(const float* bias, int64_t m, int64_t ldo, int64_t n0, int64_t n1, float* y) {
  if (!bias) return;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = n0; j < n1; ++j) y[r * ldo + j] += bias[j];
}

void RangeScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y, int64_t n0, int64_t n1) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.cols));
  for (int64_t j = n0; j < n1; ++j) {
    if (w.dtype == DType::kF32) {
      for (int64_t i = 0; i < m; ++i) {
        const float v = DotScalar(x + i * w.cols, reinterpret_cast<const float*>(w.Row(j)), w.cols);
        y[i * w.rows + j] = bias ? v + bias[j] : v;
      }
      continue;
    }
    if (IsPlain(w.dtype)) {
      HalfRow(w, j, row.data());
    } else {
      DequantizeMatrixRow(w, j, row.data());
    }
    for (int64_t i = 0; i < m; ++i) {
      const float v = DotScalar(x + i * w.cols, row.data(), w.cols);
      y[i * w.rows + j] = bias ? v + bias[j] : v;
    }
  }
}

#if defined(__x86_64__)
template <DType T>
PAGODA_TARGET_AVX512 void DenseRangeAvx512(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  if (m <= 4) {
    // Decode: each weight row is used once, so stream them with a software
    // prefetch a few 4-row tiles ahead, spread over the tile (see
    // quant_matmul.cpp); same tiles as below.
    constexpr int64_t kAhead = 12;
    const size_t rb = w.RowBytes();
    for (int64_t j = n0; j < n1; j += 4) {
      const bool ahead = j + kAhead + 4 <= n1;
      internal::PrefetchStream pf(ahead ? w.Row(j + kAhead) : nullptr, ahead ? 4 * rb : 0, w.cols / 16, internal::PrefetchTo::kL2);
      internal::DensePanel<T>(x, m, w.cols, w.Row(j), rb, std::min<int64_t>(4, n1 - j), y + j, w.rows, &pf);
    }
    return;
  }
  constexpr int64_t kNBlock = 64;  // weight rows kept hot in L2 while a block of m rows passes
  const int64_t mb = internal::MRowBlock(w.cols);
  for (int64_t i0 = 0; i0 < m; i0 += mb) {
    const int64_t mi = std::min(mb, m - i0);
    for (int64_t nb = n0; nb < n1; nb += kNBlock) {
      const int64_t ne = std::min(n1, nb + kNBlock);
      internal::DensePanel<T>(x + i0 * w.cols, mi, w.cols, w.Row(nb), w.RowBytes(), ne - nb, y + i0 * w.rows + nb, w.rows);
    }
  }
}
#endif

enum class Isa { kScalar, kAvx2, kAvx512, kAvx512Vnni };

bool HasAvx2(const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c; }

Isa DetectIsa() {
  const CpuFeatures& f = GetCpuFeatures();
  // PAGODA_MATMUL_TIER=avx2|portable runs a lower tier than the best (to test
  // or compare them); an unknown or unavailable tier is ignored.
  if (const char* env = std::getenv("PAGODA_MATMUL_TIER")) {
    const std::string tier = env;
    if (tier == "avx2" && HasAvx2(f)) return Isa::kAvx2;
    if (tier == "portable") return Isa::kScalar;
  }
  if (f.avx512f && f.avx512bw && f.avx512vl) return f.avx512_vnni ? Isa::kAvx512Vnni : Isa::kAvx512;
  return HasAvx2(f) ? Isa::kAvx2 : Isa::kScalar;
}

std::atomic<int> g_forced_isa{-1};  // tests only: a lower tier than the machine's best

Isa GetIsa() {
  static const Isa isa = DetectIsa();
  const int forced = g_forced_isa.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<Isa>(forced) : isa;
}

}  // namespace

size_t Matrix::ElemBytes() const {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16:
    case DType::kBF16: return 2;
    default: return 0;
  }
}

bool ForceMatMulTierForTesting(const std::string& tier) {
  const CpuFeatures& f = GetCpuFeatures();
  if (tier.empty()) g_forced_isa.store(-1);
  else if (tier == "avx2" && HasAvx2(f)) g_forced_isa.store(static_cast<int>(Isa::kAvx2));
  else if (tier == "portable") g_forced_isa.store(static_cast<int>(Isa::kScalar));
  else return false;
  return true;
}

const char* MatMulKernelName() {
  switch (GetIsa()) {
    case Isa::kAvx512Vnni: return "avx512+vnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2+fma";
    case Isa::kScalar: break;
  }
  // The portable loops, vectorized by the compiler; their AVX2 build where the CPU has it.
#if defined(PAGODA_AVX2_CLONES)
  if (GetCpuFeatures().avx2) return "portable (avx2 build)";
#endif
  return "portable";
}

// VNNI where the tier is AVX-512 with VNNI; the AVX2 kernel on the AVX2 tier
// and on AVX-512 without VNNI (vpmaddubsw is there too).
namespace internal {
FastKernel FastInt8Kernel() {
  switch (GetIsa()) {
    case Isa::kAvx512Vnni: return FastKernel::kVnni;
    case Isa::kAvx512:
    case Isa::kAvx2: return FastKernel::kAvx2;
    default: return FastKernel::kScalar;
  }
}
}  // namespace internal

bool HasFastKernel(DType t) {
  if (t == DType::kBF16) return UsesAvx512MatMul() && internal::HasBf16DotKernel();
  return internal::FastInt8Kernel() != internal::FastKernel::kScalar && (internal::FastFormat(t) || t == DType::kQ4_K || t == DType::kQ5_0);
}

const char* FastInt8KernelName() {
  switch (internal::FastInt8Kernel()) {
    case internal::FastKernel::kVnni: return "vnni";
    case internal::FastKernel::kAvx2: return "avx2";
    default: return "none(exact)";
  }
}

bool UsesAvx512MatMul() { return GetIsa() == Isa::kAvx512 || GetIsa() == Isa::kAvx512Vnni; }
bool UsesAvx2MatMul() { return GetIsa() == Isa::kAvx2; }

void MatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y) {
  if (internal::IsFastLayout(w)) {
    internal::FastMatMulScalar(x, m, w, bias, y);
    return;
  }
  RangeScalar(x, m, w, bias, y, 0, w.rows);
}

namespace {

// Rows [n0, n1) of w on the plain (non-fast-layout) kernels of this tier, plus the bias.
void PlainRange(Isa isa, const float* x, int64_t m, const Matrix& w, const float* bias, float* y, int64_t n0, int64_t n1) {
#if defined(__x86_64__)
  if (isa == Isa::kAvx2 && internal::Avx2Supports(w)) {
    internal::MatMulRangeAvx2(x, m, w, y, n0, n1);
    AddBiasColumns(bias, m, w.rows, n0, n1, y);
    return;
  }
  if (isa == Isa::kAvx512 || isa == Isa::kAvx512Vnni) {
    switch (w.dtype) {
      case DType::kF32: DenseRangeAvx512<DType::kF32>(x, m, w, y, n0, n1); break;
      case DType::kBF16: DenseRangeAvx512<DType::kBF16>(x, m, w, y, n0, n1); break;
      case DType::kF16: DenseRangeAvx512<DType::kF16>(x, m, w, y, n0, n1); break;
      case DType::kI8Row: internal::Int8RowRangeAvx512(x, m, w, y, n0, n1); break;
      default: internal::QuantRangeAvx512(x, m, w, y, n0, n1); break;
    }
    AddBiasColumns(bias, m, w.rows, n0, n1, y);
    return;
  }
#else
  (void)isa;
#endif
  RangeScalar(x, m, w, bias, y, n0, n1);
}

enum class Path { kFastInt8, kBf16Dot, kPlain };

Path PathOf(const Matrix& w) {
  if (internal::IsFastLayout(w)) return Path::kFastInt8;
  if (w.dtype == DType::kBF16 && w.precision == MatmulPrecision::kFast && HasFastKernel(DType::kBF16)) return Path::kBf16Dot;
  return Path::kPlain;
}

}  // namespace

void MatMulShared(ThreadPool& pool, const float* x, int64_t m, std::span<const MatMulOutput> outs) {
  constexpr int64_t kUnit = 16;  // rows per unit of work: a fast-layout group, the plain kernels' grain
  constexpr size_t kMaxOuts = 4;
  PAGODA_CHECK_MSG(!outs.empty() && outs.size() <= kMaxOuts, "MatMulShared: 1 to 4 outputs");
  const Isa isa = GetIsa();
  const int64_t k = outs[0].w->cols;
  Path paths[kMaxOuts];
  int64_t first_unit[kMaxOuts + 1] = {0};
  bool need_int8 = false, need_bf16 = false;
  for (size_t o = 0; o < outs.size(); ++o) {
    PAGODA_CHECK_MSG(outs[o].w->cols == k, "MatMulShared: the matrices differ in input width");
    paths[o] = PathOf(*outs[o].w);
    need_int8 |= paths[o] == Path::kFastInt8;
    need_bf16 |= paths[o] == Path::kBf16Dot;
    first_unit[o + 1] = first_unit[o] + (outs[o].w->rows + kUnit - 1) / kUnit;
  }
  // Each input form is made once for all the matrices that read it.
  const internal::QuantActs* qa = need_int8 ? &internal::QuantizeActivations(x, m, k, &pool) : nullptr;
  const uint16_t* xb = nullptr;
  if (need_bf16) {
    // The activations rounded to bf16 once (the weights are as stored).
    thread_local AlignedBuffer xb_buf;
    const size_t need = static_cast<size_t>(m * k) * sizeof(uint16_t);
    if (xb_buf.size() < need) xb_buf.Resize(need);
    uint16_t* r = xb_buf.as<uint16_t>();
    pool.Run(m, [&](int64_t r0, int64_t r1, int) { internal::RoundRowsToBf16(x + r0 * k, r1 - r0, k, r + r0 * k); }, 32);
    xb = r;
  }
  const internal::FastKernel kernel = internal::FastInt8Kernel();
  // One static split of all the matrices' row units: each output row is
  // computed by the same kernel call shape as in MatMul, whichever thread runs it.
  pool.Run(first_unit[outs.size()], [&](int64_t u0, int64_t u1, int) {
    for (size_t o = 0; o < outs.size(); ++o) {
      const int64_t a = std::max(u0, first_unit[o]) - first_unit[o], b = std::min(u1, first_unit[o + 1]) - first_unit[o];
      if (a >= b) continue;
      const Matrix& w = *outs[o].w;
      const int64_t n0 = a * kUnit, n1 = std::min(w.rows, b * kUnit);
      switch (paths[o]) {
        case Path::kFastInt8: internal::FastRange(*qa, m, w, outs[o].bias, outs[o].y, a, b, kernel); break;
        case Path::kBf16Dot:
          internal::Bf16DotRange(xb, m, w, outs[o].y, n0, n1);
          AddBiasColumns(outs[o].bias, m, w.rows, n0, n1, outs[o].y);
          break;
        case Path::kPlain: PlainRange(isa, x, m, w, outs[o].bias, outs[o].y, n0, n1); break;
      }
    }
  });
}

void MatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y) {
  const MatMulOutput out{&w, bias, y};
  MatMulShared(pool, x, m, {&out, 1});
}

}  // namespace pagoda::backend
