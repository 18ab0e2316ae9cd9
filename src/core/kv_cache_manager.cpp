#include "core/kv_cache_manager.h"

#include <algorithm>

#include "common/check.h"

namespace pagoda::core {
namespace {

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

int CheckedNumBlocks(const KvCacheConfig& config) {
  Status st = config.Validate();
  PAGODA_CHECK_MSG(st.ok(), st.message().c_str());
  return config.num_blocks;
}

}  // namespace

Status KvCacheConfig::Validate() const {
  if (num_blocks < 2) return InvalidArgument("num_blocks must be at least 2 (block 0 is the null block), got " + std::to_string(num_blocks));
  if (block_size < 1) return InvalidArgument("block_size must be positive, got " + std::to_string(block_size));
  return Status::Ok();
}

KvCacheManager::KvCacheManager(KvCacheConfig config)
    : hash_fn_(config.hash_fn ? std::move(config.hash_fn) : BlockHashFn(HashBlockTokens)),
      pool_(CheckedNumBlocks(config), config.block_size,
            config.enable_prefix_caching) {}

void KvCacheManager::EnsureHashes(const Request& request, RequestBlocks& state, int num_blocks) {
  const RequestParams& p = request.params();
  ExtendBlockHashes(state.block_hashes, num_blocks, request.all_token_ids(), block_size(), p.lora_id, p.cache_salt,
                    hash_fn_);
}

ComputedBlocks KvCacheManager::GetComputedBlocks(const Request& request) {
  ComputedBlocks result;
  if (!pool_.enable_caching() || request.num_tokens() == 0) return result;
  auto it = requests_.find(request.request_id());
  PAGODA_CHECK_MSG(it == requests_.end() || it->second.blocks.empty(), "prefix lookup for a request with blocks");
  // Hashes are scratch here; AllocateSlots recomputes what it caches.
  RequestBlocks scratch;
  const int max_hit_blocks = (request.num_tokens() - 1) / block_size();
  EnsureHashes(request, scratch, max_hit_blocks);
  const RequestParams& p = request.params();
  std::span<const TokenId> tokens = request.all_token_ids();
  for (int i = 0; i < max_hit_blocks; ++i) {
    KvCacheBlock* parent = i == 0 ? nullptr : result.blocks.back();
    KvCacheBlock* hit =
        pool_.GetCachedBlock(scratch.block_hashes[i], tokens.subspan(static_cast<size_t>(i) * block_size(), block_size()),
                             ExtraKeysForBlock(i, p.lora_id, p.cache_salt), parent);
    if (hit == nullptr) break;
    result.blocks.push_back(hit);
  }
  result.num_computed_tokens = static_cast<int>(result.blocks.size()) * block_size();
  return result;
}

std::optional<SlotAllocation> KvCacheManager::AllocateSlots(const Request& request, int num_new_tokens,
                                                            const ComputedBlocks& computed) {
  SlotAllocation out;
  if (!AllocateSlots(request, num_new_tokens, computed, &out)) return std::nullopt;
  return out;
}

bool KvCacheManager::AllocateSlots(const Request& request, int num_new_tokens, const ComputedBlocks& computed,
                                   SlotAllocation* out_ptr) {
  PAGODA_CHECK(num_new_tokens >= 0);
  SlotAllocation& out = *out_ptr;
  out.new_block_ids.clear();
  out.copy_on_write.reset();
  RequestBlocks& state = requests_[request.request_id()];
  if (state.blocks.empty()) {
    const size_t cap = static_cast<size_t>(CeilDiv(request.token_capacity(), block_size()));
    state.blocks.reserve(cap);
    if (pool_.enable_caching()) state.block_hashes.reserve(cap);
  }
  PAGODA_CHECK_MSG(computed.blocks.empty() || state.blocks.empty(), "prefix hit for a request with blocks");
  const int bs = block_size();
  const int num_computed = request.num_computed_tokens() + computed.num_computed_tokens;
  const int num_tokens_need_slot = num_computed + num_new_tokens;
  PAGODA_CHECK(num_tokens_need_slot <= request.num_tokens());
  const int num_have = static_cast<int>(state.blocks.size() + computed.blocks.size());
  const int num_new_blocks = std::max(0, CeilDiv(num_tokens_need_slot, bs) - num_have);
  // Hit blocks sitting in the free queue stop being free once claimed.
  const int num_evictable_hits =
      static_cast<int>(std::count_if(computed.blocks.begin(), computed.blocks.end(),
                                     [](const KvCacheBlock* b) { return b->ref_cnt == 0; }));
  // The first write into a shared partially filled block needs a private copy.
  const int partial_index = num_computed / bs;
  const bool cow = num_new_tokens > 0 && num_computed % bs != 0 &&
                   partial_index < static_cast<int>(state.blocks.size()) && state.blocks[partial_index]->ref_cnt > 1;
  if (num_new_blocks + num_evictable_hits + (cow ? 1 : 0) > pool_.num_free_blocks()) {
    if (state.blocks.empty()) requests_.erase(request.request_id());
    return false;
  }

  if (!computed.blocks.empty()) {
    pool_.Touch(computed.blocks);
    for (KvCacheBlock* b : computed.blocks) {
      state.blocks.push_back(b);
      out.new_block_ids.push_back(b->block_id);
    }
    state.num_cached_blocks = static_cast<int>(computed.blocks.size());
  }
  if (cow) {
    KvCacheBlock* copy = pool_.GetNewBlocks(1)[0];
    KvCacheBlock* shared = state.blocks[partial_index];
    pool_.FreeBlocks(std::span(&shared, 1));  // still held by the other tables
    state.blocks[partial_index] = copy;
    out.copy_on_write = CopyOnWrite{partial_index, shared->block_id, copy->block_id};
  }
  const size_t first_new = state.blocks.size();
  pool_.GetNewBlocks(num_new_blocks, &state.blocks);
  for (size_t i = first_new; i < state.blocks.size(); ++i) out.new_block_ids.push_back(state.blocks[i]->block_id);
  if (pool_.enable_caching()) {
    // Blocks filled by tokens computed in this step become findable now, so a
    // request scheduled later in the same step can hit them (the runner writes a
    // step's KV before attention reads it).
    const int num_full = num_tokens_need_slot / bs;
    if (num_full > state.num_cached_blocks) {
      EnsureHashes(request, state, num_full);
      pool_.CacheFullBlocks(state.blocks, state.block_hashes, state.num_cached_blocks, num_full,
                            request.all_token_ids(), request.params().lora_id, request.params().cache_salt);
      state.num_cached_blocks = num_full;
    }
  }
  return true;
}

void KvCacheManager::Free(const Request& request) {
  auto it = requests_.find(request.request_id());
  if (it == requests_.end()) return;
  std::vector<KvCacheBlock*>& blocks = it->second.blocks;  // erased below: reversed in place
  std::reverse(blocks.begin(), blocks.end());
  pool_.FreeBlocks(blocks);
  requests_.erase(it);
}

void KvCacheManager::Fork(const Request& parent, const Request& child) {
  PAGODA_CHECK_MSG(requests_.find(child.request_id()) == requests_.end(), "fork into a request that has blocks");
  auto it = requests_.find(parent.request_id());
  if (it == requests_.end()) return;
  const RequestBlocks& from = it->second;
  RequestBlocks to;
  to.blocks = from.blocks;
  to.num_cached_blocks = from.num_cached_blocks;
  // Only hashes of cached (computed, so unchangeable) blocks carry over.
  to.block_hashes.assign(from.block_hashes.begin(),
                         from.block_hashes.begin() + std::min<size_t>(from.block_hashes.size(), from.num_cached_blocks));
  pool_.Touch(to.blocks);
  requests_.emplace(child.request_id(), std::move(to));
}

std::vector<BlockId> KvCacheManager::GetBlockIds(RequestId id) const {
  std::vector<BlockId> ids;
  auto it = requests_.find(id);
  if (it == requests_.end()) return ids;
  ids.reserve(it->second.blocks.size());
  for (const KvCacheBlock* b : it->second.blocks) ids.push_back(b->block_id);
  return ids;
}

std::vector<RequestId> KvCacheManager::GetRequestIds() const {
  std::vector<RequestId> ids;
  ids.reserve(requests_.size());
  for (const auto& [id, state] : requests_) ids.push_back(id);
  return ids;
}

}  // namespace pagoda::core
