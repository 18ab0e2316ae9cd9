#pragma once
// A fixed pool of worker threads for kernel parallelism. Run() splits [0, n)
// into one contiguous chunk per thread (static partitioning: chunk boundaries
// depend only on n, grain and the thread count, so a given element is always
// computed the same way whatever the batch). Any participant may execute any
// chunk: the caller takes chunks that no worker has claimed yet, so a worker
// that is slow to wake never stalls a step. Threads are created once.
// Run() may be called from one thread at a time (the engine thread).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagoda {

class ThreadPool {
 public:
  // num_threads includes the calling thread; 0 means hardware concurrency.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // fn(begin, end, chunk_index) over a static split of [0, n) into at most
  // num_threads() chunks, aligned to `grain` elements where possible.
  void Run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

 private:
  void Worker();
  // Claims and runs chunks of job `gen` until none is left.
  void Help(uint64_t gen);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // The current job; written by Run() before `claim_` is published.
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  // (generation << 32) | (chunk count << 16) | next unclaimed chunk; a claim
  // succeeds only for the current generation.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> completed_{0};
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
};

}  // namespace pagoda
