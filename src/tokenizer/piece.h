#pragma once
// A piece of input text moving through the encode pipeline (HF's Split): text
// not yet tokenized, or an added token already matched.

#include <cstdint>
#include <string>
#include <vector>

namespace pagoda::tokenizer {

struct Piece {
  std::string text;
  int32_t token_id = -1;  // >= 0: an added token, skipped by later stages
  bool at_start = false;  // begins at offset 0 of the original input (Metaspace "first")
};

using Pieces = std::vector<Piece>;

}  // namespace pagoda::tokenizer
