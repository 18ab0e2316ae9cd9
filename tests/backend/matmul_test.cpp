#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/repack.h"

namespace pagoda::backend {
namespace {

using loader::DType;

Matrix MakeMatrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Matrix m;
  m.dtype = t;
  m.rows = rows;
  m.cols = cols;
  m.owned.Resize(static_cast<size_t>(rows * cols) * m.ElemBytes());
  for (int64_t i = 0; i < rows * cols; ++i) {
    float v = nd(rng);
    if (t == DType::kF32) m.owned.as<float>()[i] = v;
    else if (t == DType::kBF16) m.owned.as<uint16_t>()[i] = loader::F32ToBf16(v);
    else m.owned.as<uint16_t>()[i] = loader::F32ToF16(v);
  }
  m.data = m.owned.data();
  return m;
}

// Plain double-precision reference.
std::vector<double> Reference(const std::vector<float>& x, int64_t m, const Matrix& w, const std::vector<float>& bias) {
  std::vector<double> y(m * w.rows);
  std::vector<float> row(w.cols);
  for (int64_t j = 0; j < w.rows; ++j) {
    loader::DequantizeRow(w.dtype, static_cast<const uint8_t*>(w.data) + j * w.cols * w.ElemBytes(), row.data(), w.cols);
    for (int64_t i = 0; i < m; ++i) {
      double s = bias.empty() ? 0 : bias[j];
      for (int64_t k = 0; k < w.cols; ++k) s += static_cast<double>(x[i * w.cols + k]) * row[k];
      y[i * w.rows + j] = s;
    }
  }
  return y;
}

TEST(MatMulTest, MatchesReferenceAcrossShapesAndDtypes) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {1, 17, 15}, {3, 5, 16}, {4, 4, 33},
                                                                             {5, 70, 172}, {9, 129, 64}, {16, 64, 100}}) {
      Matrix w = MakeMatrix(t, n, k, rng);
      std::vector<float> x(m * k), bias(n);
      std::normal_distribution<float> nd;
      for (float& v : x) v = nd(rng);
      for (float& v : bias) v = nd(rng);
      std::vector<float> y(m * n), ys(m * n);
      MatMul(pool, x.data(), m, w, bias.data(), y.data());
      MatMulScalar(x.data(), m, w, bias.data(), ys.data());
      auto ref = Reference(x, m, w, bias);
      for (int64_t i = 0; i < m * n; ++i) {
        const double tol = 1e-5 * std::sqrt(static_cast<double>(k)) * 4;
        ASSERT_NEAR(y[i], ref[i], tol) << loader::DTypeName(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
        ASSERT_NEAR(ys[i], ref[i], tol) << "scalar " << loader::DTypeName(t);
      }
    }
  }
}

TEST(MatMulTest, RowResultDoesNotDependOnBatchOrThreads) {
  std::mt19937 rng(11);
  for (DType t : {DType::kF32, DType::kBF16}) {
    Matrix w = MakeMatrix(t, 131, 200, rng);
    std::normal_distribution<float> nd;
    std::vector<float> x(13 * 200);
    for (float& v : x) v = nd(rng);
    ThreadPool p1(1), p2(2), p3(3);
    std::vector<float> full(13 * 131);
    MatMul(p2, x.data(), 13, w, nullptr, full.data());
    for (int64_t r = 0; r < 13; ++r) {
      for (ThreadPool* p : {&p1, &p2, &p3}) {
        std::vector<float> one(131);
        MatMul(*p, x.data() + r * 200, 1, w, nullptr, one.data());
        for (int64_t j = 0; j < 131; ++j) ASSERT_EQ(one[j], full[r * 131 + j]) << "row " << r << " col " << j;
      }
    }
    // A prefix of rows (different m tiling) gives the same numbers too.
    std::vector<float> part(6 * 131);
    MatMul(p2, x.data(), 6, w, nullptr, part.data());
    for (int64_t i = 0; i < 6 * 131; ++i) ASSERT_EQ(part[i], full[i]);
  }
}

// kFast on BF16 weights (AVX512-BF16): the activations rounded to bf16 (round
// to nearest even), exact bf16 products, float32 sums. Against a double
// reference over the rounded activations the only error left is the float32
// summation, far below what skipping the rounding would give; rows do not
// depend on the batch or the threads; a forced lower tier reads the same
// weights on its exact path.
TEST(MatMulTest, Bf16FastPathRoundsActivationsAndIsBatchInvariant) {
  if (!HasFastKernel(DType::kBF16)) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937 rng(23);
  ThreadPool pool(2);
  std::normal_distribution<float> nd;
  for (auto [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {1, 17, 31}, {2, 5, 32}, {3, 9, 33}, {4, 4, 64},
                                                                           {5, 70, 172}, {9, 129, 576}, {33, 64, 100}, {70, 36, 1536}}) {
    Matrix w = MakeMatrix(DType::kBF16, n, k, rng);
    PrepareForPrecision(w, MatmulPrecision::kFast);
    ASSERT_EQ(w.precision, MatmulPrecision::kFast);
    std::vector<float> x(m * k), xr(m * k), bias(n);
    for (float& v : x) v = nd(rng);
    for (float& v : bias) v = nd(rng);
    for (int64_t i = 0; i < m * k; ++i) xr[i] = loader::Bf16ToF32(loader::F32ToBf16(x[i]));
    std::vector<float> y(m * n);
    MatMul(pool, x.data(), m, w, bias.data(), y.data());
    auto ref = Reference(xr, m, w, bias);
    for (int64_t i = 0; i < m * n; ++i)
      ASSERT_NEAR(y[i], ref[i], 1e-5 * std::sqrt(static_cast<double>(k)) * 4) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
    ThreadPool p1(1), p3(3);
    for (int64_t r = 0; r < m; ++r) {
      for (ThreadPool* p : {&p1, &pool, &p3}) {
        std::vector<float> one(n);
        MatMul(*p, x.data() + r * k, 1, w, bias.data(), one.data());
        for (int64_t j = 0; j < n; ++j) ASSERT_EQ(one[j], y[r * n + j]) << "m=" << m << " k=" << k << " row " << r << " col " << j;
      }
    }
    if (m > 4) {
      std::vector<float> part(4 * n);
      MatMul(pool, x.data(), 4, w, bias.data(), part.data());
      for (int64_t i = 0; i < 4 * n; ++i) ASSERT_EQ(part[i], y[i]) << "m=4 prefix, k=" << k;
    }
    if (ForceMatMulTierForTesting("avx2")) {
      Matrix exact = MakeMatrix(DType::kBF16, n, k, rng);
      std::memcpy(exact.owned.data(), w.data, w.bytes());
      std::vector<float> a(m * n), b(m * n);
      MatMul(pool, x.data(), m, w, bias.data(), a.data());
      MatMul(pool, x.data(), m, exact, bias.data(), b.data());
      ForceMatMulTierForTesting("");
      ASSERT_EQ(a, b) << "a forced lower tier runs the exact path, m=" << m << " k=" << k;
    }
  }
}

// RMSNorm's vector path and the portable loop give the same bits (the sum of
// squares in double over the same 8 lanes and tree), with and without the
// residual add and the weight offset, on every tail length; both within float
// rounding of a double reference.
TEST(OpsTest, RmsNormVectorAndPortablePathsAgreeBitForBit) {
  std::mt19937 rng(29);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  ThreadPool pool(2);
  for (int64_t n : {1, 7, 8, 9, 16, 31, 576, 643}) {
    const int64_t rows = 3;
    std::vector<float> x(rows * n), r(rows * n), w(n);
    for (float& v : x) v = nd(rng);
    for (float& v : r) v = nd(rng);
    for (float& v : w) v = nd(rng);
    for (bool residual : {false, true}) {
      for (bool offset : {false, true}) {
        std::vector<float> xa = x, xb = x, ya(rows * n), yb(rows * n);
        AddRmsNorm(pool, xa.data(), residual ? r.data() : nullptr, w.data(), 1e-6f, offset, rows, n, ya.data());
        AddRmsNormPortable(xb.data(), residual ? r.data() : nullptr, w.data(), 1e-6f, offset, rows, n, yb.data());
        ASSERT_EQ(xa, xb) << "n=" << n;
        ASSERT_EQ(ya, yb) << "n=" << n << " residual " << residual << " offset " << offset;
        for (int64_t i = 0; i < rows; ++i) {
          double ss = 0;
          for (int64_t j = 0; j < n; ++j) ss += static_cast<double>(xa[i * n + j]) * xa[i * n + j];
          const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
          for (int64_t j = 0; j < n; ++j) {
            const double want = xa[i * n + j] * inv * (offset ? 1.0 + w[j] : w[j]);
            ASSERT_NEAR(ya[i * n + j], want, 1e-5 * (std::fabs(want) + 1e-3)) << "n=" << n;
          }
        }
      }
    }
  }
}

TEST(OpsTest, NormsAndActivations) {
  ThreadPool pool(2);
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5f}, y(4);
  RmsNorm(pool, x.data(), w.data(), 0.0f, false, 1, 4, y.data());
  const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  EXPECT_NEAR(y[2], 3 / rms * 2, 1e-6);
  RmsNorm(pool, x.data(), w.data(), 0.0f, true, 1, 4, y.data());
  EXPECT_NEAR(y[3], 4 / rms * 1.5f, 1e-6);
  std::vector<float> b = {0, 0, 0, 1};
  LayerNorm(pool, x.data(), w.data(), b.data(), 0.0f, 1, 4, y.data());
  EXPECT_NEAR(y[0], -1.5f / std::sqrt(1.25f), 1e-6);
  EXPECT_NEAR(y[3], 1.5f / std::sqrt(1.25f) * 0.5f + 1, 1e-6);
  EXPECT_NEAR(ActScalar(ActKind::kSilu, 1.0f), 1.0f / (1 + std::exp(-1.0f)), 1e-7);
  EXPECT_NEAR(ActScalar(ActKind::kGeluErf, 1.0f), 0.8413447f, 1e-6);
  EXPECT_NEAR(ActScalar(ActKind::kGeluTanh, 1.0f), 0.8411920f, 1e-6);
}

}  // namespace
}  // namespace pagoda::backend
