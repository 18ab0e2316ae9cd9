// Per-output-channel int8 weights (loader::DType::kI8Row): online quantization
// round trip, the AVX-512 decoder against loader::DequantizeRow bit for bit,
// the exact kernel against the scalar kernel and a double reference across
// shapes (k not a multiple of 16 included), bit for bit against the float32
// kernel over the dequantized weights, and batch invariance; the kFast (int8
// activations, VNNI) path against its scalar model bit for bit and the
// reference within the activation rounding.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/int8_row_matmul.h"
#include "backend/cpu/matmul.h"
#include "common/cpu_features.h"
#include "backend/cpu/repack.h"

namespace pagoda::backend {
namespace {

using loader::DType;

std::vector<float> RandomX(int64_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = nd(rng);
  return x;
}

Matrix F32Matrix(const std::vector<float>& vals, int64_t rows, int64_t cols) {
  Matrix w;
  w.dtype = DType::kF32;
  w.rows = rows;
  w.cols = cols;
  w.owned.Resize(w.bytes());
  std::memcpy(w.owned.data(), vals.data(), w.bytes());
  w.data = w.owned.data();
  return w;
}

// A random F32 matrix quantized to kI8Row (rows of different magnitudes, one all zero).
Matrix RandomI8Row(int64_t rows, int64_t cols, std::mt19937& rng) {
  std::vector<float> vals = RandomX(rows * cols, rng, 0.05f);
  std::uniform_real_distribution<float> mag(0.1f, 4.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float s = r == 2 ? 0.0f : mag(rng);
    for (int64_t c = 0; c < cols; ++c) vals[r * cols + c] *= s;
  }
  auto q = QuantizeMatrix(F32Matrix(vals, rows, cols), DType::kI8Row);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  return std::move(*q);
}

// The same weights as a plain F32 matrix of their dequantized values.
Matrix Dequantized(const Matrix& w) {
  std::vector<float> vals(static_cast<size_t>(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r) DequantizeMatrixRow(w, r, vals.data() + r * w.cols);
  return F32Matrix(vals, w.rows, w.cols);
}

float ScaleOf(const Matrix& w, int64_t r) {
  float s;
  std::memcpy(&s, w.Row(r), 4);
  return s;
}

TEST(Int8RowTest, RowLayoutAndBytes) {
  EXPECT_EQ(loader::RowBytes(DType::kI8Row, 100), 104);
  EXPECT_TRUE(loader::IsQuantized(DType::kI8Row));
  EXPECT_STREQ(loader::DTypeName(DType::kI8Row), "I8_ROW");
  Matrix w;
  w.dtype = DType::kI8Row;
  w.rows = 3;
  w.cols = 5;
  EXPECT_EQ(w.bytes(), 27u);
  EXPECT_EQ(w.ElemBytes(), 0u);
}

TEST(Int8RowTest, QuantizationRoundTripWithinHalfAScale) {
  std::mt19937 rng(23);
  for (int64_t cols : {1, 7, 32, 100, 576, 1536}) {
    const int64_t rows = 9;
    std::vector<float> vals = RandomX(rows * cols, rng);
    for (int64_t c = 0; c < cols; ++c) vals[3 * cols + c] = 0.0f;  // an all-zero row
    for (DType src : {DType::kF32, DType::kBF16}) {
      Matrix w = F32Matrix(vals, rows, cols);
      std::vector<float> in(static_cast<size_t>(rows * cols));
      if (src == DType::kBF16) {  // the same values rounded to bf16, stored as bf16
        Matrix b;
        b.dtype = DType::kBF16;
        b.rows = rows;
        b.cols = cols;
        b.owned.Resize(b.bytes());
        for (int64_t i = 0; i < rows * cols; ++i) b.owned.as<uint16_t>()[i] = loader::F32ToBf16(vals[i]);
        b.data = b.owned.data();
        w = std::move(b);
      }
      for (int64_t r = 0; r < rows; ++r) DequantizeMatrixRow(w, r, in.data() + r * cols);
      auto q = QuantizeMatrix(w, DType::kI8Row);
      ASSERT_TRUE(q.ok()) << q.status().ToString();
      ASSERT_EQ(q->dtype, DType::kI8Row);
      ASSERT_EQ(q->bytes(), static_cast<size_t>(rows * (cols + 4)));
      std::vector<float> out(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        float amax = 0;
        for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(in[r * cols + c]));
        const float scale = ScaleOf(*q, r);
        ASSERT_EQ(scale, amax / 127.0f) << "row " << r;
        DequantizeMatrixRow(*q, r, out.data());
        int max_code = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const int code = reinterpret_cast<const int8_t*>(q->Row(r) + 4)[c];
          max_code = std::max(max_code, std::abs(code));
          ASSERT_EQ(out[c], static_cast<float>(code) * scale);
          ASSERT_LE(std::fabs(out[c] - in[r * cols + c]), 0.5 * scale * (1 + 1e-5)) << "cols " << cols << " row " << r << " col " << c;
        }
        ASSERT_EQ(max_code, amax > 0 ? 127 : 0) << "row " << r;
      }
    }
  }
}

TEST(Int8RowTest, Avx512DecoderMatchesLoaderBitForBit) {
  const CpuFeatures& f = GetCpuFeatures();
  if (!(f.avx512f && f.avx512bw && f.avx512vl)) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(29);
  for (int64_t cols : {1, 15, 16, 17, 100, 1024}) {
    Matrix w = RandomI8Row(4, cols, rng);
    std::vector<float> a(static_cast<size_t>(cols)), b(static_cast<size_t>(cols));
    for (int64_t r = 0; r < 4; ++r) {
      loader::DequantizeRow(DType::kI8Row, w.Row(r), a.data(), cols);
      internal::Int8RowDequantizeAvx512(w.Row(r), b.data(), cols);
      ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "cols " << cols << " row " << r;
    }
  }
}

std::vector<double> Reference(const std::vector<float>& x, int64_t m, const Matrix& w, const float* bias, std::vector<double>* mag) {
  std::vector<double> y(static_cast<size_t>(m * w.rows));
  mag->assign(y.size(), 0.0);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t j = 0; j < w.rows; ++j) {
    loader::DequantizeRow(w.dtype, w.Row(j), row.data(), w.cols);
    for (int64_t i = 0; i < m; ++i) {
      double s = bias ? bias[j] : 0.0, a = 0;
      for (int64_t k = 0; k < w.cols; ++k) {
        s += static_cast<double>(x[i * w.cols + k]) * row[k];
        a += std::fabs(static_cast<double>(x[i * w.cols + k]) * row[k]);
      }
      y[i * w.rows + j] = s;
      (*mag)[i * w.rows + j] = a;
    }
  }
  return y;
}

TEST(Int8RowMatMulTest, ExactPathMatchesScalarAndReferenceAcrossShapes) {
  std::mt19937 rng(31);
  ThreadPool pool(2);
  for (int64_t k : {1, 17, 32, 48, 100, 257, 576, 1024}) {
    for (int64_t n : {1, 3, 4, 5, 16, 17, 67}) {
      Matrix w = RandomI8Row(n, k, rng);
      Matrix f = Dequantized(w);
      std::vector<float> bias = RandomX(n, rng);
      for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33}) {
        std::vector<float> x = RandomX(m * k, rng);
        std::vector<float> y(static_cast<size_t>(m * n)), ys(y.size()), yf(y.size());
        MatMul(pool, x.data(), m, w, bias.data(), y.data());
        MatMulScalar(x.data(), m, w, bias.data(), ys.data());
        MatMul(pool, x.data(), m, f, bias.data(), yf.data());
        std::vector<double> mag;
        auto ref = Reference(x, m, w, bias.data(), &mag);
        for (int64_t i = 0; i < m * n; ++i) {
          // The same float32 weights and FMA sequence as the F32 kernel: the same bits.
          ASSERT_EQ(y[i], yf[i]) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
          const double tol = 1e-6 * mag[i] + 1e-6;
          ASSERT_NEAR(y[i], ys[i], 2 * tol) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
          ASSERT_NEAR(y[i], ref[i], tol) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
          ASSERT_NEAR(ys[i], ref[i], tol) << "scalar m=" << m << " n=" << n << " k=" << k << " i=" << i;
        }
      }
    }
  }
}

// Row i alone, in any batch prefix, on any thread count: the same bits.
void ExpectBatchInvariant(const Matrix& w, std::mt19937& rng, const std::string& what) {
  const int64_t k = w.cols, n = w.rows, M = 33;
  std::vector<float> x = RandomX(M * k, rng);
  ThreadPool p1(1), p2(2), p3(3);
  std::vector<float> full(static_cast<size_t>(M * n));
  MatMul(p2, x.data(), M, w, nullptr, full.data());
  for (int64_t r = 0; r < M; ++r) {
    for (ThreadPool* p : {&p1, &p2, &p3}) {
      std::vector<float> one(static_cast<size_t>(n));
      MatMul(*p, x.data() + r * k, 1, w, nullptr, one.data());
      for (int64_t j = 0; j < n; ++j) ASSERT_EQ(one[j], full[r * n + j]) << what << " row " << r << " col " << j;
    }
  }
  for (int64_t mm : {2, 3, 4, 5, 6, 7, 8, 9, 16}) {
    std::vector<float> part(static_cast<size_t>(mm * n));
    MatMul(p3, x.data() + k, mm, w, nullptr, part.data());  // rows 1 .. mm
    for (int64_t i = 0; i < mm * n; ++i) ASSERT_EQ(part[i], full[n + i]) << what << " m=" << mm << " i=" << i;
  }
}

TEST(Int8RowMatMulTest, RowResultDoesNotDependOnBatchOrThreads) {
  std::mt19937 rng(37);
  for (int64_t k : {64, 300, 576}) {
    Matrix w = RandomI8Row(131, k, rng);
    ExpectBatchInvariant(w, rng, "exact k=" + std::to_string(k));
  }
}

TEST(Int8RowMatMulTest, QuantizedMatrixRejectsRequantization) {
  std::mt19937 rng(41);
  Matrix w = RandomI8Row(4, 64, rng);
  EXPECT_FALSE(QuantizeMatrix(w, DType::kI8Row).ok());
  EXPECT_FALSE(QuantizeMatrix(w, DType::kQ8_0).ok());
}

TEST(Int8RowFastTest, LayoutKeepsTheWeightsAndNarrowMatricesStayExact) {
  std::mt19937 rng(43);
  Matrix w = RandomI8Row(37, 96, rng);
  Matrix f;  // a copy of w, repacked
  f.dtype = w.dtype;
  f.rows = w.rows;
  f.cols = w.cols;
  f.owned.Resize(w.bytes());
  std::memcpy(f.owned.data(), w.data, w.bytes());
  f.data = f.owned.data();
  PrepareForPrecision(f, MatmulPrecision::kFast);
  ASSERT_EQ(f.precision, MatmulPrecision::kFast);
  ASSERT_TRUE(internal::IsFastLayout(f));
  std::vector<float> a(96), b(96);
  for (int64_t r = 0; r < 37; ++r) {
    DequantizeMatrixRow(w, r, a.data());
    DequantizeMatrixRow(f, r, b.data());
    ASSERT_EQ(a, b) << "row " << r;
  }
  Matrix narrow = RandomI8Row(5, 100, rng);
  PrepareForPrecision(narrow, MatmulPrecision::kFast);
  EXPECT_EQ(narrow.precision, MatmulPrecision::kExact);
}

TEST(Int8RowFastTest, FastPathMatchesItsScalarModelAndTheReference) {
  std::mt19937 rng(47);
  ThreadPool pool(2);
  for (int64_t k : {32, 64, 96, 576, 1024}) {
    for (int64_t n : {1, 5, 16, 17, 33, 70}) {
      for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 16, 33}) {
        Matrix w = RandomI8Row(n, k, rng);
        std::vector<float> x = RandomX(m * k, rng), bias = RandomX(n, rng);
        std::vector<double> mag;
        auto ref = Reference(x, m, w, bias.data(), &mag);
        PrepareForPrecision(w, MatmulPrecision::kFast);
        ASSERT_EQ(w.precision, MatmulPrecision::kFast);
        std::vector<float> y(static_cast<size_t>(m * n)), ys(y.size());
        MatMul(pool, x.data(), m, w, bias.data(), y.data());
        MatMulScalar(x.data(), m, w, bias.data(), ys.data());
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_EQ(y[i], ys[i]) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
          // Activations rounded to int8 per block of 32: relative error ~ 1/254 per element.
          ASSERT_NEAR(y[i], ref[i], 8e-3 * mag[i] + 1e-5) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
        }
      }
    }
  }
}

TEST(Int8RowFastTest, RowResultDoesNotDependOnBatchOrThreads) {
  std::mt19937 rng(53);
  Matrix w = RandomI8Row(131, 320, rng);
  PrepareForPrecision(w, MatmulPrecision::kFast);
  ASSERT_EQ(w.precision, MatmulPrecision::kFast);
  ExpectBatchInvariant(w, rng, "fast");
}

}  // namespace
}  // namespace pagoda::backend
