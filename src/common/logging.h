#pragma once
// Minimal leveled logging to stderr. Thread-safe (one write per line).

#include <sstream>
#include <string>

namespace pagoda {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    if (enabled_) stream_ << v;
    return *this;
  }

 private:
  bool enabled_;
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace pagoda

#define PAGODA_LOG(level) ::pagoda::LogLine(::pagoda::LogLevel::k##level, __FILE__, __LINE__)
