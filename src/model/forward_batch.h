#pragma once
// The runner -> model contract: one step's tokens, flattened over sequences,
// with the paged-KV addressing the scheduler decided.

#include <cstdint>
#include <vector>

namespace pagoda::model {

struct ForwardBatch {
  struct Seq {
    int32_t query_start = 0;   // first row in token_ids for this sequence
    int32_t query_len = 0;     // tokens computed this step
    int32_t context_len = 0;   // tokens in the KV cache after this step (computed + new)
    int32_t block_table_start = 0;  // offset into block_tables
    int32_t num_blocks = 0;
  };
  std::vector<int32_t> token_ids;     // [num_tokens]
  std::vector<int32_t> positions;     // [num_tokens]
  std::vector<int64_t> slot_mapping;  // [num_tokens] block_id * block_size + offset
  std::vector<Seq> seqs;
  std::vector<int32_t> block_tables;  // all sequences' block ids, concatenated
  std::vector<int32_t> logits_indices;  // rows whose logits are wanted, in output order

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }

  // Empties the batch but keeps every vector's capacity, so a runner that
  // reuses one ForwardBatch stops allocating once it has seen its largest step.
  void Clear();

  // Appends a sequence whose new tokens are tokens[computed..context_len) of a
  // sequence with the given block table, filling positions and slot_mapping.
  void AddSequence(const std::vector<int32_t>& tokens, int32_t num_computed, int32_t num_new,
                   const std::vector<int32_t>& block_table, int32_t block_size, bool all_logits);
};

}  // namespace pagoda::model
