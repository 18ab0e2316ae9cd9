#pragma once
// BeamSearch: the scoring of HF transformers' generate(num_beams=k,
// do_sample=False) (its vectorized _beam_search): each step keeps the top
// max(2, 1 + #eos) * k candidates over all beams x tokens by accumulated
// log-probability; candidates that end (eos, or max length) among the top k
// become finished hypotheses scored sum_logprobs / generated_len^length_penalty
// (the k best kept); the best k that do not end run on. Pure logic: the engine
// turns its decisions into forks and aborts of core requests. Engine thread only.

#include <cstdint>
#include <vector>

namespace pagoda::engine {

struct BeamCandidate {
  int32_t token = 0;
  float logprob = 0;  // log-softmax at this step
};

class BeamSearch {
 public:
  BeamSearch(int num_beams, int max_new_tokens, double length_penalty, bool early_stopping, std::vector<int32_t> eos_ids);

  struct Beam {
    std::vector<int32_t> tokens;  // generated so far
    double score = 0;             // accumulated log-probability
  };
  struct Hypothesis {
    std::vector<int32_t> tokens;  // generated, including the final eos if any
    double score = 0;             // length-normalized
    bool ended_by_eos = false;
  };
  // What to run next: new beam i continues running beam parent[i] with token[i].
  struct Step {
    std::vector<int> parent;
    std::vector<int32_t> token;
    bool done = false;
  };

  // The running beams (one at the start: the prompt).
  const std::vector<Beam>& running() const { return running_; }
  int beams_to_keep() const { return beams_to_keep_; }

  // top[b]: at least beams_to_keep() best candidates of running beam b, best first.
  Step Advance(const std::vector<std::vector<BeamCandidate>>& top);

  // Finished hypotheses, best first (call once done).
  const std::vector<Hypothesis>& finished() const { return finished_; }

 private:
  int k_;
  int max_new_tokens_;
  double length_penalty_;
  bool early_stopping_;
  std::vector<int32_t> eos_;
  int beams_to_keep_;
  std::vector<Beam> running_;
  std::vector<Hypothesis> finished_;
  bool improvement_possible_ = true;
};

}  // namespace pagoda::engine
