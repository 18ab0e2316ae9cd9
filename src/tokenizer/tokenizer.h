#pragma once
// Tokenizer: HF tokenizer.json (+ tokenizer_config.json) or a GGUF vocabulary.
// Encode/Decode reproduce HF transformers' fast tokenizers (AutoTokenizer):
// added tokens matched first, normalizer, pre-tokenizer, model, post-processor;
// decode through the decoder chain, then clean_up_tokenization_spaces.
// A loaded Tokenizer is immutable: every const method may be called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/decoder.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"

namespace pagoda::loader {
class GgufFile;
}

namespace pagoda::tokenizer {

// How FromGguf picks the pre-tokenizer of a gpt2-type GGUF vocabulary.
enum class GgufPreTokenizer {
  kTransformers,  // as transformers' GGUF conversion (the golden reference)
  kLlamaCpp,      // from tokenizer.ggml.pre, as llama.cpp (and the original tokenizer.json)
};

class Tokenizer {
 public:
  // dir containing tokenizer.json (+ optional tokenizer_config.json, chat_template.jinja).
  static Result<std::unique_ptr<Tokenizer>> FromDirectory(const std::string& dir);
  // tokenizer_config_json may be empty (then no config is applied).
  static Result<std::unique_ptr<Tokenizer>> FromFile(const std::string& tokenizer_json,
                                                     const std::string& tokenizer_config_json);
  // From parsed JSON; config may be null.
  static Result<std::unique_ptr<Tokenizer>> FromJson(const nlohmann::json& tokenizer,
                                                     const nlohmann::json& config);
  // The vocabulary embedded in a GGUF file (tokenizer.ggml.*), models "gpt2" and "llama".
  // Defined in pagoda_tokenizer_gguf (links pagoda_loader).
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const loader::GgufFile& gguf,
                                                     GgufPreTokenizer mode = GgufPreTokenizer::kTransformers);

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens = true) const;
  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  // Decode into *out (replaced), with buf's strings reused: no allocation once
  // they have the room (the streaming detokenizer's path).
  void DecodeTo(std::span<const int32_t> ids, bool skip_special_tokens, DecodeBuffer* buf, std::string* out) const;

  int32_t vocab_size() const;  // including added tokens
  std::optional<int32_t> TokenToId(std::string_view token) const;
  std::string IdToToken(int32_t id) const;  // raw piece, empty for unknown ids
  const std::string* FindToken(int32_t id) const;  // the same without a copy; null for unknown ids
  bool IsSpecial(int32_t id) const;

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> pad_id() const { return pad_id_; }
  std::string bos_token() const { return bos_token_; }
  std::string eos_token() const { return eos_token_; }
  const std::string& chat_template() const { return chat_template_; }
  bool clean_up_tokenization_spaces() const { return clean_up_tokenization_spaces_; }

 private:
  friend class GgufVocabBuilder;
  Tokenizer() = default;
  Status ApplyConfig(const nlohmann::json& config);
  void ResolveSpecialIds();

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;

  std::string bos_token_, eos_token_, pad_token_, unk_token_;
  std::optional<int32_t> bos_id_, eos_id_, pad_id_;
  std::string chat_template_;
  bool clean_up_tokenization_spaces_ = false;
};

// transformers' clean_up_tokenization: " ." -> "." etc., applied in HF's order.
std::string CleanUpTokenizationSpaces(std::string text);
// The same on *text, building in *scratch (swapped with it).
void CleanUpTokenizationSpacesInPlace(std::string* text, std::string* scratch);

// vLLM's bad_words: the token ids of each word alone and after a space
// (duplicates and empty encodings dropped), for SamplingParams::bad_words_ids.
std::vector<std::vector<int32_t>> BadWordsIds(const Tokenizer& tok, const std::vector<std::string>& words);

}  // namespace pagoda::tokenizer
