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
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace pagoda {

// A non-owning reference to a callable void(int64_t begin, int64_t end, int
// chunk). Run() calls it only before it returns, so nothing is copied and
// nothing is allocated (a std::function of a lambda with more than two
// captures would allocate on every call).
class ChunkFn {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
  ChunkFn(F&& f)  // implicit, so that call sites pass lambdas as before
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, int64_t b, int64_t e, int i) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e, i); }) {}
  void operator()(int64_t b, int64_t e, int i) const { call_(obj_, b, e, i); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t, int);
};

class ThreadPool {
 public:
  // num_threads includes the calling thread; 0 means hardware concurrency.
  // pin_threads: worker i is bound to the i-th CPU this process may run on
  // (workers take CPUs 1, 2, ...; CPU 0 of the set is left for the thread that
  // calls Run, which binds itself with PinCallingThread()). Off by default.
  explicit ThreadPool(int num_threads, bool pin_threads = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }
  bool pinned() const { return pinned_; }

  // With pin_threads: binds the calling thread to the first CPU of the set (the
  // one no worker uses). Call it on the thread that will call Run(). A no-op
  // otherwise; false if the system refused.
  bool PinCallingThread() const;

  // fn(begin, end, chunk_index) over a static split of [0, n) into at most
  // num_threads() chunks, aligned to `grain` elements where possible.
  void Run(int64_t n, ChunkFn fn, int64_t grain = 1);

 private:
  void Worker();
  // Claims and runs chunks of job `gen` until none is left.
  void Help(uint64_t gen);

  int num_threads_;
  bool pinned_ = false;
  std::vector<int> cpus_;  // the process's allowed CPUs, when pinned
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // The current job; written by Run() before `claim_` is published.
  const ChunkFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  // (generation << 32) | (chunk count << 16) | next unclaimed chunk; a claim
  // succeeds only for the current generation.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> completed_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace pagoda
