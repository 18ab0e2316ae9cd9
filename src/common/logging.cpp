#include "common/logging.h"

#include <atomic>
#include <cstdio>

namespace pagoda {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

LogLine::LogLine(LogLevel level, const char*, int)
    : enabled_(static_cast<int>(level) >= g_level.load()), level_(level) {}

LogLine::~LogLine() {
  if (!enabled_) return;
  static const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string s = "[pagoda " + std::string(kNames[static_cast<int>(level_)]) + "] " + stream_.str() + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

}  // namespace pagoda
