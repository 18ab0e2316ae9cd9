#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "server/api_error.h"

namespace pagoda::server {

struct HttpServer::Connection {
  int fd = -1;
  std::string peer;
  std::string in;
  std::string out;
  size_t out_off = 0;
  uint32_t events = 0;            // registered epoll events
  bool close_after_write = false;  // Connection: close, or a protocol error
  bool lingering = false;          // write side shut, discarding input until EOF
  bool sent_continue = false;
  bool read_eof = false;
  Clock::time_point last_activity;
  Clock::time_point linger_deadline;
  // The request being answered.
  std::unique_ptr<PendingResponse> pending;
  bool in_flight = false;  // a request is being answered (pending or chunked)
  bool keep_alive = true;
  bool chunked_open = false;
  int status = 0;
  int num_tokens = 0;
  std::string method, target;
  Clock::time_point started;

  size_t unsent() const { return out.size() - out_off; }
};

// Writes into a connection's output buffer; the loop flushes it.
class HttpServer::Writer : public ResponseWriter {
 public:
  explicit Writer(Connection& c) : c_(c) {}
  void Respond(HttpResponse r) override {
    c_.status = r.status;
    c_.out.append(SerializeResponse(r, c_.keep_alive));
    done_ = true;
  }
  void StartChunked(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    c_.status = status;
    c_.chunked_open = true;
    c_.out.append(SerializeChunkedHead(status, headers, c_.keep_alive));
  }
  void WriteChunk(std::string_view data) override { c_.out.append(SerializeChunk(data)); }
  void EndChunked() override {
    c_.out.append(kLastChunk);
    c_.chunked_open = false;
    done_ = true;
  }
  size_t buffered_bytes() const override { return c_.unsent(); }
  bool done() const { return done_; }

 private:
  Connection& c_;
  bool done_ = false;
};

namespace {

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  conns_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void HttpServer::SetTicker(double period_s, std::function<void()> fn) {
  ticker_period_s_ = period_s;
  ticker_ = std::move(fn);
}

Status HttpServer::Listen() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return InvalidArgument("--host " + options_.host + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, options_.backlog) == 0) {
      listen_fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) return FailedPrecondition("cannot listen on " + options_.host + ":" + port + ": " + last_error);
  SetNonBlocking(listen_fd_);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) return Internal(std::string("epoll/eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  return Status::Ok();
}

void HttpServer::Wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void HttpServer::StopAccepting() {
  stop_accepting_ = true;
  Wake();
}

void HttpServer::Stop() {
  stop_ = true;
  Wake();
}

void HttpServer::Run() {
  std::vector<epoll_event> events(1024);
  auto last_poll = Clock::now();
  auto last_sweep = Clock::now();
  auto last_tick = Clock::now();
  while (!stop_) {
    int timeout_ms = num_pending_ > 0 ? std::max(1, static_cast<int>(options_.poll_interval_s * 1000)) : 200;
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      PAGODA_LOG(Error) << "epoll_wait: " << std::strerror(errno);
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const uint32_t ev = events[i].events;
      if (fd == listen_fd_) {
        Accept();
      } else if (fd == wake_fd_) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
      } else {
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Connection& c = *it->second;
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
          OnReadable(c);
          if (!conns_.count(fd)) continue;
        }
        if (ev & EPOLLOUT) Flush(c);
      }
    }
    if (stop_accepting_ && listen_fd_ >= 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      close(listen_fd_);
      listen_fd_ = -1;
    }
    const auto now = Clock::now();
    if (num_pending_ > 0 && Seconds(now - last_poll) >= options_.poll_interval_s * 0.9) {
      last_poll = now;
      PollPending();
    }
    if (Seconds(now - last_sweep) >= 0.5) {
      last_sweep = now;
      SweepIdle();
    }
    if (ticker_ && Seconds(now - last_tick) >= ticker_period_s_) {
      last_tick = now;
      ticker_();
    }
  }
  // Stop() comes once the engine has stopped, and the engine hands every
  // unfinished request its last output (aborted) first: write those out, for
  // at most kDrainSeconds, so that streams end with their final event and
  // [DONE] instead of a connection cut mid-response.
  constexpr double kDrainSeconds = 2.0;
  const auto drain_start = Clock::now();
  while (Seconds(Clock::now() - drain_start) < kDrainSeconds) {
    if (num_pending_ > 0) PollPending();
    bool unsent = false;
    for (auto& [fd, c] : conns_) unsent = unsent || (c->unsent() > 0 && !c->lingering);
    if (num_pending_ == 0 && !unsent) break;
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 5);
    for (int i = 0; i < n; ++i) {
      auto it = conns_.find(events[i].data.fd);
      if (it != conns_.end() && (events[i].events & EPOLLOUT)) Flush(*it->second);
    }
  }
  // Closing a connection destroys its pending response, which aborts its request.
  std::vector<int> fds;
  for (auto& [fd, c] : conns_) fds.push_back(fd);
  for (int fd : fds) Close(fd);
}

void HttpServer::Accept() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) PAGODA_LOG(Warning) << "accept: " << std::strerror(errno);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    }
    c->peer = std::string(host) + ":" + std::to_string(port);
    c->last_activity = Clock::now();
    c->events = EPOLLIN | EPOLLRDHUP;
    epoll_event ev{};
    ev.events = c->events;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_[fd] = std::move(c);
    ++num_connections_;
  }
}

void HttpServer::OnReadable(Connection& c) {
  char buf[16384];
  for (;;) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.last_activity = Clock::now();
      if (!c.lingering) c.in.append(buf, static_cast<size_t>(n));
      // Unparsed input beyond a full request is only buffered up to the limits.
      if (c.in.size() > options_.limits.max_header_bytes + options_.limits.max_body_bytes + 65536 && c.in_flight) break;
      continue;
    }
    if (n == 0) {
      c.read_eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Close(c.fd);  // ECONNRESET and friends
    return;
  }
  if (c.read_eof) {
    // HTTP clients do not half-close: EOF means the client is gone. Drop what
    // is in flight (this aborts its request) and close.
    Close(c.fd);
    return;
  }
  if (!c.lingering) ProcessInput(c);
}

void HttpServer::ProcessInput(Connection& c) {
  const int fd = c.fd;
  HttpRequestParser parser(options_.limits);
  while (!c.in_flight && !c.close_after_write && !c.in.empty()) {
    HttpRequest req;
    size_t consumed = 0;
    const auto r = parser.Parse(c.in, &req, &consumed);
    if (r == HttpRequestParser::Result::kIncomplete) {
      if (parser.wants_continue() && !c.sent_continue) {
        c.sent_continue = true;
        c.out.append("HTTP/1.1 100 Continue\r\n\r\n");
        Flush(c);
      }
      return;
    }
    if (r == HttpRequestParser::Result::kError) {
      c.keep_alive = false;
      c.close_after_write = true;
      c.method.assign(1, '-');
      c.target.assign(1, '-');
      c.started = Clock::now();
      c.in_flight = true;
      Writer w(c);
      w.Respond(HttpResponse::Json(parser.error_status(),
                                   MakeApiError(parser.error_status(), parser.error_message()).ToJson()));
      c.in.clear();
      FinishResponse(c);
      if (conns_.count(fd)) Flush(c);
      return;
    }
    c.in.erase(0, consumed);
    c.sent_continue = false;
    StartRequest(c, std::move(req));
    if (!conns_.count(fd)) return;
  }
}

void HttpServer::StartRequest(Connection& c, HttpRequest request) {
  c.in_flight = true;
  c.keep_alive = request.keep_alive;
  c.method = request.method;
  c.target = request.target;
  c.started = Clock::now();
  c.status = 0;
  RouteResult result;
  result = handler_(request);
  c.num_tokens = result.num_tokens;
  if (!result.pending) {
    Writer w(c);
    w.Respond(std::move(result.response));
    FinishResponse(c);
    Flush(c);
    return;
  }
  c.pending = std::move(result.pending);
  ++num_pending_;
  PollOne(c);  // it may have an answer already (or the first stream bytes)
}

void HttpServer::PollPending() {
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(num_pending_.load()));
  for (auto& [fd, c] : conns_)
    if (c->pending) fds.push_back(fd);
  for (int fd : fds) {
    auto it = conns_.find(fd);
    if (it != conns_.end() && it->second->pending) PollOne(*it->second);
  }
}

bool HttpServer::PollOne(Connection& c) {
  const int fd = c.fd;
  Writer w(c);
  const bool done = c.pending->Poll(w);
  c.num_tokens = c.pending->num_tokens();
  if (done || w.done()) {
    c.pending.reset();
    --num_pending_;
    FinishResponse(c);
  }
  Flush(c);
  if (!conns_.count(fd)) return false;
  if (c.unsent() > options_.max_buffered_output) {
    PAGODA_LOG(Warning) << c.peer << " is not reading its response (" << c.unsent() << " bytes buffered): closing";
    Close(fd);
    return false;
  }
  return true;
}

void HttpServer::FinishResponse(Connection& c) {
  if (options_.access_log) {
    const double ms = Seconds(Clock::now() - c.started) * 1e3;
    char lat[32];
    std::snprintf(lat, sizeof lat, "%.1fms", ms);
    PAGODA_LOG(Info) << c.peer << " \"" << c.method << " " << c.target << "\" " << c.status << " " << lat
                     << " tokens=" << c.num_tokens;
  }
  c.in_flight = false;
  c.chunked_open = false;
  c.last_activity = Clock::now();
  if (!c.keep_alive) c.close_after_write = true;
  // Pipelined requests already buffered.
  if (!c.close_after_write && !c.in.empty()) ProcessInput(c);
}

void HttpServer::Flush(Connection& c) {
  while (c.unsent() > 0) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.unsent(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      c.last_activity = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close(c.fd);  // EPIPE, ECONNRESET: the client is gone
    return;
  }
  if (c.unsent() == 0) {
    c.out.clear();
    c.out_off = 0;
    if (c.close_after_write && !c.in_flight && !c.lingering) {
      // Lingering close: shut our side, read and discard until the client
      // closes, so that unread request bytes do not turn into a reset that
      // destroys the response in flight.
      shutdown(c.fd, SHUT_WR);
      c.lingering = true;
      c.in.clear();
      c.linger_deadline = Clock::now() + std::chrono::seconds(2);
    }
  } else if (c.out_off > (1u << 20)) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  UpdateEvents(c);
}

void HttpServer::UpdateEvents(Connection& c) {
  uint32_t want = EPOLLIN | EPOLLRDHUP;
  if (c.unsent() > 0) want |= EPOLLOUT;
  if (want == c.events) return;
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = c.fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void HttpServer::Close(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  std::unique_ptr<Connection> c = std::move(it->second);
  conns_.erase(it);
  if (c->pending) {
    --num_pending_;
    c->pending.reset();  // aborts the request
    if (options_.access_log) {
      PAGODA_LOG(Info) << c->peer << " \"" << c->method << " " << c->target << "\" client disconnected after "
                       << static_cast<int>(Seconds(Clock::now() - c->started) * 1e3) << "ms tokens=" << c->num_tokens;
    }
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  --num_connections_;
}

void HttpServer::SweepIdle() {
  const auto now = Clock::now();
  std::vector<int> to_close;
  for (auto& [fd, c] : conns_) {
    if (c->lingering && now >= c->linger_deadline) {
      to_close.push_back(fd);
    } else if (!c->in_flight && c->unsent() == 0 && Seconds(now - c->last_activity) > options_.idle_timeout_s) {
      to_close.push_back(fd);
    }
  }
  for (int fd : to_close) Close(fd);
}

}  // namespace pagoda::server
