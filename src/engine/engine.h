#pragma once
// Engine: the public, thread-safe API of pagoda. One engine thread owns the
// scheduler, the runner and the KV cache and loops schedule -> execute ->
// update -> output processor. Other threads (HTTP handlers, the CLI) add and
// abort requests through a queue and read each request's own output channel.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/model_runner_output.h"
#include "core/request.h"
#include "loader/model_config.h"
#include "sample/sampling_params.h"

namespace pagoda::tokenizer {
class Tokenizer;
}

namespace pagoda::engine {

struct EngineConfig {
  std::string model;                 // directory or .gguf
  std::string tokenizer;             // directory with tokenizer.json; empty = the model's own (dir or GGUF vocab)
  int threads = 0;                   // kernel threads, 0 = all cores
  int block_size = 16;
  int64_t kv_cache_memory = 0;       // bytes; 0 = a safe share of free RAM
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;             // 0 = the model's max_position_embeddings (capped at 8192)
  bool enable_prefix_caching = true;
  bool log_stats = false;            // periodic engine line on stderr
  bool fast_matmul = false;          // int8-activation VNNI matmuls for Q4_0/Q4_1/Q8_0/int8 weights
  bool pin_threads = false;          // bind the engine thread and each kernel worker to one CPU
  std::string quantization;          // "", "none", "int8" (per output row), "q8_0", "q4_0" or "q4_1": quantize F32/BF16/F16 weights at load
  std::string kv_cache_dtype = "auto";  // "auto" (float32), "float16", "bfloat16" (backend::ParseKvDType)

  Status Validate() const;
};

// One increment of a request's output, as read from its channel. With n > 1
// the increments of the n choices interleave, each tagged with its index.
struct RequestOutput {
  int index = 0;                     // choice index (n > 1)
  std::vector<int32_t> token_ids;    // new tokens in this increment
  std::string text;                  // new final text (detokenized, stop strings cut)
  std::vector<core::SampleLogprobs> logprobs;  // parallel to token_ids when asked
  // prompt_logprobs, on the request's first output: one entry per prompt token
  // after the first (vLLM gives the first token none).
  std::vector<core::SampleLogprobs> prompt_logprobs;
  bool finished = false;            // this choice is finished
  std::optional<core::FinishReason> finish_reason;
  double cumulative_logprob = 0;     // of this choice's tokens so far (when logprobs are computed)
  // vLLM's stop_reason: the stop string or stop token id that ended it.
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token_id;
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;         // so far
  int num_cached_tokens = 0;         // prompt tokens served from the prefix cache
  Status error;                      // non-OK: the request failed (finished is true)
  double time_to_first_token = 0;    // seconds, on the final output

  // Back to a default-constructed value, keeping the vectors' and text's capacity.
  void Clear();
  // Appends a later increment of the same choice: its tokens, text and logprobs
  // follow this one's; its finish state, counts and error replace this one's.
  void Append(const RequestOutput& later);
};

class Engine;

// A request's output channel. Next() blocks until output is available; it
// returns false once every choice's final output has been read. Dropping the handle (or
// Abort()) aborts the request if it is still running. Any one thread.
class RequestHandle {
 public:
  ~RequestHandle();
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;

  uint64_t id() const { return id_; }
  bool Next(RequestOutput* out);
  // Like Next but gives up after timeout_s; returns false on timeout too (check done()).
  bool NextFor(RequestOutput* out, double timeout_s);
  bool done() const;
  void Abort();

  // Outputs of one choice the reader may leave unread before later ones are
  // appended to the newest of them: a reader far behind gets fewer, larger
  // increments (as with vLLM's output collector), and the channel stays at its
  // initial size however far it falls behind.
  static constexpr int kMaxUnreadPerChoice = 8;

 private:
  friend class Engine;
  // Unread outputs, oldest first, in a ring whose slots keep their buffers: Next()
  // swaps the oldest for the reader's spent output (so pass the same one again)
  // and the engine swaps its next one into a free slot, so token vectors and text
  // go round between the two threads instead of being allocated per token.
  struct Channel {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<RequestOutput> ring;
    size_t head = 0;      // oldest unread slot
    size_t count = 0;     // unread outputs
    bool closed = false;  // the final output has been pushed
  };
  struct Inbox;  // the engine's input queue; outlives the engine while handles hold it
  RequestHandle(std::shared_ptr<Inbox> inbox, uint64_t id, std::shared_ptr<Channel> ch)
      : inbox_(std::move(inbox)), id_(id), ch_(std::move(ch)) {}
  std::shared_ptr<Inbox> inbox_;
  uint64_t id_;
  std::shared_ptr<Channel> ch_;
};

struct AddRequestOptions {
  bool detokenize = true;
  std::string cache_salt;
  int truncate_prompt_tokens = 0;  // keep only the last N prompt tokens when > 0
};

// Figures for /metrics and logs; a snapshot taken on the engine thread.
struct EngineStats {
  int num_running = 0;
  int num_waiting = 0;
  double kv_cache_usage = 0;
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  int64_t num_preemptions = 0;
  int64_t prompt_tokens_total = 0;
  int64_t generation_tokens_total = 0;
  int64_t requests_finished_stop = 0;
  int64_t requests_finished_length = 0;
  int64_t requests_finished_abort = 0;
  int64_t requests_failed = 0;
  int64_t num_steps = 0;
  double engine_seconds_busy = 0;   // time inside steps, their detokenization and delivery included
  double forward_seconds = 0;       // of which in the model forward pass
  int num_gpu_blocks = 0;           // KV blocks (vLLM's name; CPU here)
  int kv_blocks_in_use = 0;
  int kv_blocks_in_use_peak = 0;   // highest kv_blocks_in_use seen after a step
  // Per-request latency samples since the last DrainLatencies (seconds).
  struct Latencies {
    std::vector<double> ttft, itl, e2e, queue, prompt_tokens, generation_tokens;
  };
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineConfig& config);
  ~Engine();  // stops the engine thread, aborting what is left

  // Queues a request. Fails (without queuing) for an empty prompt, a prompt
  // longer than max_model_len, invalid sampling params, or a stopped engine.
  Result<std::unique_ptr<RequestHandle>> AddRequest(std::vector<int32_t> prompt_ids, const sample::SamplingParams& params,
                                                    const AddRequestOptions& options = {});
  void Abort(uint64_t request_id);

  EngineStats Stats() const;
  // Per-request latency samples are kept only once RecordLatencies() is called
  // (the server does): an offline run that never drains them would otherwise
  // grow by 8 bytes per generated token. DrainLatencies hands over those since
  // the last call; the engine keeps the vectors' capacity.
  void RecordLatencies();
  EngineStats::Latencies DrainLatencies();
  bool alive() const { return alive_.load(); }
  // Stop accepting requests; wait up to grace_s for in-flight ones, then abort the rest.
  void Shutdown(double grace_s);

  const loader::ModelConfig& model_config() const;
  // generation_config.json (HF directories), or eos/bos from GGUF metadata.
  std::optional<loader::GenerationConfig> generation_config() const;
  const tokenizer::Tokenizer* tokenizer() const;  // null when the model has no tokenizer
  int max_model_len() const;
  int num_kv_blocks() const;
  int block_size() const;
  std::string Describe() const;  // one line: model, blocks, max concurrency

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> alive_{false};
  friend struct Impl;
};

}  // namespace pagoda::engine
