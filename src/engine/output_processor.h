#pragma once
// OutputProcessor: turns the core's per-request token outputs into what a
// client reads: incrementally detokenized text, stop strings matched across
// token boundaries (text that may still become part of a stop string is held
// back), finish reasons, usage. Engine thread only.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/core_outputs.h"
#include "engine/engine.h"
#include "sample/sampling_params.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::engine {

class RequestStream {
 public:
  RequestStream(const tokenizer::Tokenizer* tok, std::shared_ptr<const sample::SamplingParams> params, int num_prompt_tokens,
                bool detokenize);

  // Processes one core output into *r (cleared first, its buffers reused): the
  // increment for the client. Sets *stop_hit when a stop string ended the
  // request (the engine must abort it).
  void Process(const core::CoreRequestOutput& out, bool* stop_hit, RequestOutput* r);
  bool finished() const { return finished_; }

 private:
  // Appends to *out the text that can be sent now.
  void TakeEmittable(bool final, std::string* out);
  void TrimSentText();
  static constexpr size_t kTrimAt = 256;

  const tokenizer::Tokenizer* tok_;
  std::shared_ptr<const sample::SamplingParams> params_;
  std::unique_ptr<tokenizer::IncrementalDetokenizer> detok_;
  int num_prompt_tokens_;
  int num_output_tokens_ = 0;
  std::string text_;      // the recent final text (after stop handling): what is unsent, and the tail a stop string may end in
  size_t emitted_ = 0;    // bytes of text_ already sent
  size_t max_stop_len_ = 0;
  bool finished_ = false;
};

}  // namespace pagoda::engine
