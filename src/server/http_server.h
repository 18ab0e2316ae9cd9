#pragma once
// HttpServer: an HTTP/1.1 server on one epoll loop (keep-alive, pipelining,
// chunked responses for SSE, 100-continue, body limits, lingering close).
//
// Threads: Run() is the loop and runs on the caller's thread; every callback
// (the handler, PendingResponse::Poll, the ticker) runs on it. StopAccepting()
// and Stop() may be called from any thread (a signal-waiting thread).
//
// Slow readers: output is buffered per connection and written when the socket
// is writable, so a client that does not read never blocks the loop, the
// engine or other clients; past max_buffered_output bytes it is disconnected.
// A long response is a PendingResponse that the loop polls every
// poll_interval_s; destroying it (client gone) must abort its work.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "server/http_message.h"
#include "server/http_parser.h"

namespace pagoda::server {

// How a PendingResponse sends its answer: either one Respond(), or
// StartChunked, any number of WriteChunk, then EndChunked.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void Respond(HttpResponse response) = 0;
  virtual void StartChunked(int status, std::vector<std::pair<std::string, std::string>> headers) = 0;
  virtual void WriteChunk(std::string_view data) = 0;
  virtual void EndChunked() = 0;
  virtual size_t buffered_bytes() const = 0;  // written but not yet taken by the client
};

class PendingResponse {
 public:
  virtual ~PendingResponse() = default;  // also when the client is gone: abort the work
  // Called on the loop thread until it returns true (the response is complete).
  virtual bool Poll(ResponseWriter& writer) = 0;
  // Output tokens so far, for the access log.
  virtual int num_tokens() const { return 0; }
};

struct RouteResult {
  HttpResponse response;                     // used when pending is null
  std::unique_ptr<PendingResponse> pending;  // a long or streaming answer
  int num_tokens = 0;                        // for the access log
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: any free port (see port())
  HttpLimits limits;
  double idle_timeout_s = 60;      // keep-alive connections with nothing in flight
  double poll_interval_s = 0.002;  // how often pending responses are polled
  size_t max_buffered_output = 64u << 20;
  int backlog = 4096;
  bool access_log = true;
};

class HttpServer {
 public:
  using Handler = std::function<RouteResult(HttpRequest& request)>;

  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Status Listen();  // binds and listens; call before Run()
  int port() const { return port_; }
  void Run();

  // A function run on the loop thread about every period_s (set before Run()).
  void SetTicker(double period_s, std::function<void()> fn);

  void StopAccepting();  // closes the listening socket; in-flight work goes on
  void Stop();           // Run() closes every connection and returns

  int num_connections() const { return num_connections_.load(); }
  int num_pending() const { return num_pending_.load(); }

 private:
  struct Connection;
  class Writer;
  using Clock = std::chrono::steady_clock;

  void Accept();
  void OnReadable(Connection& c);
  void ProcessInput(Connection& c);
  void StartRequest(Connection& c, HttpRequest request);
  void PollPending();
  bool PollOne(Connection& c);  // false: the connection was closed
  void FinishResponse(Connection& c);
  void Flush(Connection& c);
  void UpdateEvents(Connection& c);
  void Close(int fd);
  void SweepIdle();
  void Wake();

  HttpServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stop_accepting_{false};
  std::atomic<int> num_connections_{0};
  std::atomic<int> num_pending_{0};
  double ticker_period_s_ = 0;
  std::function<void()> ticker_;
};

}  // namespace pagoda::server
