#include "backend/cpu/repack.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/fast_matmul.h"
#include "common/check.h"

namespace pagoda::backend {

namespace {

using loader::DType;

// A matrix of w's shape in dtype t, with owned (uninitialized) storage; the
// caller fills it and sets data.
Matrix OwnedLike(const Matrix& w, DType t) {
  Matrix q;
  q.dtype = t;
  q.rows = w.rows;
  q.cols = w.cols;
  q.owned.Resize(q.bytes());
  return q;
}

void PutHalf(uint8_t* p, float v) {
  const uint16_t h = loader::F32ToF16(v);
  std::memcpy(p, &h, 2);
}

void QuantizeBlock(DType t, const float* x, uint8_t* out) {
  if (t == DType::kQ8_0) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    PutHalf(out, d);
    for (int i = 0; i < 32; ++i) out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * id)));
  } else if (t == DType::kQ4_0) {
    float amax = 0, max = 0;
    for (int i = 0; i < 32; ++i)
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    PutHalf(out, d);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
      out[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  } else {  // kQ4_1
    float mn = x[0], mx = x[0];
    for (int i = 1; i < 32; ++i) {
      mn = std::min(mn, x[i]);
      mx = std::max(mx, x[i]);
    }
    const float d = (mx - mn) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
    PutHalf(out, d);
    PutHalf(out + 2, mn);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, static_cast<int>((x[j] - mn) * id + 0.5f));
      const int hi = std::min(15, static_cast<int>((x[j + 16] - mn) * id + 0.5f));
      out[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// Symmetric per-row int8: scale = max|w| / 127, q = round-to-nearest(w / scale).
void QuantizeI8Row(const float* x, int64_t n, uint8_t* out) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  std::memcpy(out, &d, 4);
  for (int64_t i = 0; i < n; ++i) {
    const long q = d != 0 ? std::lround(x[i] / d) : 0;
    out[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(q, -127L, 127L)));
  }
}

}  // namespace

namespace {

// A block-32 format's scales-first layout: each row's block scales (sb bytes
// per block: Q4_1's d and m, Q4_0's and Q8_0's d) come first, then its codes (cb bytes
// per block), both in block order.
struct ScaleSplit {
  int sb, cb;
};

bool SplitsScales(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ8_0; }

ScaleSplit SplitOf(DType t) { return t == DType::kQ4_1 ? ScaleSplit{4, 16} : t == DType::kQ4_0 ? ScaleSplit{2, 16} : ScaleSplit{2, 32}; }

// Row r in the scales-first layout <-> GGUF blocks.
void SplitRow(ScaleSplit f, const uint8_t* src, int64_t nblk, uint8_t* dst) {
  for (int64_t b = 0; b < nblk; ++b) {
    std::memcpy(dst + f.sb * b, src + (f.sb + f.cb) * b, f.sb);
    std::memcpy(dst + f.sb * nblk + f.cb * b, src + (f.sb + f.cb) * b + f.sb, f.cb);
  }
}

void JoinRow(ScaleSplit f, const uint8_t* src, int64_t nblk, uint8_t* dst) {
  for (int64_t b = 0; b < nblk; ++b) {
    std::memcpy(dst + (f.sb + f.cb) * b, src + f.sb * b, f.sb);
    std::memcpy(dst + (f.sb + f.cb) * b + f.sb, src + f.sb * nblk + f.cb * b, f.cb);
  }
}

void Relayout(Matrix& w, bool split) {
  PAGODA_CHECK(SplitsScales(w.dtype) && w.precision == MatmulPrecision::kExact && w.scales_first != split);
  AlignedBuffer out;
  out.Resize(w.bytes());
  const int64_t nblk = w.cols / 32;
  const ScaleSplit f = SplitOf(w.dtype);
  for (int64_t r = 0; r < w.rows; ++r) (split ? SplitRow : JoinRow)(f, w.Row(r), nblk, out.as<uint8_t>() + r * w.RowBytes());
  w.owned = std::move(out);
  w.data = w.owned.data();
  w.scales_first = split;
}

}  // namespace

// Q4_K as Q4_1 blocks: each 32-value sub-block j of a super-block becomes one
// Q4_1 block with d = f16(d_K * sc_j) and m = f16(-(dmin_K * m_j)), codes as
// they are. The loader computes (d_K * sc_j) * q - dmin_K * m_j; the only
// change is rounding the two products to float16 (relative 2^-11 at most).
Matrix Q4KAsQ4_1(const Matrix& w) {
  Matrix q = OwnedLike(w, DType::kQ4_1);
  const int64_t nsuper = w.cols / 256;
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* src = w.Row(r);
    uint8_t* dst = q.owned.as<uint8_t>() + r * q.RowBytes();
    for (int64_t s = 0; s < nsuper; ++s, src += 144) {
      uint16_t h;
      std::memcpy(&h, src, 2);
      const float d = loader::F16ToF32(h);
      std::memcpy(&h, src + 2, 2);
      const float dmin = loader::F16ToF32(h);
      for (int j = 0; j < 8; ++j, dst += 20) {
        uint8_t sc, mn;
        loader::ScaleMinK4(j, src + 4, &sc, &mn);
        PutHalf(dst, d * sc);
        PutHalf(dst + 2, -(dmin * mn));
        // Sub-block j: the low (j even) or high (j odd) nibbles of 32 bytes of group j / 2.
        const uint8_t* g = src + 16 + 32 * (j / 2);
        auto code = [&](int e) { return j % 2 == 0 ? g[e] & 0xF : g[e] >> 4; };
        for (int e = 0; e < 16; ++e) dst[4 + e] = static_cast<uint8_t>(code(e) | (code(e + 16) << 4));
      }
    }
  }
  q.data = q.owned.data();
  return q;
}

// Q5_0 as Q8_0 blocks: the same scale, codes x - 16 (in [-16, 15]) as int8.
// The loader computes float(x - 16) * d for both, so the values are identical.
Matrix Q5_0AsQ8_0(const Matrix& w) {
  Matrix q = OwnedLike(w, DType::kQ8_0);
  const int64_t nb = w.cols / 32;
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* src = w.Row(r);
    uint8_t* dst = q.owned.as<uint8_t>() + r * q.RowBytes();
    for (int64_t b = 0; b < nb; ++b, src += 22, dst += 34) {
      std::memcpy(dst, src, 2);  // d
      uint32_t qh;
      std::memcpy(&qh, src + 2, 4);
      const uint8_t* qs = src + 6;
      for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4), hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
        dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(lo - 16));
        dst[2 + 16 + j] = static_cast<uint8_t>(static_cast<int8_t>(hi - 16));
      }
    }
  }
  q.data = q.owned.data();
  return q;
}

void SplitScales(Matrix& w) { Relayout(w, true); }
void JoinScales(Matrix& w) { Relayout(w, false); }

void PrepareForPrecision(Matrix& w, MatmulPrecision p) {
  if (SplitsScales(w.dtype) && !w.scales_first && w.precision == MatmulPrecision::kExact &&
      p == MatmulPrecision::kExact && UsesAvx512MatMul()) {
    SplitScales(w);
    return;
  }
  if (p == MatmulPrecision::kFast && w.dtype == DType::kBF16 && HasFastKernel(DType::kBF16)) {
    w.precision = MatmulPrecision::kFast;  // the rows as stored, read by the bf16 dot kernel (bf16_matmul.h)
    return;
  }
  if (p != MatmulPrecision::kFast || w.precision == MatmulPrecision::kFast) return;
  // Formats the int8 kernel reads as another's blocks.
  if (w.dtype == DType::kQ4_K && w.cols % 256 == 0) w = Q4KAsQ4_1(w);
  else if (w.dtype == DType::kQ5_0 && w.cols % 32 == 0) w = Q5_0AsQ8_0(w);
  if (!internal::FastFormat(w.dtype)) return;
  if (w.cols % 32 != 0) return;  // kI8Row of any width: the activations are quantized per 32, so it keeps kExact
  Matrix packed;
  internal::RepackFast(w, &packed);
  w = std::move(packed);
}

Result<Matrix> QuantizeMatrix(const Matrix& w, DType target) {
  if (target != DType::kQ8_0 && target != DType::kQ4_0 && target != DType::kQ4_1 && target != DType::kI8Row)
    return InvalidArgument(std::string("online quantization to ") + loader::DTypeName(target) + " is not supported (Q8_0, Q4_0, Q4_1, I8_ROW)");
  if (w.ElemBytes() == 0) return InvalidArgument(std::string("matrix is already quantized (") + loader::DTypeName(w.dtype) + ")");
  if (target != DType::kI8Row && w.cols % 32 != 0)
    return InvalidArgument("cannot quantize a matrix with " + std::to_string(w.cols) + " input features: not a multiple of 32");
  Matrix q = OwnedLike(w, target);
  std::vector<float> row(static_cast<size_t>(w.cols));
  const int64_t bb = loader::BlockBytes(target);
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeMatrixRow(w, r, row.data());
    uint8_t* dst = q.owned.as<uint8_t>() + r * q.RowBytes();
    if (target == DType::kI8Row) {
      QuantizeI8Row(row.data(), w.cols, dst);
      continue;
    }
    for (int64_t b = 0; b < w.cols / 32; ++b) QuantizeBlock(target, row.data() + b * 32, dst + b * bb);
  }
  q.data = q.owned.data();
  return q;
}

void DequantizeMatrixRow(const Matrix& w, int64_t r, float* dst) {
  if (internal::IsFastLayout(w)) {
    internal::FastDequantRow(w, r, dst);
    return;
  }
  if (w.scales_first) {
    thread_local std::vector<uint8_t> row;
    row.resize(w.RowBytes());
    JoinRow(SplitOf(w.dtype), w.Row(r), w.cols / 32, row.data());
    loader::DequantizeRow(w.dtype, row.data(), dst, w.cols);
    return;
  }
  loader::DequantizeRow(w.dtype, w.Row(r), dst, w.cols);
}

}  // namespace pagoda::backend
