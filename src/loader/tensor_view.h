#pragma once
// A weight tensor as stored in a file: a view into mapped memory, never owning.

#include <cstdint>
#include <string>
#include <vector>

#include "loader/dtype.h"

namespace pagoda::loader {

struct TensorView {
  std::string name;            // Hugging Face name (GGUF names are translated)
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first (HF/PyTorch order)
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string file;            // where it came from, for error messages

  // GGUF stores llama-family q/k projections with rows permuted for interleaved
  // rotary; when > 0, rows must be un-permuted with this many heads.
  int unpermute_heads = 0;
  // GGUF stores Gemma norm weights as (1 + w); this is subtracted back.
  float value_offset = 0.0f;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  std::string ShapeString() const;
};

std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace pagoda::loader
