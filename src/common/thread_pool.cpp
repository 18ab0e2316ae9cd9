#include "common/thread_pool.h"

#include <algorithm>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#define PAGODA_PAUSE() _mm_pause()
#else
#define PAGODA_PAUSE() ((void)0)
#endif

namespace pagoda {

namespace {

void Chunk(int64_t n, int64_t grain, int parts, int index, int64_t* begin, int64_t* end) {
  int64_t units = (n + grain - 1) / grain;
  int64_t per = units / parts, extra = units % parts;
  int64_t ub = index * per + std::min<int64_t>(index, extra);
  int64_t ue = ub + per + (index < extra ? 1 : 0);
  *begin = std::min(n, ub * grain);
  *end = std::min(n, ue * grain);
}

constexpr uint64_t kChunkMask = 0xFFFF;

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  return cpus;
}

bool BindTo(int cpu) {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
#else
  (void)cpu;
  return false;
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads, bool pin_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = std::min(num_threads, 1024);  // chunk indices fit 16 bits
  if (pin_threads) {
    cpus_ = AllowedCpus();
    pinned_ = !cpus_.empty();
  }
  for (int i = 1; i < num_threads_; ++i) {
    workers_.emplace_back([this, i] {
      if (pinned_) BindTo(cpus_[i % cpus_.size()]);
      Worker();
    });
  }
}

bool ThreadPool::PinCallingThread() const { return pinned_ && BindTo(cpus_[0]); }

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Help(uint64_t gen) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    const int parts = static_cast<int>((c >> 16) & kChunkMask);
    if ((c >> 32) != gen || static_cast<int>(c & kChunkMask) >= parts) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    // Holding an unfinished chunk of job `gen`, so Run() cannot be rewriting the job fields.
    const int index = static_cast<int>(c & kChunkMask);
    int64_t b, e;
    Chunk(job_n_, job_grain_, parts, index, &b, &e);
    if (b < e) (*job_)(b, e, index);
    completed_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::Run(int64_t n, ChunkFn fn, int64_t grain) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t units = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(num_threads_, units));
  if (parts <= 1) {
    fn(0, n, 0);
    return;
  }
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_grain_ = grain;
    completed_.store(0, std::memory_order_relaxed);
    gen = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    claim_.store((gen << 32) | (static_cast<uint64_t>(parts) << 16), std::memory_order_release);
  }
  cv_.notify_all();
  Help(gen);
  int spins = 0;
  while (completed_.load(std::memory_order_acquire) != parts) {
    if (++spins < 4000) PAGODA_PAUSE();
    else std::this_thread::yield();
  }
}

void ThreadPool::Worker() {
  uint64_t seen = 0;
  for (;;) {
    // Steps come back to back: spin a little before sleeping. A job seen while
    // spinning is joined without the mutex (Help checks the claim word, published
    // after the job fields); taking it there made a spinning worker queue behind
    // Run() and sleep in the kernel on every job.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spins = 0; gen == seen && spins < 4000; ++spins) {
      PAGODA_PAUSE();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load() != seen; });
      gen = generation_.load();
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = gen;
    Help(gen);
  }
}

}  // namespace pagoda
