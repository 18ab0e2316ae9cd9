#pragma once
// PAGODA_CHECK: invariants only (programmer errors), never user input.

#include <cstdio>
#include <cstdlib>

#define PAGODA_CHECK(cond)                                                          \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#define PAGODA_CHECK_MSG(cond, msg)                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, msg); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
