#pragma once
// A small HTTP/1.1 client for `pagoda bench serve`: one connection per request,
// POST a JSON body, read the response incrementally (chunked, Content-Length or
// until close) and hand each body line to the caller as it arrives, so SSE
// `data:` events are timed when they reach the client. Loopback addresses only.
// The decoders are pure and unit-tested; HttpPostLines does the socket work.
// Any thread; each call is independent.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace pagoda::cli {

struct BaseUrl {
  std::string host;  // as given (name or address)
  int port = 80;
  std::string prefix;  // path before the endpoint, without a trailing '/'
};
// http://HOST[:PORT][/PREFIX]. No https, no user info.
Result<BaseUrl> ParseBaseUrl(const std::string& url);

// Incremental HTTP/1.1 response decoder.
class HttpResponseReader {
 public:
  using BodyFn = std::function<void(std::string_view)>;
  // Decodes data; decoded body bytes go to on_body. Bytes after the end of the
  // response are ignored.
  Status Feed(std::string_view data, const BodyFn& on_body);
  // The peer closed the connection; a body delimited by close ends here.
  Status FinishAtEof();

  bool headers_done() const { return state_ > State::kHead; }
  bool complete() const { return state_ == State::kDone; }
  int status_code() const { return status_code_; }
  // Lower-case header name; the last value, or "" when absent.
  std::string Header(std::string_view name) const;

 private:
  enum class State { kHead, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kLength, kUntilClose, kDone };
  Status ParseHead();

  State state_ = State::kHead;
  std::string buf_;  // undecoded head / chunk-size / trailer bytes
  int status_code_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
  uint64_t remaining_ = 0;  // of the current chunk or of Content-Length
};

// Splits a byte stream into lines ('\n', an optional '\r' before it dropped).
class LineSplitter {
 public:
  void Feed(std::string_view data, const std::function<void(std::string_view)>& on_line);
  // A last line without '\n'.
  void Finish(const std::function<void(std::string_view)>& on_line);

 private:
  std::string partial_;
};

struct HttpPostResult {
  int status_code = 0;
  std::string error_body;  // the body (at most 4 KiB) when the status is not 2xx
};

// POSTs `body` (application/json) to url.prefix + path. Each line of a 2xx
// response body goes to on_line as soon as it is complete. Fails on a
// non-loopback host, connection errors, malformed responses, or when
// timeout_s passes (the whole exchange).
Result<HttpPostResult> HttpPostLines(const BaseUrl& url, const std::string& path, const std::string& body,
                                     const std::vector<std::pair<std::string, std::string>>& headers, double timeout_s,
                                     const std::function<void(std::string_view)>& on_line);

}  // namespace pagoda::cli
