#pragma once
// A counting replacement of every replaceable global operator new (plain,
// array, nothrow, aligned, aligned nothrow), for tests that assert a code path
// does not touch the heap. Link counting_allocator.cpp into the test binary
// (it replaces the operators for the whole binary); the count covers every
// thread (pool workers included) while armed. C-level malloc/aligned_alloc
// (AlignedBuffer) is not counted.

#include <cstddef>
#include <cstdint>

namespace pagoda {
class ThreadPool;
}

namespace pagoda::testing {

// Starts counting from zero.
void ArmAllocationCounter();
// Stops counting; returns the number of operator new calls since Arm.
int64_t DisarmAllocationCounter();
// Size in bytes of the first allocation counted since Arm (0 if none), to
// help find it.
size_t FirstCountedAllocationSize();

// Whether ThreadPool::Run allocates for a kernel-like lambda (four captured
// references). While it takes a std::function, it does (the callable is
// heap-allocated past 16 bytes) on every kernel call, and no step can be
// allocation-free: the zero-allocation tests skip, saying so.
bool PoolRunAllocates(ThreadPool& pool);

// Allocations made by the calling thread are not counted while this object
// lives: for a test's own thread (a reader of the engine's output, say) when
// the code under test runs on others.
class ScopedUncountedThread {
 public:
  ScopedUncountedThread();
  ~ScopedUncountedThread();
  ScopedUncountedThread(const ScopedUncountedThread&) = delete;
  ScopedUncountedThread& operator=(const ScopedUncountedThread&) = delete;
};

// Counts for the lifetime of the object unless Stop() is called first.
class ScopedAllocationCounter {
 public:
  ScopedAllocationCounter() { ArmAllocationCounter(); }
  ~ScopedAllocationCounter() { if (armed_) DisarmAllocationCounter(); }
  int64_t Stop() {
    armed_ = false;
    return DisarmAllocationCounter();
  }

 private:
  bool armed_ = true;
};

}  // namespace pagoda::testing
