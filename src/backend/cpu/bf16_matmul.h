#pragma once
// Internal to the CPU backend: MatmulPrecision::kFast for BF16 weights, with
// AVX512-BF16 dot products (vdpbf16ps). The activations are rounded to bf16
// (round to nearest even) once per MatMul; each instruction multiplies pairs of
// bf16 values exactly and adds them into float32 lanes, so a weight row is read
// as stored, with no widening, at twice the products per instruction of the
// float32 FMA path. Numerics differ from kExact by the activation rounding
// (relative 2^-9 per element), as a model run in bf16 does.
//
// Batch invariance as in matmul.h: every output element is the same sequence of
// vdpbf16ps over k (32 values per step, lane l taking pairs 2l, 2l + 1 of each
// step, a zero-masked tail) then one fixed horizontal sum, whatever m, the tile
// or the thread.

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace pagoda::backend::internal {

// Whether this CPU has the instructions (AVX-512 with BF16).
bool HasBf16DotKernel();

// x[m, k] float32 -> bf16 (round to nearest even), row stride k.
void RoundRowsToBf16(const float* x, int64_t m, int64_t k, uint16_t* out);

// y[:, n0:n1] (row stride w.rows) = xb . w^T for BF16 w; xb from RoundRowsToBf16.
void Bf16DotRange(const uint16_t* xb, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1);

}  // namespace pagoda::backend::internal
