#pragma once
// A fixed pool of worker threads for kernel parallelism. Run() splits [0, n) into
// one contiguous chunk per thread (static partitioning, so a given element is
// always computed by the same code path whatever the batch) and blocks until all
// chunks are done. Threads are created once; no allocation per call.
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

  // fn(begin, end, thread_index) over a static split of [0, n). Chunks are
  // aligned to `grain` elements where possible.
  void Run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

 private:
  void Worker(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

}  // namespace pagoda
