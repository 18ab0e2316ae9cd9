#include "common/thread_pool.h"

#include <algorithm>

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

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { Worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (num_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_grain_ = grain;
    pending_.store(num_threads_ - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  int64_t b, e;
  Chunk(n, grain, num_threads_, 0, &b, &e);
  if (b < e) fn(b, e, 0);
  // Workers finish within microseconds for kernel-sized chunks: spin, then yield.
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (++spins > 2000) std::this_thread::yield();
  }
}

void ThreadPool::Worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly for the next job (steps come back to back), then sleep.
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < 20000) ++spins;
    const std::function<void(int64_t, int64_t, int)>* job;
    int64_t n, grain;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stop_) return;
      job = job_;
      n = job_n_;
      grain = job_grain_;
    }
    int64_t b, e;
    Chunk(n, grain, num_threads_, index, &b, &e);
    if (b < e) (*job)(b, e, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace pagoda
