#pragma once
// Elementwise and normalization kernels on float32 rows. All are row-local, so a
// row's result never depends on the other rows of the batch.

#include <cstdint>

#include "common/thread_pool.h"

namespace pagoda::backend {

enum class ActKind { kSilu, kGeluTanh, kGeluErf, kRelu };

// y = x / rms(x) * w   (offset: * (1 + w), Gemma). In-place allowed (y == x).
void RmsNorm(ThreadPool& pool, const float* x, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y);
// The residual add and the next RMSNorm in one pass: x += r, then y = RmsNorm(x);
// the same float operations as AddInPlace followed by RmsNorm.
void AddRmsNorm(ThreadPool& pool, float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y);
// AddRmsNorm (r may be null) on the portable row loop whatever the CPU: tests
// check that the vector path gives the same bits.
void AddRmsNormPortable(float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y);
// y = (x - mean) / sqrt(var + eps) * w + b
void LayerNorm(ThreadPool& pool, const float* x, const float* w, const float* b, float eps, int64_t rows, int64_t n, float* y);
// x[i] = act(x[i])
void Activate(ThreadPool& pool, ActKind act, float* x, int64_t n);
// gate[r, i] = act(gate[r, i]) * up[r, i]  (rows x n each)
void GatedActivate(ThreadPool& pool, ActKind act, float* gate, const float* up, int64_t n);
// y += x
void AddInPlace(float* y, const float* x, int64_t n);
// x = tanh(x / cap) * cap
void SoftCap(float* x, int64_t n, float cap);

float ActScalar(ActKind act, float v);

}  // namespace pagoda::backend
