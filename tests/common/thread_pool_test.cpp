#include "common/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace pagoda {
namespace {

TEST(ThreadPoolTest, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 64, 1000, 1001}) {
      for (int64_t grain : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(n);
        pool.Run(n, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        }, grain);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
      }
    }
  }
}

TEST(ThreadPoolTest, ManyBackToBackJobs) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int j = 0; j < 2000; ++j) {
    pool.Run(10, [&](int64_t b, int64_t e, int) { sum.fetch_add(e - b); });
  }
  EXPECT_EQ(sum.load(), 20000);
}

#if defined(__linux__)
// With pin_threads every participant of Run runs bound to one CPU of the
// process's set, and no two threads share one (while there are enough CPUs).
TEST(ThreadPoolTest, PinnedThreadsRunOnOneCpuEach) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
  const int allowed = CPU_COUNT(&original);
  const int threads = std::min(allowed, 4);
  {
    ThreadPool pool(threads, /*pin_threads=*/true);
    ASSERT_TRUE(pool.pinned());
    ASSERT_TRUE(pool.PinCallingThread());
    std::mutex mu;
    std::set<int> cpus_seen;
    bool all_single = true;
    for (int rep = 0; rep < 50; ++rep) {
      pool.Run(threads * 64, [&](int64_t, int64_t, int) {
        cpu_set_t s;
        CPU_ZERO(&s);
        sched_getaffinity(0, sizeof(s), &s);
        std::lock_guard<std::mutex> lock(mu);
        if (CPU_COUNT(&s) != 1) all_single = false;
        for (int c = 0; c < CPU_SETSIZE; ++c)
          if (CPU_ISSET(c, &s)) cpus_seen.insert(c);
      }, 64);
    }
    EXPECT_TRUE(all_single);
    EXPECT_LE(static_cast<int>(cpus_seen.size()), threads);
    for (int c : cpus_seen) EXPECT_TRUE(CPU_ISSET(c, &original)) << "cpu " << c << " is outside the process's set";
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(original), &original), 0);  // the test thread's own binding
}

TEST(ThreadPoolTest, UnpinnedPoolLeavesAffinityAlone) {
  ThreadPool pool(2);
  EXPECT_FALSE(pool.pinned());
  EXPECT_FALSE(pool.PinCallingThread());
}
#endif

}  // namespace
}  // namespace pagoda
