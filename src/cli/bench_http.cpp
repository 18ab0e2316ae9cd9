#include "cli/bench_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace pagoda::cli {

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxErrorBody = 4096;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool ParseUint(std::string_view s, int base, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

Result<BaseUrl> ParseBaseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return InvalidArgument("--base-url '" + url + "': only http:// URLs are supported");
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return InvalidArgument("--base-url '" + url + "': user info is not supported");
  BaseUrl b;
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:8000
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("--base-url '" + url + "': unterminated '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgument("--base-url '" + url + "': junk after ']'");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgument("--base-url '" + url + "': no host");
  b.host = std::string(host);
  if (!port.empty()) {
    uint64_t p = 0;
    if (!ParseUint(port, 10, &p) || p == 0 || p > 65535) return InvalidArgument("--base-url '" + url + "': bad port '" + std::string(port) + "'");
    b.port = static_cast<int>(p);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  b.prefix = std::string(path);
  return b;
}

std::string HttpResponseReader::Header(std::string_view name) const {
  const std::string n = Lower(name);
  std::string v;
  for (const auto& [k, val] : headers_)
    if (k == n) v = val;
  return v;
}

Status HttpResponseReader::ParseHead() {
  // buf_ holds the head up to and including the blank line.
  std::string_view head(buf_);
  size_t eol = head.find('\n');
  std::string_view status_line = Trim(head.substr(0, eol));
  if (status_line.rfind("HTTP/1.", 0) != 0) return DataLoss("not an HTTP/1.x response: '" + std::string(status_line.substr(0, 80)) + "'");
  const size_t sp = status_line.find(' ');
  uint64_t code = 0;
  if (sp == std::string_view::npos || !ParseUint(status_line.substr(sp + 1, 3), 10, &code) || code < 100 || code > 999)
    return DataLoss("bad HTTP status line: '" + std::string(status_line.substr(0, 80)) + "'");
  status_code_ = static_cast<int>(code);
  size_t pos = eol + 1;
  while (pos < head.size()) {
    size_t e = head.find('\n', pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = Trim(head.substr(pos, e - pos));
    pos = e + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return DataLoss("bad HTTP header line: '" + std::string(line.substr(0, 80)) + "'");
    headers_.emplace_back(Lower(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  }
  buf_.clear();
  const std::string te = Lower(Header("transfer-encoding"));
  const std::string cl = Header("content-length");
  if (status_code_ == 204 || status_code_ == 304 || status_code_ < 200) {
    state_ = State::kDone;
  } else if (te.find("chunked") != std::string::npos) {
    state_ = State::kChunkSize;
  } else if (!cl.empty()) {
    if (!ParseUint(cl, 10, &remaining_)) return DataLoss("bad Content-Length '" + cl + "'");
    state_ = remaining_ == 0 ? State::kDone : State::kLength;
  } else {
    state_ = State::kUntilClose;
  }
  return Status::Ok();
}

Status HttpResponseReader::Feed(std::string_view data, const BodyFn& on_body) {
  while (!data.empty() && state_ != State::kDone) {
    switch (state_) {
      case State::kHead: {
        // Look for the blank line, allowing it to straddle Feed calls.
        const size_t old = buf_.size();
        buf_.append(data);
        size_t end = buf_.find("\r\n\r\n");
        size_t term = 4;
        const size_t lf = buf_.find("\n\n");
        if (lf != std::string::npos && (end == std::string::npos || lf < end)) {
          end = lf;
          term = 2;
        }
        if (end == std::string::npos) {
          if (buf_.size() > kMaxHeadBytes) return DataLoss("HTTP response head over 64 KiB");
          return Status::Ok();
        }
        const size_t consumed = end + term - old;  // bytes of `data` that belong to the head
        buf_.resize(end + term);
        data.remove_prefix(consumed);
        PAGODA_RETURN_IF_ERROR(ParseHead());
        break;
      }
      case State::kChunkSize:
      case State::kTrailers: {
        const size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          buf_.append(data);
          if (buf_.size() > kMaxHeadBytes) return DataLoss("HTTP chunk header over 64 KiB");
          return Status::Ok();
        }
        buf_.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        std::string_view line = Trim(buf_);
        if (state_ == State::kTrailers) {
          if (line.empty()) state_ = State::kDone;
          buf_.clear();
          break;
        }
        const size_t semi = line.find(';');  // chunk extensions
        if (semi != std::string_view::npos) line = Trim(line.substr(0, semi));
        if (!ParseUint(line, 16, &remaining_)) return DataLoss("bad HTTP chunk size '" + std::string(line.substr(0, 40)) + "'");
        buf_.clear();
        state_ = remaining_ == 0 ? State::kTrailers : State::kChunkData;
        break;
      }
      case State::kChunkData:
      case State::kLength: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
        on_body(data.substr(0, n));
        data.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kChunkDataEnd;
        break;
      }
      case State::kChunkDataEnd: {
        // The CRLF after a chunk's data.
        const char c = data.front();
        data.remove_prefix(1);
        if (c == '\n') state_ = State::kChunkSize;
        else if (c != '\r') return DataLoss("HTTP chunk not followed by CRLF");
        break;
      }
      case State::kUntilClose:
        on_body(data);
        data = {};
        break;
      case State::kDone:
        break;
    }
  }
  return Status::Ok();
}

Status HttpResponseReader::FinishAtEof() {
  if (state_ == State::kUntilClose) state_ = State::kDone;
  if (state_ == State::kDone) return Status::Ok();
  return DataLoss(state_ == State::kHead ? "connection closed before the HTTP response head" : "connection closed in the middle of the HTTP body");
}

void LineSplitter::Feed(std::string_view data, const std::function<void(std::string_view)>& on_line) {
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(data);
      return;
    }
    std::string_view line;
    if (partial_.empty()) {
      line = data.substr(0, nl);
    } else {
      partial_.append(data.substr(0, nl));
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(line);
    partial_.clear();
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::Finish(const std::function<void(std::string_view)>& on_line) {
  if (partial_.empty()) return;
  std::string_view line(partial_);
  if (line.back() == '\r') line.remove_suffix(1);
  on_line(line);
  partial_.clear();
}

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

int RemainingMs(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

Result<int> Connect(const BaseUrl& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return NotFound("cannot resolve '" + url.host + "': " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  std::string last_error = "no loopback address for '" + url.host + "' (bench serve only connects to loopback)";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (!IsLoopback(ai->ai_addr)) continue;
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = "connect to " + url.host + ":" + port + ": " + std::strerror(errno);
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    const int pr = ::poll(&p, 1, RemainingMs(deadline));
    int err = 0;
    socklen_t len = sizeof(err);
    if (pr <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last_error = "connect to " + url.host + ":" + port + ": " + (pr == 0 ? "timed out" : std::strerror(err ? err : errno));
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  return FailedPrecondition(last_error);
}

}  // namespace

Result<HttpPostResult> HttpPostLines(const BaseUrl& url, const std::string& path, const std::string& body,
                                     const std::vector<std::pair<std::string, std::string>>& headers, double timeout_s,
                                     const std::function<void(std::string_view)>& on_line) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(std::max(timeout_s, 0.001) * 1e3));
  PAGODA_ASSIGN_OR_RETURN(int raw_fd, Connect(url, deadline));
  Fd fd(raw_fd);

  const bool v6 = url.host.find(':') != std::string::npos;
  std::string req = "POST " + url.prefix + path + " HTTP/1.1\r\nHost: " + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                    std::to_string(url.port) + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n" +
                    "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  req += body;

  size_t sent = 0;
  while (sent < req.size()) {
    pollfd p{fd.get(), POLLOUT, 0};
    const int pr = ::poll(&p, 1, RemainingMs(deadline));
    if (pr == 0) return Status(StatusCode::kCancelled, "timed out sending the request");
    if (pr < 0 && errno != EINTR) return Internal(std::string("poll: ") + std::strerror(errno));
    if (pr < 0) continue;
    const ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Internal(std::string("send: ") + std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }

  HttpResponseReader reader;
  LineSplitter lines;
  HttpPostResult result;
  auto on_body = [&](std::string_view b) {
    if (reader.status_code() / 100 == 2) {
      lines.Feed(b, on_line);
    } else if (result.error_body.size() < kMaxErrorBody) {
      result.error_body.append(b.substr(0, kMaxErrorBody - result.error_body.size()));
    }
  };
  char buf[16384];
  while (!reader.complete()) {
    pollfd p{fd.get(), POLLIN, 0};
    const int pr = ::poll(&p, 1, RemainingMs(deadline));
    if (pr == 0) return Status(StatusCode::kCancelled, "timed out after " + std::to_string(timeout_s) + " s waiting for the response");
    if (pr < 0) {
      if (errno == EINTR) continue;
      return Internal(std::string("poll: ") + std::strerror(errno));
    }
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Internal(std::string("recv: ") + std::strerror(errno));
    }
    if (n == 0) {
      PAGODA_RETURN_IF_ERROR(reader.FinishAtEof());
      break;
    }
    PAGODA_RETURN_IF_ERROR(reader.Feed(std::string_view(buf, static_cast<size_t>(n)), on_body));
  }
  if (reader.status_code() / 100 == 2) lines.Finish(on_line);
  result.status_code = reader.status_code();
  return result;
}

}  // namespace pagoda::cli
