#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "common/logging.h"
#include "common/thread_pool.h"
#include "core/scheduler.h"
#include "engine/beam_search.h"
#include "engine/output_processor.h"
#include "loader/weights.h"
#include "model/model.h"
#include "runner/model_runner.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::engine {

namespace {

int64_t MemAvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

Status EngineConfig::Validate() const {
  if (model.empty()) return InvalidArgument("model: no path given");
  if (block_size < 1 || block_size > 1024) return InvalidArgument("block_size must be in [1, 1024]");
  if (max_num_seqs < 1) return InvalidArgument("max_num_seqs must be at least 1");
  if (max_num_batched_tokens < 1) return InvalidArgument("max_num_batched_tokens must be at least 1");
  if (max_model_len < 0) return InvalidArgument("max_model_len must be non-negative");
  if (kv_cache_memory < 0) return InvalidArgument("kv_cache_memory must be non-negative");
  if (auto t = backend::ParseKvDType(kv_cache_dtype); !t.ok()) return t.status();
  return Status::Ok();
}

void RequestOutput::Clear() {
  index = 0;
  token_ids.clear();
  text.clear();
  logprobs.clear();
  prompt_logprobs.clear();
  finished = false;
  finish_reason.reset();
  cumulative_logprob = 0;
  stop_string.reset();
  stop_token_id.reset();
  num_prompt_tokens = num_output_tokens = num_cached_tokens = 0;
  error = Status::Ok();
  time_to_first_token = 0;
}

void RequestOutput::Append(const RequestOutput& later) {
  token_ids.insert(token_ids.end(), later.token_ids.begin(), later.token_ids.end());
  text += later.text;
  logprobs.insert(logprobs.end(), later.logprobs.begin(), later.logprobs.end());
  if (prompt_logprobs.empty()) prompt_logprobs = later.prompt_logprobs;
  finished = later.finished;
  finish_reason = later.finish_reason;
  stop_string = later.stop_string;
  stop_token_id = later.stop_token_id;
  cumulative_logprob = later.cumulative_logprob;
  num_prompt_tokens = later.num_prompt_tokens;
  num_output_tokens = later.num_output_tokens;
  num_cached_tokens = std::max(num_cached_tokens, later.num_cached_tokens);
  if (!later.error.ok()) error = later.error;
  time_to_first_token = std::max(time_to_first_token, later.time_to_first_token);
}

// The input side shared by the engine and every handle.
struct RequestHandle::Inbox {
  struct Add {
    std::unique_ptr<core::Request> request;
    std::shared_ptr<RequestHandle::Channel> channel;
    std::shared_ptr<const sample::SamplingParams> params;  // what the engine runs with
    bool detokenize = true;
    int n = 1;                 // choices returned
    int n_total = 1;           // sequences generated (best_of)
    bool strip_logprobs = false;  // logprobs computed for best_of only
    bool beam_search = false;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Add> adds;
  std::vector<uint64_t> aborts;
  bool stop = false;
  bool accepting = true;

  void PushAbort(uint64_t id) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
      aborts.push_back(id);
    }
    cv.notify_one();
  }
};

RequestHandle::~RequestHandle() {
  std::lock_guard<std::mutex> lock(ch_->mu);
  if (!ch_->closed) inbox_->PushAbort(id_);
}

bool RequestHandle::Next(RequestOutput* out) { return NextFor(out, -1); }

bool RequestHandle::NextFor(RequestOutput* out, double timeout_s) {
  std::unique_lock<std::mutex> lock(ch_->mu);
  Channel& ch = *ch_;
  auto ready = [&] { return ch.count > 0 || ch.closed; };
  if (timeout_s < 0) ch.cv.wait(lock, ready);
  else if (!ch.cv.wait_for(lock, std::chrono::duration<double>(timeout_s), ready)) return false;
  if (ch.count == 0) return false;  // closed and drained
  std::swap(*out, ch.ring[ch.head]);  // the reader's spent output takes the slot
  ch.head = (ch.head + 1) % ch.ring.size();
  --ch.count;
  return true;
}

bool RequestHandle::done() const {
  std::lock_guard<std::mutex> lock(ch_->mu);
  return ch_->closed && ch_->count == 0;
}

void RequestHandle::Abort() {
  bool closed;
  {
    std::lock_guard<std::mutex> lock(ch_->mu);
    closed = ch_->closed;
  }
  if (!closed) inbox_->PushAbort(id_);
}

struct Engine::Impl {
  EngineConfig config;
  std::unique_ptr<loader::ModelFiles> files;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<core::Scheduler> scheduler;
  std::unique_ptr<runner::ModelRunner> runner;
  std::vector<int32_t> eos_ids;
  int max_model_len = 0;
  int num_blocks = 0;
  std::shared_ptr<RequestHandle::Inbox> inbox = std::make_shared<RequestHandle::Inbox>();
  std::atomic<uint64_t> next_id{1};
  std::thread thread;

  // One client request: n choices (best_of sequences) sharing one channel.
  struct Group {
    std::shared_ptr<RequestHandle::Channel> channel;
    std::shared_ptr<const sample::SamplingParams> params;
    bool detokenize = true;
    int n = 1, n_total = 1;
    bool strip_logprobs = false;
    int remaining = 1;                   // choices not finished
    std::vector<uint64_t> members;       // core request ids
    std::vector<RequestOutput> buffered; // best_of: whole choices, ranked at the end
    // Beam search: the running beams' core requests, in BeamSearch::running() order,
    // and the candidates each has reported this step.
    std::unique_ptr<BeamSearch> beam;
    std::vector<uint64_t> beam_ids;
    std::unordered_map<uint64_t, std::vector<BeamCandidate>> beam_pending;
    int num_prompt_tokens = 0;
  };
  struct Live {
    std::shared_ptr<Group> group;
    int index = 0;
    std::unique_ptr<RequestStream> stream;
    RequestOutput out;  // this step's increment; after Push, a spent one to refill
    bool stopped_by_string = false;
    double last_token_time = 0;
    double cumulative_logprob = 0;
  };
  std::unordered_map<uint64_t, Live> live;                      // engine thread only
  std::unordered_map<uint64_t, std::shared_ptr<Group>> groups;  // by client request id
  std::unordered_map<core::RequestId, std::vector<core::SampleLogprobs>> pending_prompt_logprobs;  // this step's
  // Deliver's lists, kept from step to step with their capacity.
  std::vector<uint64_t> ready;
  std::vector<const core::CoreRequestOutput*> beam_reports;

  mutable std::mutex stats_mu;
  EngineStats stats;
  EngineStats::Latencies latencies;
  bool record_latencies = false;  // under stats_mu
  double last_log = 0;
  int64_t last_log_tokens = 0;

  // Hands out to the group's reader: swapped into a free slot of the ring (out
  // then holds a spent output whose buffers the next increment reuses), or, when
  // its choice already has kMaxUnreadPerChoice outputs unread, appended to the
  // newest of them. The ring is sized for that at AddRequest and grows only past it.
  void Push(Group& g, RequestOutput& out, bool close) {
    RequestHandle::Channel& ch = *g.channel;
    {
      std::lock_guard<std::mutex> lock(ch.mu);
      RequestOutput* newest = nullptr;
      int unread = 0;
      for (size_t k = 0; k < ch.count; ++k) {
        RequestOutput& o = ch.ring[(ch.head + k) % ch.ring.size()];
        if (o.index == out.index) ++unread, newest = &o;
      }
      if (unread >= RequestHandle::kMaxUnreadPerChoice && !newest->finished) {
        newest->Append(out);
      } else {
        if (ch.count == ch.ring.size()) {
          std::vector<RequestOutput> bigger(std::max<size_t>(2, 2 * ch.ring.size()));
          for (size_t k = 0; k < ch.count; ++k) std::swap(bigger[k], ch.ring[(ch.head + k) % ch.ring.size()]);
          ch.ring.swap(bigger);
          ch.head = 0;
        }
        std::swap(ch.ring[(ch.head + ch.count) % ch.ring.size()], out);
        ++ch.count;
      }
      if (close) ch.closed = true;
    }
    ch.cv.notify_all();
  }

  void CloseWithError(Group& g, const Status& st) {
    RequestOutput o;
    o.finished = true;
    o.finish_reason = core::FinishReason::kAbort;
    o.error = st;
    Push(g, o, true);
  }

  void FailAll(const Status& st) {
    for (auto& [id, l] : live) (void)scheduler->AbortRequest(core::RequestId(id));
    for (auto& [gid, g] : groups) CloseWithError(*g, st);
    live.clear();
    groups.clear();
  }

  void DrainInbox(bool* stop) {
    std::vector<RequestHandle::Inbox::Add> adds;
    std::vector<uint64_t> aborts;
    {
      std::unique_lock<std::mutex> lock(inbox->mu);
      if (inbox->adds.empty() && inbox->aborts.empty() && !inbox->stop && !scheduler->HasWork())
        inbox->cv.wait(lock, [&] { return !inbox->adds.empty() || !inbox->aborts.empty() || inbox->stop; });
      adds.swap(inbox->adds);
      aborts.swap(inbox->aborts);
      *stop = inbox->stop;
    }
    for (auto& a : adds) {
      const uint64_t id = a.request->request_id().value;
      auto g = std::make_shared<Group>();
      g->channel = a.channel;
      g->params = a.params;
      g->detokenize = a.detokenize;
      g->n = a.n;
      g->n_total = a.n_total;
      g->strip_logprobs = a.strip_logprobs;
      g->remaining = a.n_total;
      g->members.push_back(id);
      g->num_prompt_tokens = a.request->num_prompt_tokens();
      if (a.beam_search) {
        const auto& p = *a.params;
        g->beam = std::make_unique<BeamSearch>(a.n_total, p.max_tokens.value_or(max_model_len) - 1, p.length_penalty, p.early_stopping,
                                               eos_ids);
        g->beam_ids.push_back(id);
        g->remaining = 1;
      }
      Live l;
      l.group = g;
      l.stream = std::make_unique<RequestStream>(tok.get(), a.params, a.request->num_prompt_tokens(), a.detokenize);
      Status st = scheduler->AddRequest(std::move(a.request));
      if (!st.ok()) {
        CloseWithError(*g, st);
        continue;
      }
      live.emplace(id, std::move(l));
      groups.emplace(id, std::move(g));
    }
    for (uint64_t gid : aborts) {
      auto it = groups.find(gid);
      if (it == groups.end()) continue;
      std::shared_ptr<Group> g = it->second;
      for (uint64_t m : g->members) (void)scheduler->AbortRequest(core::RequestId(m));
      if (g->beam) {  // beams report nothing once aborted: close the group here
        for (uint64_t m : g->members) live.erase(m);
        RequestOutput o;
        o.finished = true;
        o.finish_reason = core::FinishReason::kAbort;
        Push(*g, o, true);
        groups.erase(it);
      }
    }
  }

  bool IsStopToken(const sample::SamplingParams& p, int32_t t) const {
    if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), t) != p.stop_token_ids.end()) return true;
    return !p.ignore_eos && std::find(eos_ids.begin(), eos_ids.end(), t) != eos_ids.end();
  }

  // After a fan-out request's first sample: fork the other choices from it
  // (sharing its blocks), or, when it already finished, finish them too.
  void ApplyFanouts(std::vector<runner::ModelRunner::Fanout> fanouts, core::CoreOutputs& outs) {
    for (auto& f : fanouts) {
      auto it = live.find(f.request_id.value);
      if (it == live.end()) continue;
      std::shared_ptr<Group> g = it->second.group;
      it->second.index = f.parent_index;
      const core::Request* parent = scheduler->GetRequest(f.request_id);
      const bool parent_alive = parent != nullptr;
      for (int c = 0; c < static_cast<int>(f.draws.size()); ++c) {
        if (c == f.parent_index) continue;
        const uint64_t child = next_id.fetch_add(1);
        const sample::SampleResult& d = f.draws[c];
        core::CoreRequestOutput first;
        first.request_id = core::RequestId(child);
        first.new_token_ids.push_back(d.token);
        if (g->params->logprobs) first.new_logprobs.push_back(runner::ToLogprobs(d));
        Live l;
        l.group = g;
        l.index = c;
        const int prompt_len = parent ? parent->num_prompt_tokens() : 0;
        l.stream = std::make_unique<RequestStream>(tok.get(), g->params, prompt_len, g->detokenize);
        Status st = parent_alive ? scheduler->ForkRequest(f.request_id, core::RequestId(child), d.token)
                                 : FailedPrecondition("parent finished");
        if (parent_alive && st.ok()) {
          runner->SetSampleIndex(core::RequestId(child), static_cast<uint32_t>(c));
        } else {
          // The first token ended every choice (max_tokens 1, or all draws stop): finish here.
          first.finish_reason = IsStopToken(*g->params, d.token) ? core::FinishReason::kStop : core::FinishReason::kLength;
          if (first.finish_reason == core::FinishReason::kStop) first.stop_token = d.token;
          if (parent_alive && !st.ok()) PAGODA_LOG(Warning) << "fork failed: " << st.message();
        }
        g->members.push_back(child);
        live.emplace(child, std::move(l));
        outs.outputs.push_back(std::move(first));
      }
    }
  }

  // best_of: when every sequence is done, the n with the highest cumulative logprob.
  void EmitBestOf(Group& g) {
    std::stable_sort(g.buffered.begin(), g.buffered.end(),
                     [](const RequestOutput& a, const RequestOutput& b) { return a.cumulative_logprob > b.cumulative_logprob; });
    for (int i = 0; i < g.n && i < static_cast<int>(g.buffered.size()); ++i) {
      RequestOutput o = std::move(g.buffered[i]);
      o.index = i;
      Push(g, o, i + 1 == g.n);
    }
  }

  void EndBeamGroup(Group& g, const Status& error) {
    for (uint64_t id : g.beam_ids) {
      (void)scheduler->AbortRequest(core::RequestId(id));
      live.erase(id);
    }
    UpdateStats(0, 0);  // the freed beams show before the client sees the result
    if (!error.ok()) {
      CloseWithError(g, error);
    } else {
      const auto& hyps = g.beam->finished();
      const int n = std::min<int>(g.n, static_cast<int>(hyps.size()));
      for (int i = 0; i < n; ++i) {
        RequestOutput o;
        o.index = i;
        o.token_ids = hyps[i].tokens;
        if (g.detokenize && tok) o.text = tok->Decode(hyps[i].tokens, g.params->skip_special_tokens);
        o.finished = true;
        o.finish_reason = hyps[i].ended_by_eos ? core::FinishReason::kStop : core::FinishReason::kLength;
        if (hyps[i].ended_by_eos) o.stop_token_id = hyps[i].tokens.back();
        o.cumulative_logprob = hyps[i].score;
        o.num_prompt_tokens = g.num_prompt_tokens;
        o.num_output_tokens = static_cast<int>(hyps[i].tokens.size());
        Push(g, o, i + 1 == n);
      }
      if (n == 0) CloseWithError(g, Internal("beam search produced no hypothesis"));
    }
    g.beam_ids.clear();
    groups.erase(g.members.front());
  }

  // A beam's step output: its top candidates. When every running beam of the group
  // has reported, advance the search, fork the survivors and drop the old beams.
  void HandleBeamReport(const core::CoreRequestOutput& o) {
    auto it = live.find(o.request_id.value);
    if (it == live.end()) return;
    std::shared_ptr<Group> g = it->second.group;
    if (o.finish_reason == core::FinishReason::kAbort) return;  // our own abort of an old beam, or the client's
    if (o.new_logprobs.empty() || g->beam_pending.count(o.request_id.value)) {
      EndBeamGroup(*g, Internal("beam search lost step with its beams (a beam was preempted or stopped); retry with more KV cache"));
      return;
    }
    std::vector<BeamCandidate> cands;
    const core::SampleLogprobs& lp = o.new_logprobs[0];
    for (size_t i = 1; i < lp.token_ids.size(); ++i) cands.push_back({lp.token_ids[i], lp.logprobs[i]});
    g->beam_pending[o.request_id.value] = std::move(cands);
    if (g->beam_pending.size() < g->beam_ids.size()) return;
    std::vector<std::vector<BeamCandidate>> top;
    for (uint64_t id : g->beam_ids) top.push_back(std::move(g->beam_pending[id]));
    g->beam_pending.clear();
    BeamSearch::Step step = g->beam->Advance(top);
    if (step.done) {
      EndBeamGroup(*g, Status::Ok());
      return;
    }
    std::vector<uint64_t> next;
    for (size_t i = 0; i < step.parent.size(); ++i) {
      const uint64_t child = next_id.fetch_add(1);
      Status st = scheduler->ForkRequest(core::RequestId(g->beam_ids[step.parent[i]]), core::RequestId(child), step.token[i]);
      if (!st.ok()) {
        for (uint64_t c : next) {
          (void)scheduler->AbortRequest(core::RequestId(c));
          live.erase(c);
        }
        EndBeamGroup(*g, st.WithContext("beam search"));
        return;
      }
      Live l;
      l.group = g;
      live.emplace(child, std::move(l));
      g->members.push_back(child);
      next.push_back(child);
    }
    for (uint64_t old : g->beam_ids) {
      (void)scheduler->AbortRequest(core::RequestId(old));
      live.erase(old);
    }
    g->beam_ids = std::move(next);
  }

  // Processes the step's outputs; stop-string hits are aborted in the core (freeing
  // their blocks) and the stats refreshed before any client sees a final output.
  void Deliver(const core::CoreOutputs& outs, double busy, double forward) {
    const double now = Now();
    ready.clear();
    beam_reports.clear();
    for (const core::CoreRequestOutput& o : outs.outputs) {
      auto it = live.find(o.request_id.value);
      if (it == live.end()) continue;
      Live& l = it->second;
      if (l.stopped_by_string) {  // the abort that follows a stop string: already final
        live.erase(it);
        continue;
      }
      if (l.group->beam) {
        beam_reports.push_back(&o);
        continue;
      }
      bool stop_hit = false;
      RequestOutput& r = l.out;
      l.stream->Process(o, &stop_hit, &r);
      r.index = l.index;
      if (auto pl = pending_prompt_logprobs.find(o.request_id); pl != pending_prompt_logprobs.end()) {
        r.prompt_logprobs = std::move(pl->second);
        pending_prompt_logprobs.erase(pl);
      }
      for (const auto& lp : r.logprobs)
        if (!lp.logprobs.empty()) l.cumulative_logprob += lp.logprobs[0];
      r.cumulative_logprob = l.cumulative_logprob;
      {
        std::lock_guard<std::mutex> lock(stats_mu);
        const bool rec = record_latencies;
        if (rec && !o.new_token_ids.empty() && l.last_token_time > 0) latencies.itl.push_back(now - l.last_token_time);
        if (r.finished) {
          const auto& ts = o.timestamps;
          if (ts.first_token) {
            if (rec) latencies.ttft.push_back(*ts.first_token - ts.arrival);
            r.time_to_first_token = *ts.first_token - ts.arrival;
          }
          if (rec) {
            if (ts.arrival > 0) latencies.e2e.push_back(now - ts.arrival);
            if (ts.first_scheduled) latencies.queue.push_back(*ts.first_scheduled - ts.arrival);
            latencies.prompt_tokens.push_back(r.num_prompt_tokens);
            latencies.generation_tokens.push_back(r.num_output_tokens);
          }
          if (r.finish_reason == core::FinishReason::kStop) ++stats.requests_finished_stop;
          else if (r.finish_reason == core::FinishReason::kLength) ++stats.requests_finished_length;
          else ++stats.requests_finished_abort;
        }
      }
      if (!o.new_token_ids.empty()) l.last_token_time = now;
      if (stop_hit) {
        l.stopped_by_string = true;
        (void)scheduler->AbortRequest(o.request_id);
      }
      ready.push_back(o.request_id.value);
    }
    for (const core::CoreRequestOutput* o : beam_reports) HandleBeamReport(*o);
    UpdateStats(busy, forward);
    for (uint64_t id : ready) {
      auto it = live.find(id);
      RequestOutput& r = it->second.out;
      std::shared_ptr<Group> g = it->second.group;
      const bool fin = r.finished;
      if (g->strip_logprobs) r.logprobs.clear();
      if (g->n_total > g->n) {
        // best_of: accumulate each sequence whole; nothing streams.
        while (static_cast<int>(g->buffered.size()) <= r.index) g->buffered.emplace_back();
        g->buffered[r.index].Append(r);
      }
      if (fin) --g->remaining;
      const bool last = fin && g->remaining == 0;
      if (g->n_total > g->n) {
        if (last) EmitBestOf(*g);
      } else {
        Push(*g, r, last);
      }
      if (fin && !it->second.stopped_by_string) live.erase(it);
      if (last) groups.erase(g->members.front());
    }
  }

  void UpdateStats(double busy, double forward) {
    core::SchedulerStats s = scheduler->stats();
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.num_running = s.num_running;
    stats.num_waiting = s.num_waiting;
    stats.kv_cache_usage = s.kv_cache_usage;
    stats.prefix_cache_queries = s.prefix_cache_queries;
    stats.prefix_cache_hits = s.prefix_cache_hits;
    stats.num_preemptions = s.num_preemptions;
    stats.prompt_tokens_total = s.num_prompt_tokens;
    stats.generation_tokens_total = s.num_generation_tokens;
    stats.num_steps = s.num_steps;
    stats.engine_seconds_busy += busy;
    stats.forward_seconds += forward;
    stats.num_gpu_blocks = num_blocks;
    stats.kv_blocks_in_use = static_cast<int>(s.kv_cache_usage * (num_blocks - 1) + 0.5);
    stats.kv_blocks_in_use_peak = std::max(stats.kv_blocks_in_use_peak, stats.kv_blocks_in_use);
  }

  void MaybeLog() {
    if (!config.log_stats) return;
    const double now = Now();
    if (now - last_log < 5.0) return;
    EngineStats s;
    {
      std::lock_guard<std::mutex> lock(stats_mu);
      s = stats;
    }
    const double tps = last_log > 0 ? (s.generation_tokens_total - last_log_tokens) / (now - last_log) : 0;
    PAGODA_LOG(Info) << "engine: running " << s.num_running << ", waiting " << s.num_waiting << ", KV usage "
                     << static_cast<int>(s.kv_cache_usage * 1000) / 10.0 << "%, prefix hit rate "
                     << (s.prefix_cache_queries ? 100.0 * s.prefix_cache_hits / s.prefix_cache_queries : 0.0) << "%, generation "
                     << static_cast<int>(tps) << " tok/s";
    last_log = now;
    last_log_tokens = s.generation_tokens_total;
  }

  void Loop(Engine* engine) {
    if (pool->pinned() && !pool->PinCallingThread()) PAGODA_LOG(Warning) << "could not bind the engine thread to a CPU";
    bool stop = false;
    // Reused from step to step: the scheduler and the runner keep their vectors' capacity.
    core::SchedulerOutput so;
    core::ModelRunnerOutput ro;
    core::CoreOutputs outs;
    while (true) {
      DrainInbox(&stop);
      if (stop) break;
      const double t0 = Now();
      scheduler->Schedule(&so);
      double forward = 0;
      // Execute resizes ro.samples, keeping each entry's vectors; clearing it here
      // would free them and cost an allocation per sequence per step.
      if (so.empty()) ro.samples.clear();
      if (!so.empty()) {
        Status st = runner->Execute(so, &ro);
        if (!st.ok()) {
          PAGODA_LOG(Error) << "engine step failed: " << st.ToString();
          {
            std::lock_guard<std::mutex> lock(stats_mu);
            stats.requests_failed += static_cast<int64_t>(live.size());
          }
          FailAll(st.WithContext("engine step failed"));
          // The runner's persistent batch no longer matches; start it afresh.
          continue;
        }
        forward = runner->last_forward_seconds();
      }
      scheduler->UpdateFromOutput(so, ro, &outs);
      ApplyFanouts(runner->TakeFanouts(), outs);
      pending_prompt_logprobs = runner->TakePromptLogprobs();
      const double t_deliver = Now();
      Deliver(outs, so.empty() ? 0 : t_deliver - t0, forward);
      if (!so.empty()) {  // detokenization and delivery are step time too
        std::lock_guard<std::mutex> lock(stats_mu);
        stats.engine_seconds_busy += Now() - t_deliver;
      }
      MaybeLog();
    }
    // Shutting down: whatever is left is aborted.
    for (auto& [gid, g] : groups) {
      RequestOutput o;
      o.finished = true;
      o.finish_reason = core::FinishReason::kAbort;
      Push(*g, o, true);
    }
    groups.clear();
    live.clear();
    engine->alive_.store(false);
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Shutdown(0); }

Result<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config) {
  PAGODA_RETURN_IF_ERROR(config.Validate());
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  PAGODA_ASSIGN_OR_RETURN(impl->files, loader::ModelFiles::Open(config.model));
  PAGODA_ASSIGN_OR_RETURN(model::LoadOptions lo, model::LoadOptions::FromFlags(config.fast_matmul, config.quantization));
  PAGODA_ASSIGN_OR_RETURN(impl->model, model::Model::Load(*impl->files, lo));
  const loader::ModelConfig& mc = impl->model->config();

  // Tokenizer: an explicit directory, the model directory, or the GGUF vocabulary.
  if (!config.tokenizer.empty()) {
    PAGODA_ASSIGN_OR_RETURN(impl->tok, tokenizer::Tokenizer::FromDirectory(config.tokenizer));
  } else if (impl->files->is_gguf()) {
    auto t = tokenizer::Tokenizer::FromGguf(*impl->files->gguf());
    if (t.ok()) impl->tok = std::move(*t);
    else PAGODA_LOG(Warning) << "no tokenizer from the GGUF vocabulary: " << t.status().message();
  } else if (loader::FileExists(config.model + "/tokenizer.json")) {
    PAGODA_ASSIGN_OR_RETURN(impl->tok, tokenizer::Tokenizer::FromDirectory(config.model));
  }

  // Stop ids: generation_config.json's eos list, else config.json's, plus the tokenizer's eos.
  std::vector<int64_t> eos = mc.eos_token_ids;
  if (impl->files->generation_config() && !impl->files->generation_config()->eos_token_ids.empty())
    eos = impl->files->generation_config()->eos_token_ids;
  if (impl->tok && impl->tok->eos_id() && std::find(eos.begin(), eos.end(), *impl->tok->eos_id()) == eos.end())
    eos.push_back(*impl->tok->eos_id());
  for (int64_t e : eos)
    if (e >= 0 && e < mc.vocab_size) impl->eos_ids.push_back(static_cast<int32_t>(e));

  impl->max_model_len = config.max_model_len > 0 ? config.max_model_len
                                                 : static_cast<int>(std::min<int64_t>(mc.max_position_embeddings, 8192));
  if (mc.learned_positions && impl->max_model_len > mc.max_position_embeddings)
    return InvalidArgument("max_model_len " + std::to_string(impl->max_model_len) + " exceeds the model's learned positions (" +
                           std::to_string(mc.max_position_embeddings) + ")");

  // KV cache sizing.
  PAGODA_ASSIGN_OR_RETURN(const backend::KvDType kv_dtype, backend::ParseKvDType(config.kv_cache_dtype));
  const size_t per_block = backend::KvCache::BytesPerBlock(mc.num_layers, config.block_size, mc.num_kv_heads, mc.head_dim, kv_dtype);
  int64_t budget = config.kv_cache_memory;
  if (budget == 0) budget = std::min<int64_t>(MemAvailableBytes() * 4 / 10, int64_t{4} << 30);
  const int64_t blocks = budget / static_cast<int64_t>(per_block);
  const int64_t need = (impl->max_model_len + config.block_size - 1) / config.block_size + 1;
  if (blocks < need)
    return ResourceExhausted("KV cache of " + std::to_string(budget) + " bytes holds " + std::to_string(blocks) + " blocks of " +
                             std::to_string(config.block_size) + " tokens (" + std::to_string(per_block) +
                             " bytes each), but one max_model_len=" + std::to_string(impl->max_model_len) + " request needs " +
                             std::to_string(need) + "; raise --kv-cache-memory or lower --max-model-len");
  impl->num_blocks = static_cast<int>(std::min<int64_t>(blocks, 1 << 30));

  core::SchedulerConfig sc;
  sc.max_num_seqs = config.max_num_seqs;
  sc.max_num_batched_tokens = std::max(config.max_num_batched_tokens, 1);
  sc.max_model_len = impl->max_model_len;
  core::KvCacheConfig kc;
  kc.num_blocks = impl->num_blocks;
  kc.block_size = config.block_size;
  kc.enable_prefix_caching = config.enable_prefix_caching;
  PAGODA_ASSIGN_OR_RETURN(impl->scheduler, core::Scheduler::Create(sc, kc));

  impl->pool = std::make_unique<ThreadPool>(config.threads, config.pin_threads);
  runner::RunnerConfig rc;
  rc.block_size = config.block_size;
  rc.num_blocks = impl->num_blocks;
  rc.eos_token_ids = impl->eos_ids;
  rc.max_model_len = impl->max_model_len;
  rc.kv_dtype = kv_dtype;
  impl->runner = std::make_unique<runner::ModelRunner>(*impl->model, rc, *impl->pool);

  auto engine = std::unique_ptr<Engine>(new Engine(std::move(impl)));
  engine->alive_.store(true);
  Engine* e = engine.get();
  engine->impl_->thread = std::thread([e] { e->impl_->Loop(e); });
  return engine;
}

Result<std::unique_ptr<RequestHandle>> Engine::AddRequest(std::vector<int32_t> prompt_ids, const sample::SamplingParams& params,
                                                          const AddRequestOptions& options) {
  Impl& im = *impl_;
  const loader::ModelConfig& mc = im.model->config();
  if (options.truncate_prompt_tokens > 0 && static_cast<int>(prompt_ids.size()) > options.truncate_prompt_tokens)
    prompt_ids.erase(prompt_ids.begin(), prompt_ids.end() - options.truncate_prompt_tokens);
  if (prompt_ids.empty()) return InvalidArgument("prompt is empty");
  for (int32_t t : prompt_ids)
    if (t < 0 || t >= mc.vocab_size)
      return InvalidArgument("prompt token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(mc.vocab_size) + ")");
  if (static_cast<int>(prompt_ids.size()) >= im.max_model_len)
    return InvalidArgument("prompt has " + std::to_string(prompt_ids.size()) + " tokens, but max_model_len is " +
                           std::to_string(im.max_model_len) + " (prompt plus at least one output token must fit)");
  PAGODA_RETURN_IF_ERROR(params.Validate(mc.vocab_size));
  if (params.prompt_logprobs && params.use_beam_search) return Unimplemented("prompt_logprobs with use_beam_search is not supported");
  if (params.max_tokens && static_cast<int>(prompt_ids.size()) + *params.max_tokens > im.max_model_len) {
    // vLLM caps at max_model_len rather than refusing; the core does the same.
  }

  const uint64_t id = im.next_id.fetch_add(1);
  core::RequestParams rp;
  rp.max_tokens = params.max_tokens;
  rp.min_tokens = params.min_tokens;
  rp.ignore_eos = params.ignore_eos;
  rp.eos_token_ids = im.eos_ids;
  rp.stop_token_ids = params.stop_token_ids;
  rp.cache_salt = options.cache_salt;
  // Prompt logprobs need every prompt position computed: keep this request out of
  // the prefix cache (as vLLM does) with a salt of its own.
  if (params.prompt_logprobs) rp.cache_salt += "\x1fprompt_logprobs:" + std::to_string(id);
  const int n_total = std::max(params.n, params.best_of.value_or(params.n));
  sample::SamplingParams run = params;
  bool strip = false;
  if (params.use_beam_search) {
    // Each beam decodes greedily and reports its top candidates; the engine
    // owns eos and length (HF semantics), so the core must not stop a beam.
    if (params.max_tokens.value_or(0) < 1) return InvalidArgument("use_beam_search needs max_tokens");
    const int keep = std::max(2, 1 + static_cast<int>(im.eos_ids.size())) * n_total;
    run.temperature = 0;
    run.logprobs = keep;
    run.ignore_eos = true;
    run.stop.clear();
    run.stop_token_ids.clear();
    run.max_tokens = *params.max_tokens + 1;
    run.n = 1;
    run.best_of.reset();
    rp.max_tokens = run.max_tokens;
    rp.ignore_eos = true;
    rp.stop_token_ids.clear();
    rp.min_tokens = 0;
  } else if (n_total > params.n && !run.logprobs) {  // best_of ranks by cumulative logprob
    run.logprobs = 0;
    strip = true;
  }
  auto sp = std::make_shared<const sample::SamplingParams>(run);
  auto request = std::make_unique<core::Request>(core::RequestId(id), std::move(prompt_ids), rp, sp);
  auto channel = std::make_shared<RequestHandle::Channel>();
  channel->ring.resize(static_cast<size_t>(RequestHandle::kMaxUnreadPerChoice * std::max(1, params.n)));
  {
    std::lock_guard<std::mutex> lock(im.inbox->mu);
    if (im.inbox->stop || !im.inbox->accepting) return FailedPrecondition("the engine is shutting down");
    RequestHandle::Inbox::Add add;
    add.request = std::move(request);
    add.channel = channel;
    add.params = sp;
    add.detokenize = options.detokenize;
    add.n = params.n;
    add.n_total = n_total;
    add.strip_logprobs = strip;
    add.beam_search = params.use_beam_search;
    im.inbox->adds.push_back(std::move(add));
  }
  im.inbox->cv.notify_one();
  return std::unique_ptr<RequestHandle>(new RequestHandle(im.inbox, id, channel));
}

void Engine::Abort(uint64_t request_id) { impl_->inbox->PushAbort(request_id); }

EngineStats Engine::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

void Engine::RecordLatencies() {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  impl_->record_latencies = true;
}

EngineStats::Latencies Engine::DrainLatencies() {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  EngineStats::Latencies& l = impl_->latencies;
  EngineStats::Latencies out = l;  // a copy: the engine's vectors keep their capacity
  for (std::vector<double>* v : {&l.ttft, &l.itl, &l.e2e, &l.queue, &l.prompt_tokens, &l.generation_tokens}) v->clear();
  return out;
}

void Engine::Shutdown(double grace_s) {
  Impl& im = *impl_;
  {
    std::lock_guard<std::mutex> lock(im.inbox->mu);
    im.inbox->accepting = false;
  }
  const double deadline = Now() + grace_s;
  while (grace_s > 0 && Now() < deadline) {
    EngineStats s = Stats();
    bool pending;
    {
      std::lock_guard<std::mutex> lock(im.inbox->mu);
      pending = !im.inbox->adds.empty();
    }
    if (s.num_running == 0 && s.num_waiting == 0 && !pending) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard<std::mutex> lock(im.inbox->mu);
    im.inbox->stop = true;
  }
  im.inbox->cv.notify_all();
  if (im.thread.joinable()) im.thread.join();
  alive_.store(false);
}

const loader::ModelConfig& Engine::model_config() const { return impl_->model->config(); }
std::optional<loader::GenerationConfig> Engine::generation_config() const { return impl_->files->generation_config(); }
const tokenizer::Tokenizer* Engine::tokenizer() const { return impl_->tok.get(); }
int Engine::max_model_len() const { return impl_->max_model_len; }
int Engine::num_kv_blocks() const { return impl_->num_blocks; }
int Engine::block_size() const { return impl_->config.block_size; }

std::string Engine::Describe() const {
  const Impl& im = *impl_;
  const auto& c = im.model->config();
  const int64_t tokens = static_cast<int64_t>(im.num_blocks - 1) * im.config.block_size;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%s (%s, %.1fM params, %s) | KV cache %d blocks x %d tokens = %lld tokens (%.1f MiB, %s), max concurrency %.1f at "
                "max_model_len %d | %d threads",
                im.config.model.c_str(), loader::ArchitectureName(c.arch), im.model->num_parameters() / 1e6, im.files->format().c_str(),
                im.num_blocks, im.config.block_size, static_cast<long long>(tokens), im.runner->kv_cache().bytes() / 1048576.0,
                backend::KvDTypeName(im.runner->kv_cache().dtype()), static_cast<double>(tokens) / im.max_model_len, im.max_model_len, im.pool->num_threads());
  return buf;
}

}  // namespace pagoda::engine
