// Quantized matmul: every GGUF block format against a double-precision
// reference over the dequantized weights, the AVX-512 block decoders against
// loader::DequantizeRow bit for bit, batch invariance for every format and
// precision, and the int8 (kFast) kernel against its scalar model bit for bit.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cpu/avx2_matmul.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/matmul.h"
#include "common/cpu_features.h"
#include "backend/cpu/quant_matmul.h"
#include "backend/cpu/repack.h"

namespace pagoda::backend {
namespace {

using loader::DType;

const DType kAllQuant[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
const DType kFastTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0};

void PutHalf(uint8_t* p, float v) {
  uint16_t h = loader::F32ToF16(v);
  std::memcpy(p, &h, 2);
}

// Random block bytes with sane f16 scales (codes and packed sub-scales random).
Matrix RandomQuant(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  Matrix m;
  m.dtype = t;
  m.rows = rows;
  m.cols = cols;
  m.owned.Resize(m.bytes());
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.002f, 0.05f), sign(-1.0f, 1.0f);
  uint8_t* p = m.owned.as<uint8_t>();
  for (size_t i = 0; i < m.bytes(); ++i) p[i] = static_cast<uint8_t>(byte(rng));
  const int64_t bb = loader::BlockBytes(t), nblocks = static_cast<int64_t>(m.bytes()) / bb;
  for (int64_t b = 0; b < nblocks; ++b) {
    uint8_t* blk = p + b * bb;
    switch (t) {
      case DType::kQ4_1:
      case DType::kQ5_1: PutHalf(blk, scale(rng)); PutHalf(blk + 2, sign(rng) * 0.2f); break;
      case DType::kQ4_K:
      case DType::kQ5_K: PutHalf(blk, scale(rng) * 0.1f); PutHalf(blk + 2, scale(rng) * 0.1f); break;
      case DType::kQ6_K: PutHalf(blk + 208, scale(rng) * 0.1f); break;
      default: PutHalf(blk, scale(rng) * (sign(rng) < 0 ? -1.0f : 1.0f)); break;
    }
  }
  m.data = m.owned.data();
  return m;
}

std::vector<float> RandomX(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> x(n);
  for (float& v : x) v = nd(rng);
  return x;
}

std::vector<double> Reference(const std::vector<float>& x, int64_t m, const Matrix& w, const float* bias) {
  std::vector<double> y(m * w.rows);
  std::vector<float> row(w.cols);
  for (int64_t j = 0; j < w.rows; ++j) {
    DequantizeMatrixRow(w, j, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double s = bias ? bias[j] : 0.0;
      for (int64_t k = 0; k < w.cols; ++k) s += static_cast<double>(x[i * w.cols + k]) * row[k];
      y[i * w.rows + j] = s;
    }
  }
  return y;
}

// Sum over k of |x| * |w|: the scale of the rounding error of one output.
std::vector<double> AbsScale(const std::vector<float>& x, int64_t m, const Matrix& w) {
  std::vector<double> y(m * w.rows);
  std::vector<float> row(w.cols);
  for (int64_t j = 0; j < w.rows; ++j) {
    DequantizeMatrixRow(w, j, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t k = 0; k < w.cols; ++k) s += std::fabs(static_cast<double>(x[i * w.cols + k]) * row[k]);
      y[i * w.rows + j] = s;
    }
  }
  return y;
}

TEST(QuantDecodeTest, Avx512DecodersMatchLoaderBitForBit) {
  const CpuFeatures& f = GetCpuFeatures();
  if (!(f.avx512f && f.avx512bw && f.avx512vl)) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  for (DType t : kAllQuant) {
    Matrix w = RandomQuant(t, 3, 512, rng);
    std::vector<float> a(512), b(512);
    for (int64_t r = 0; r < 3; ++r) {
      loader::DequantizeRow(t, w.Row(r), a.data(), 512);
      internal::DequantizeRowAvx512(t, w.Row(r), b.data(), 512);
      for (int i = 0; i < 512; ++i) ASSERT_EQ(std::memcmp(&a[i], &b[i], 4), 0) << loader::DTypeName(t) << " row " << r << " i " << i;
    }
  }
}

TEST(QuantDecodeTest, Avx2DecodersMatchLoaderBitForBit) {
  const CpuFeatures& f = GetCpuFeatures();
  if (!(f.avx2 && f.fma && f.f16c)) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  std::mt19937 rng(6);
  for (DType t : kAllQuant) {
    Matrix w = RandomQuant(t, 3, 512, rng);
    std::vector<float> a(512), b(512);
    for (int64_t r = 0; r < 3; ++r) {
      loader::DequantizeRow(t, w.Row(r), a.data(), 512);
      internal::DequantizeRowAvx2(t, w.Row(r), b.data(), 512);
      for (int i = 0; i < 512; ++i) ASSERT_EQ(std::memcmp(&a[i], &b[i], 4), 0) << loader::DTypeName(t) << " row " << r << " i " << i;
    }
  }
}

TEST(QuantMatMulTest, ExactPathMatchesReferenceAcrossShapes) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  for (DType t : kAllQuant) {
    const int64_t be = loader::BlockElems(t);
    for (int64_t k : {be, 3 * be}) {
      for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{37}}) {
        Matrix w = RandomQuant(t, n, k, rng);
        std::vector<float> bias = RandomX(n, rng);
        for (int64_t m = 1; m <= 17; m += (m < 6 ? 1 : 5)) {
          std::vector<float> x = RandomX(m * k, rng);
          std::vector<float> y(m * n), ys(m * n);
          MatMul(pool, x.data(), m, w, bias.data(), y.data());
          MatMulScalar(x.data(), m, w, bias.data(), ys.data());
          auto ref = Reference(x, m, w, bias.data());
          auto mag = AbsScale(x, m, w);
          for (int64_t i = 0; i < m * n; ++i) {
            const double tol = 1e-6 * mag[i] + 1e-6;
            ASSERT_NEAR(y[i], ref[i], tol) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
            ASSERT_NEAR(ys[i], ref[i], tol) << "scalar " << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k;
          }
        }
      }
    }
  }
}

// The skinny (m <= 4) and blocked (m > 4) paths, any thread count, any batch
// prefix: the same bits for a given row.
void ExpectBatchInvariant(const Matrix& w, std::mt19937& rng, const std::string& what) {
  const int64_t k = w.cols, n = w.rows, M = 13;
  std::vector<float> x = RandomX(M * k, rng);
  ThreadPool p1(1), p2(2), p3(3);
  std::vector<float> full(M * n);
  MatMul(p2, x.data(), M, w, nullptr, full.data());
  for (int64_t r = 0; r < M; ++r) {
    for (ThreadPool* p : {&p1, &p2, &p3}) {
      std::vector<float> one(n);
      MatMul(*p, x.data() + r * k, 1, w, nullptr, one.data());
      for (int64_t j = 0; j < n; ++j) ASSERT_EQ(one[j], full[r * n + j]) << what << " row " << r << " col " << j;
    }
  }
  for (int64_t mm : {2, 3, 4, 5, 6, 9}) {
    std::vector<float> part(mm * n);
    MatMul(p3, x.data(), mm, w, nullptr, part.data());
    for (int64_t i = 0; i < mm * n; ++i) ASSERT_EQ(part[i], full[i]) << what << " m=" << mm << " i=" << i;
  }
}

TEST(QuantMatMulTest, RowResultDoesNotDependOnBatchOrThreads) {
  std::mt19937 rng(11);
  for (DType t : kAllQuant) {
    Matrix w = RandomQuant(t, 131, 2 * loader::BlockElems(t) + (loader::BlockElems(t) == 32 ? 256 : 0), rng);
    ExpectBatchInvariant(w, rng, std::string(loader::DTypeName(t)) + " exact");
  }
  for (DType t : kFastTypes) {
    Matrix w = RandomQuant(t, 131, 320, rng);
    PrepareForPrecision(w, MatmulPrecision::kFast);
    ASSERT_EQ(w.precision, MatmulPrecision::kFast);
    ExpectBatchInvariant(w, rng, std::string(loader::DTypeName(t)) + " fast");
  }
}

TEST(QuantMatMulTest, FastLayoutKeepsTheWeights) {
  std::mt19937 rng(13);
  for (DType t : kFastTypes) {
    Matrix orig = RandomQuant(t, 37, 96, rng);
    Matrix f;
    f.dtype = t;
    f.rows = 37;
    f.cols = 96;
    f.owned.Resize(orig.bytes());
    std::memcpy(f.owned.data(), orig.data, orig.bytes());
    f.data = f.owned.data();
    PrepareForPrecision(f, MatmulPrecision::kFast);
    std::vector<float> a(96), b(96);
    for (int64_t r = 0; r < 37; ++r) {
      DequantizeMatrixRow(orig, r, a.data());
      DequantizeMatrixRow(f, r, b.data());
      ASSERT_EQ(a, b) << loader::DTypeName(t) << " row " << r;
    }
  }
}

Matrix CopyOf(const Matrix& w) {
  Matrix c;
  c.dtype = w.dtype;
  c.rows = w.rows;
  c.cols = w.cols;
  c.owned.Resize(w.bytes());
  std::memcpy(c.owned.data(), w.data, w.bytes());
  c.data = c.owned.data();
  return c;
}

// Q4_0, Q4_1 and Q8_0 with their scales first in each row: the same weights, and
// MatMul gives the same bits as on the GGUF layout for every batch size and
// shape (decode tiles and the prefill panel), on every tier; the split undoes
// exactly.
TEST(QuantMatMulTest, ScalesFirstLayoutGivesTheSameBits) {
  std::mt19937 rng(19);
  ThreadPool pool(2);
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0})
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 32}, {5, 64}, {37, 96}, {64, 256}, {131, 544}, {19, 1536}}) {
    SCOPED_TRACE(loader::DTypeName(t));
    Matrix gguf = RandomQuant(t, n, k, rng);
    Matrix split = CopyOf(gguf);
    SplitScales(split);
    ASSERT_TRUE(split.scales_first);
    if (k > 32) {  // one block is the same either way
      ASSERT_NE(std::memcmp(split.data, gguf.data, gguf.bytes()), 0) << "the layout did not change";
    }
    std::vector<float> a(k), b(k);
    for (int64_t r = 0; r < n; ++r) {
      DequantizeMatrixRow(gguf, r, a.data());
      DequantizeMatrixRow(split, r, b.data());
      ASSERT_EQ(a, b) << "row " << r;
    }
    for (const std::string tier : {"", "avx2", "portable"}) {
      if (!tier.empty() && !ForceMatMulTierForTesting(tier)) continue;
      for (int64_t m : {1, 2, 3, 4, 5, 8, 17, 64}) {
        std::vector<float> x = RandomX(m * k, rng), bias = RandomX(n, rng), y0(m * n), y1(m * n);
        MatMul(pool, x.data(), m, gguf, bias.data(), y0.data());
        MatMul(pool, x.data(), m, split, bias.data(), y1.data());
        if (tier.empty() && UsesAvx512MatMul()) {  // the layout's own kernel: the same bits
          ASSERT_EQ(y0, y1) << "n=" << n << " k=" << k << " m=" << m;
        }
        // Lower tiers read the split layout through the row decoder: the same values, their own summation order.
        auto ref = Reference(x, m, gguf, bias.data());
        auto mag = AbsScale(x, m, gguf);
        for (int64_t i = 0; i < m * n; ++i) ASSERT_NEAR(y1[i], ref[i], 1e-5 * mag[i] + 1e-6) << tier << " n=" << n << " k=" << k << " m=" << m;
      }
      ForceMatMulTierForTesting("");
    }
    if (!UsesAvx512MatMul()) continue;
    Matrix prepared = CopyOf(gguf);
    PrepareForPrecision(prepared, MatmulPrecision::kExact);
    EXPECT_TRUE(prepared.scales_first);
    ExpectBatchInvariant(prepared, rng, std::string(loader::DTypeName(t)) + " scales first");
    JoinScales(split);
    ASSERT_EQ(std::memcmp(split.data, gguf.data, gguf.bytes()), 0);
  }
}

// w (exact, a format kFast repacks as another's blocks) under kFast: the layout
// of `as`, results equal to the scalar model, near the exact reference on m
// random rows, batch-invariant.
void ExpectRepackedFastPath(Matrix& w, int64_t m, DType as, std::mt19937& rng, ThreadPool& pool, const std::string& what) {
  const int64_t n = w.rows, k = w.cols;
  std::vector<float> x = RandomX(m * k, rng), bias = RandomX(n, rng);
  auto ref = Reference(x, m, w, bias.data());
  auto mag = AbsScale(x, m, w);
  PrepareForPrecision(w, MatmulPrecision::kFast);
  ASSERT_TRUE(internal::IsFastLayout(w)) << what;
  ASSERT_EQ(w.dtype, as) << what;
  std::vector<float> y(m * n), ys(m * n);
  MatMul(pool, x.data(), m, w, bias.data(), y.data());
  MatMulScalar(x.data(), m, w, bias.data(), ys.data());
  for (int64_t i = 0; i < m * n; ++i) {
    ASSERT_EQ(y[i], ys[i]) << what << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
    ASSERT_NEAR(y[i], ref[i], 8e-3 * mag[i] + 1e-5) << what << " m=" << m << " n=" << n << " k=" << k;
  }
  ExpectBatchInvariant(w, rng, what);
}

// Q4_K under kFast: each sub-block as a Q4_1 block (scale products rounded to
// float16, relative 2^-11), then the Q4_1 int8 kernel; close to the exact
// reference, equal to its scalar model, batch-invariant.
TEST(QuantMatMulTest, Q4KFastPathRunsAsQ4_1Blocks) {
  if (!HasFastKernel(DType::kQ4_K)) GTEST_SKIP() << "no VNNI on this CPU";
  std::mt19937 rng(31);
  ThreadPool pool(2);
  for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 5, 256}, {3, 33, 512}, {9, 70, 768}, {17, 16, 256}}) {
    Matrix w = RandomQuant(DType::kQ4_K, n, k, rng);
    Matrix q = Q4KAsQ4_1(w);
    ASSERT_EQ(q.dtype, DType::kQ4_1);
    std::vector<float> a(k), b(k);
    for (int64_t r = 0; r < n; ++r) {
      DequantizeMatrixRow(w, r, a.data());
      DequantizeMatrixRow(q, r, b.data());
      double worst = 0, scale = 0;
      for (int64_t i = 0; i < k; ++i) {
        worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
      }
      ASSERT_LE(worst, 2e-3 * scale) << "row " << r << ": the sub-block scales moved by more than float16 rounding";
    }
    ExpectRepackedFastPath(w, m, DType::kQ4_1, rng, pool, "Q4_K fast");
  }
}

// Q6_K under kFast: its own layout (one byte per code, a float32 scale per
// 16-element half), the same values as the loader when dequantized; the int8
// kernel equal to its scalar model, close to the exact reference, batch-invariant.
TEST(QuantMatMulTest, Q6KFastPathKeepsItsValues) {
  if (!HasFastKernel(DType::kQ6_K)) GTEST_SKIP() << "no int8 kernel on this CPU";
  std::mt19937 rng(43);
  ThreadPool pool(2);
  for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 5, 256}, {3, 33, 512}, {9, 70, 768}, {17, 16, 256}, {64, 40, 512}}) {
    Matrix w = RandomQuant(DType::kQ6_K, n, k, rng);
    const Matrix exact = CopyOf(w);
    ExpectRepackedFastPath(w, m, DType::kQ6_K, rng, pool, "Q6_K fast");
    std::vector<float> a(k), b(k);
    for (int64_t r = 0; r < n; ++r) {
      DequantizeMatrixRow(exact, r, a.data());
      DequantizeMatrixRow(w, r, b.data());
      ASSERT_EQ(a, b) << "Q6_K fast layout, row " << r;
    }
  }
}

// Q5_0 under kFast: as Q8_0 blocks (the same values exactly), then the Q8_0
// int8 kernel; equal to its scalar model, close to the exact reference, batch-invariant.
TEST(QuantMatMulTest, Q5_0FastPathRunsAsQ8_0Blocks) {
  if (!HasFastKernel(DType::kQ5_0)) GTEST_SKIP() << "no int8 kernel on this CPU";
  std::mt19937 rng(37);
  ThreadPool pool(2);
  for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 5, 32}, {3, 33, 640}, {9, 70, 96}, {17, 16, 256}}) {
    Matrix w = RandomQuant(DType::kQ5_0, n, k, rng);
    Matrix q = Q5_0AsQ8_0(w);
    ASSERT_EQ(q.dtype, DType::kQ8_0);
    std::vector<float> a(k), b(k);
    for (int64_t r = 0; r < n; ++r) {
      DequantizeMatrixRow(w, r, a.data());
      DequantizeMatrixRow(q, r, b.data());
      ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "row " << r;
    }
    ExpectRepackedFastPath(w, m, DType::kQ8_0, rng, pool, "Q5_0 fast");
  }
}

TEST(QuantMatMulTest, FastPathMatchesItsScalarModelAndTheReference) {
  std::mt19937 rng(17);
  ThreadPool pool(2);
  for (DType t : kFastTypes) {
    for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 32}, {1, 16, 64}, {2, 17, 96}, {3, 33, 320},
                                                                             {4, 48, 32}, {5, 5, 128}, {9, 70, 256}, {17, 31, 160}}) {
      Matrix w = RandomQuant(t, n, k, rng);
      std::vector<float> x = RandomX(m * k, rng), bias = RandomX(n, rng);
      auto ref = Reference(x, m, w, bias.data());
      auto mag = AbsScale(x, m, w);
      PrepareForPrecision(w, MatmulPrecision::kFast);
      std::vector<float> y(m * n), ys(m * n);
      MatMul(pool, x.data(), m, w, bias.data(), y.data());
      MatMulScalar(x.data(), m, w, bias.data(), ys.data());
      for (int64_t i = 0; i < m * n; ++i) {
        ASSERT_EQ(y[i], ys[i]) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
        // Activations rounded to int8 per block: relative error ~ 1/254 per element, far less on sums.
        ASSERT_NEAR(y[i], ref[i], 8e-3 * mag[i] + 1e-5) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k;
      }
    }
  }
}

TEST(QuantizeMatrixTest, OnlineQuantizationIsCloseAndRunsOnBothPaths) {
  std::mt19937 rng(19);
  ThreadPool pool(2);
  Matrix w;
  w.dtype = DType::kF32;
  w.rows = 40;
  w.cols = 128;
  w.owned.Resize(w.bytes());
  std::vector<float> vals = RandomX(40 * 128, rng);
  std::memcpy(w.owned.data(), vals.data(), w.bytes());
  w.data = w.owned.data();
  for (auto [t, rel] : std::vector<std::pair<DType, double>>{{DType::kQ8_0, 0.01}, {DType::kQ4_0, 0.2}, {DType::kQ4_1, 0.15}}) {
    auto q = QuantizeMatrix(w, t);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    EXPECT_EQ(q->dtype, t);
    std::vector<float> row(128);
    double err = 0, norm = 0;
    for (int64_t r = 0; r < 40; ++r) {
      DequantizeMatrixRow(*q, r, row.data());
      for (int i = 0; i < 128; ++i) {
        err += std::pow(row[i] - vals[r * 128 + i], 2);
        norm += std::pow(vals[r * 128 + i], 2);
      }
    }
    EXPECT_LT(std::sqrt(err / norm), rel) << loader::DTypeName(t);
    EXPECT_GT(std::sqrt(err / norm), 0.0) << loader::DTypeName(t);
  }
  w.cols = 100;
  EXPECT_FALSE(QuantizeMatrix(w, DType::kQ8_0).ok());
  w.cols = 128;
  EXPECT_FALSE(QuantizeMatrix(w, DType::kQ6_K).ok());
}


// The AVX2+FMA tier (CPUs without AVX-512), forced on this machine: every
// format against the double reference, and batch/thread invariance.
struct ForcedTier {
  explicit ForcedTier(const std::string& t) : ok(ForceMatMulTierForTesting(t)) {}
  ~ForcedTier() { ForceMatMulTierForTesting(""); }
  bool ok;
};

Matrix RandomPlain(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  Matrix m;
  m.dtype = t;
  m.rows = rows;
  m.cols = cols;
  m.owned.Resize(m.bytes());
  std::normal_distribution<float> nd(0.0f, 0.05f);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = nd(rng);
    if (t == DType::kF32) m.owned.as<float>()[i] = v;
    else if (t == DType::kBF16) m.owned.as<uint16_t>()[i] = loader::F32ToBf16(v);
    else m.owned.as<uint16_t>()[i] = loader::F32ToF16(v);
  }
  m.data = m.owned.data();
  return m;
}

TEST(Avx2TierTest, MatchesReferenceAcrossFormatsAndShapes) {
  ForcedTier tier("avx2");
  if (!tier.ok) GTEST_SKIP() << "this CPU has no AVX2+FMA";
  EXPECT_STREQ(MatMulKernelName(), "avx2+fma");
  std::mt19937 rng(17);
  ThreadPool pool(2);
  std::vector<DType> types(std::begin(kAllQuant), std::end(kAllQuant));
  types.insert(types.end(), {DType::kF32, DType::kBF16, DType::kF16});
  for (DType t : types) {
    const int64_t be = loader::IsQuantized(t) ? loader::BlockElems(t) : 8;
    for (int64_t k : {be, 3 * be, be == 8 ? int64_t{584} : 2 * be}) {
      for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{37}, int64_t{130}}) {
        Matrix w = loader::IsQuantized(t) ? RandomQuant(t, n, k, rng) : RandomPlain(t, n, k, rng);
        std::vector<float> bias = RandomX(n, rng);
        for (int64_t m : {1, 2, 3, 4, 5, 8, 17}) {
          std::vector<float> x = RandomX(m * k, rng);
          std::vector<float> y(m * n);
          MatMul(pool, x.data(), m, w, bias.data(), y.data());
          auto ref = Reference(x, m, w, bias.data());
          auto mag = AbsScale(x, m, w);
          for (int64_t i = 0; i < m * n; ++i)
            ASSERT_NEAR(y[i], ref[i], 1e-6 * mag[i] + 1e-6) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
        }
      }
    }
  }
}

TEST(Avx2TierTest, RowResultDoesNotDependOnBatchOrThreads) {
  ForcedTier tier("avx2");
  if (!tier.ok) GTEST_SKIP() << "this CPU has no AVX2+FMA";
  std::mt19937 rng(19);
  for (DType t : kAllQuant) {
    Matrix w = RandomQuant(t, 131, 2 * loader::BlockElems(t) + (loader::BlockElems(t) == 32 ? 256 : 0), rng);
    ExpectBatchInvariant(w, rng, std::string(loader::DTypeName(t)) + " avx2");
  }
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    Matrix w = RandomPlain(t, 131, 576, rng);
    ExpectBatchInvariant(w, rng, std::string(loader::DTypeName(t)) + " avx2");
  }
}

// The int8 kernel of the AVX2 tier (vpmaddubsw, no VNNI): the values of the
// scalar model bit for bit (so those of the VNNI kernel too), with group tails
// of 1..15 rows (a half-empty or empty second 8-row half included), for every
// fast layout, and batch-invariant.
TEST(Avx2TierTest, Int8KernelGivesTheScalarModelsBits) {
  ForcedTier tier("avx2");
  if (!tier.ok) GTEST_SKIP() << "this CPU has no AVX2+FMA";
  ASSERT_EQ(internal::FastInt8Kernel(), internal::FastKernel::kAvx2);
  ASSERT_TRUE(HasFastKernel(DType::kQ4_1));
  std::mt19937 rng(41);
  ThreadPool pool(2);
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kI8Row, DType::kQ6_K}) {
    for (auto [n, k0] : std::vector<std::pair<int64_t, int64_t>>{{1, 32}, {5, 64}, {8, 96}, {9, 32}, {16, 160}, {24, 64}, {47, 576}}) {
      const int64_t k = t == DType::kQ6_K ? 256 * (1 + k0 / 300) : k0;  // whole super-blocks
      Matrix w;
      if (t == DType::kI8Row) {
        auto q = QuantizeMatrix(RandomPlain(DType::kF32, n, k, rng), DType::kI8Row);
        ASSERT_TRUE(q.ok()) << q.status().ToString();
        w = std::move(q.value());
      } else {
        w = RandomQuant(t, n, k, rng);
      }
      const Matrix exact = CopyOf(w);
      PrepareForPrecision(w, MatmulPrecision::kFast);
      ASSERT_TRUE(internal::IsFastLayout(w)) << loader::DTypeName(t);
      for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 17}) {
        std::vector<float> x = RandomX(m * k, rng), bias = RandomX(n, rng), y(m * n), ys(m * n);
        MatMul(pool, x.data(), m, w, bias.data(), y.data());
        MatMulScalar(x.data(), m, w, bias.data(), ys.data());
        auto ref = Reference(x, m, exact, bias.data());
        // Rounding x to int8 per block moves each x by at most amax / 254.
        std::vector<double> bound(m * n, 1e-5);
        std::vector<float> row(k);
        for (int64_t j = 0; j < n; ++j) {
          DequantizeMatrixRow(exact, j, row.data());
          for (int64_t i = 0; i < m; ++i)
            for (int64_t b = 0; b < k / 32; ++b) {
              double amax = 0, wsum = 0;
              for (int e = 0; e < 32; ++e) {
                amax = std::max(amax, std::fabs(static_cast<double>(x[i * k + b * 32 + e])));
                wsum += std::fabs(static_cast<double>(row[b * 32 + e]));
              }
              bound[i * n + j] += 1.001 * amax / 254 * wsum;
            }
        }
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_EQ(y[i], ys[i]) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
          ASSERT_NEAR(y[i], ref[i], bound[i]) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k;
        }
      }
      ExpectBatchInvariant(w, rng, std::string("avx2 int8 ") + loader::DTypeName(t));
    }
  }
}

TEST(Avx2TierTest, PortableTierCanBeForcedToo) {
  ForcedTier tier("portable");
  ASSERT_TRUE(tier.ok);
  EXPECT_NE(std::string(MatMulKernelName()).find("portable"), std::string::npos);
  EXPECT_FALSE(ForceMatMulTierForTesting("sse9"));
}

// MatMulShared: several matrices over one input give each output exactly what
// MatMul gives it alone, whatever mix of paths they take (int8 fast layout,
// exact block format, bf16 dot products, plain float), with or without a bias,
// on every tier and thread count, for decode and batch sizes.
TEST(MatMulSharedTest, EachOutputIsWhatMatMulGivesItAlone) {
  std::mt19937 rng(41);
  const int64_t k = 96;
  Matrix fast = RandomQuant(DType::kQ4_1, 40, k, rng);
  PrepareForPrecision(fast, MatmulPrecision::kFast);
  Matrix exact = RandomQuant(DType::kQ4_1, 17, k, rng);
  PrepareForPrecision(exact, MatmulPrecision::kExact);
  Matrix bf16 = RandomPlain(DType::kBF16, 33, k, rng);
  PrepareForPrecision(bf16, MatmulPrecision::kFast);
  Matrix f32 = RandomPlain(DType::kF32, 5, k, rng);
  const std::vector<float> bias_fast = RandomX(40, rng), bias_f32 = RandomX(5, rng);
  for (const std::string tier : {"", "avx2", "portable"}) {
    ForcedTier forced(tier);
    if (!forced.ok) continue;
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (int64_t m : {1, 3, 9, 64}) {
        const std::vector<float> x = RandomX(m * k, rng);
        std::vector<float> y0(m * 40), y1(m * 17), y2(m * 33), y3(m * 5);
        const MatMulOutput outs[] = {{&fast, bias_fast.data(), y0.data()}, {&exact, nullptr, y1.data()},
                                     {&bf16, nullptr, y2.data()}, {&f32, bias_f32.data(), y3.data()}};
        MatMulShared(pool, x.data(), m, outs);
        for (const MatMulOutput& o : outs) {
          std::vector<float> alone(m * o.w->rows);
          MatMul(pool, x.data(), m, *o.w, o.bias, alone.data());
          const std::vector<float> shared(o.y, o.y + m * o.w->rows);
          ASSERT_EQ(shared, alone) << "tier '" << tier << "' threads " << threads << " m=" << m << " " << loader::DTypeName(o.w->dtype)
                                   << " rows " << o.w->rows;
        }
        // And against the reference, so that equal-but-wrong fails too.
        const std::vector<double> ref = Reference(x, m, exact, nullptr);
        for (int64_t i = 0; i < m * 17; ++i) ASSERT_NEAR(y1[i], ref[i], 1e-3 * (1 + std::fabs(ref[i]))) << "exact Q4_1, m=" << m;
      }
    }
  }
}

}  // namespace
}  // namespace pagoda::backend
