#include "loader/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const loader::GgufFile& gguf) {
  (void)gguf;
  return Unimplemented("GGUF vocabularies: not yet");
}

}  // namespace pagoda::tokenizer
