#include "counting_allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "common/thread_pool.h"

namespace pagoda::testing {
namespace {

std::atomic<bool> g_armed{false};
std::atomic<int64_t> g_count{0};
std::atomic<size_t> g_first_size{0};

// PAGODA_ALLOC_ABORT=1 aborts at the first counted allocation, so that a
// debugger shows where it came from.
const bool g_abort_on_count = std::getenv("PAGODA_ALLOC_ABORT") != nullptr;

thread_local bool t_uncounted = false;

void Count(size_t size) {
  if (!g_armed.load(std::memory_order_relaxed) || t_uncounted) return;
  if (g_abort_on_count) std::abort();
  if (g_count.fetch_add(1, std::memory_order_relaxed) == 0) g_first_size.store(size, std::memory_order_relaxed);
}

void* Allocate(size_t size) {
  Count(size);
  void* p = std::malloc(size == 0 ? 1 : size);
  return p;
}

void* AllocateAligned(size_t size, std::align_val_t al) {
  Count(size);
  const size_t a = static_cast<size_t>(al) < sizeof(void*) ? sizeof(void*) : static_cast<size_t>(al);
  const size_t rounded = (size == 0 ? a : (size + a - 1) / a * a);
  return std::aligned_alloc(a, rounded);
}

}  // namespace

void ArmAllocationCounter() {
  g_count.store(0);
  g_first_size.store(0);
  g_armed.store(true);
}

int64_t DisarmAllocationCounter() {
  g_armed.store(false);
  return g_count.load();
}

size_t FirstCountedAllocationSize() { return g_first_size.load(); }

ScopedUncountedThread::ScopedUncountedThread() { t_uncounted = true; }
ScopedUncountedThread::~ScopedUncountedThread() { t_uncounted = false; }

bool PoolRunAllocates(ThreadPool& pool) {
  float a[4] = {0, 0, 0, 0};
  const float b = 1, c = 2, d = 3;
  ArmAllocationCounter();
  pool.Run(4, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) a[i] = b + c * d;
  });
  return DisarmAllocationCounter() > 0;
}

}  // namespace pagoda::testing

using pagoda::testing::Allocate;
using pagoda::testing::AllocateAligned;

void* operator new(std::size_t n) {
  if (void* p = Allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = Allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = AllocateAligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = AllocateAligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return AllocateAligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return AllocateAligned(n, a); }

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
