#pragma once
// Parses one HTTP/1.1 request from the front of a connection's input buffer.
// Stateless between calls: the caller appends bytes and calls Parse again until
// it returns kComplete or kError. Bodies with Content-Length or chunked
// transfer coding; limits on header and body size. One thread at a time.

#include <cstddef>
#include <string>
#include <string_view>

#include "server/http_message.h"

namespace pagoda::server {

struct HttpLimits {
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 16 * 1024 * 1024;
};

class HttpRequestParser {
 public:
  enum class Result {
    kIncomplete,  // need more bytes
    kComplete,    // *out filled, *consumed bytes belong to it
    kError,       // error_status()/error_message() say why; close the connection after answering
  };

  explicit HttpRequestParser(HttpLimits limits = {}) : limits_(limits) {}

  Result Parse(std::string_view buf, HttpRequest* out, size_t* consumed);

  // After kIncomplete: the headers are complete and the client asked for
  // "Expect: 100-continue" (the body has not arrived yet).
  bool wants_continue() const { return wants_continue_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  Result Fail(int status, std::string message);

  HttpLimits limits_;
  bool wants_continue_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace pagoda::server
