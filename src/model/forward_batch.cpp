#include "model/forward_batch.h"

namespace pagoda::model {

void ForwardBatch::Clear() {
  token_ids.clear();
  positions.clear();
  slot_mapping.clear();
  seqs.clear();
  block_tables.clear();
  logits_indices.clear();
}

void ForwardBatch::AddSequence(const std::vector<int32_t>& tokens, int32_t num_computed, int32_t num_new,
                               const std::vector<int32_t>& block_table, int32_t block_size, bool all_logits) {
  Seq s;
  s.query_start = static_cast<int32_t>(token_ids.size());
  s.query_len = num_new;
  s.context_len = num_computed + num_new;
  s.block_table_start = static_cast<int32_t>(block_tables.size());
  s.num_blocks = static_cast<int32_t>(block_table.size());
  block_tables.insert(block_tables.end(), block_table.begin(), block_table.end());
  for (int32_t i = 0; i < num_new; ++i) {
    const int32_t pos = num_computed + i;
    token_ids.push_back(tokens[pos]);
    positions.push_back(pos);
    slot_mapping.push_back(static_cast<int64_t>(block_table[pos / block_size]) * block_size + pos % block_size);
    if (all_logits) logits_indices.push_back(s.query_start + i);
  }
  if (!all_logits) logits_indices.push_back(s.query_start + num_new - 1);
  seqs.push_back(s);
}

}  // namespace pagoda::model
