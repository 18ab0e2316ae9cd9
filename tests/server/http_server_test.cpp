// HttpServer over real loopback sockets: keep-alive, pipelining, chunked
// streaming, client disconnects, slow readers, limits.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads until `done(buffer)` or EOF or the timeout.
std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done, double timeout_s = 5) {
  std::string buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done(buf) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return buf;
}

bool HasCompleteResponses(const std::string& buf, int count) {
  size_t pos = 0;
  for (int i = 0; i < count; ++i) {
    size_t head = buf.find("\r\n\r\n", pos);
    if (head == std::string::npos) return false;
    size_t cl = buf.find("Content-Length: ", pos);
    if (cl == std::string::npos || cl > head) return false;
    size_t len = std::stoul(buf.substr(cl + 16));
    if (buf.size() < head + 4 + len) return false;
    pos = head + 4 + len;
  }
  return true;
}

// A pending response that emits `chunks` chunks, one per poll, and records its destruction.
class CountingStream : public PendingResponse {
 public:
  CountingStream(int chunks, std::atomic<int>* destroyed, std::atomic<bool>* hold)
      : chunks_(chunks), destroyed_(destroyed), hold_(hold) {}
  ~CountingStream() override { ++*destroyed_; }
  bool Poll(ResponseWriter& w) override {
    if (!started_) {
      started_ = true;
      w.StartChunked(200, {{"Content-Type", "text/event-stream"}});
    }
    if (hold_ && hold_->load()) return false;
    if (sent_ < chunks_) {
      w.WriteChunk("data: " + std::to_string(sent_++) + "\n\n");
      return false;
    }
    w.EndChunked();
    return true;
  }

 private:
  int chunks_;
  int sent_ = 0;
  bool started_ = false;
  std::atomic<int>* destroyed_;
  std::atomic<bool>* hold_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions opts = {}) {
    opts.port = 0;
    opts.access_log = false;
    server_ = std::make_unique<HttpServer>(opts, [this](HttpRequest& req) { return Route(req); });
    ASSERT_TRUE(server_->Listen().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }
  RouteResult Route(HttpRequest& req) {
    RouteResult r;
    if (req.path == "/stream") {
      r.pending = std::make_unique<CountingStream>(3, &destroyed_, nullptr);
    } else if (req.path == "/hold") {
      r.pending = std::make_unique<CountingStream>(1, &destroyed_, &hold_);
    } else if (req.path == "/big") {
      r.response = HttpResponse::Text(200, std::string(8 << 20, 'b'));
    } else {
      r.response = HttpResponse::Text(200, req.method + " " + req.path + " " + req.body);
    }
    return r;
  }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<int> destroyed_{0};
  std::atomic<bool> hold_{true};
};

TEST_F(HttpServerTest, KeepAliveAndPipelining) {
  Start();
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
  std::string out = ReadUntil(fd, [](const std::string& b) { return HasCompleteResponses(b, 2); });
  EXPECT_NE(out.find("GET /a "), std::string::npos) << out;
  EXPECT_NE(out.find("POST /b xyz"), std::string::npos) << out;
  EXPECT_LT(out.find("GET /a"), out.find("POST /b"));
  // The same connection still works.
  SendAll(fd, "GET /c HTTP/1.1\r\n\r\n");
  out = ReadUntil(fd, [](const std::string& b) { return HasCompleteResponses(b, 1); });
  EXPECT_NE(out.find("GET /c"), std::string::npos);
  close(fd);
}

TEST_F(HttpServerTest, ChunkedStreamFraming) {
  Start();
  int fd = Connect(server_->port());
  SendAll(fd, "GET /stream HTTP/1.1\r\n\r\n");
  std::string out = ReadUntil(fd, [](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
  const std::string body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(body, "9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
  close(fd);
}

TEST_F(HttpServerTest, ClientDisconnectDestroysPendingResponse) {
  Start();
  int fd = Connect(server_->port());
  SendAll(fd, "GET /hold HTTP/1.1\r\n\r\n");
  ReadUntil(fd, [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(server_->num_pending(), 1);
  EXPECT_EQ(destroyed_.load(), 0);
  close(fd);
  for (int i = 0; i < 200 && destroyed_.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(destroyed_.load(), 1);
  EXPECT_EQ(server_->num_pending(), 0);
}

TEST_F(HttpServerTest, SlowReaderDoesNotStallOthers) {
  Start();
  int slow = Connect(server_->port());
  SendAll(slow, "GET /big HTTP/1.1\r\n\r\n");  // 8 MiB that nobody reads
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto t0 = std::chrono::steady_clock::now();
  int fast = Connect(server_->port());
  SendAll(fast, "GET /quick HTTP/1.1\r\n\r\n");
  std::string out = ReadUntil(fast, [](const std::string& b) { return HasCompleteResponses(b, 1); });
  EXPECT_NE(out.find("GET /quick"), std::string::npos);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  close(fast);
  close(slow);
}

TEST_F(HttpServerTest, OversizedBodyGets413AndTheClientReadsIt) {
  HttpServerOptions o;
  o.limits.max_body_bytes = 1000;
  Start(o);
  int fd = Connect(server_->port());
  SendAll(fd, "POST /x HTTP/1.1\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'a'));
  std::string out = ReadUntil(fd, [](const std::string& b) { return HasCompleteResponses(b, 1); });
  EXPECT_EQ(out.rfind("HTTP/1.1 413 ", 0), 0u) << out.substr(0, 200);
  EXPECT_NE(out.find("\"code\":413"), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  close(fd);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  Start();
  int fd = Connect(server_->port());
  SendAll(fd, "NOT HTTP\r\n\r\n");
  std::string out = ReadUntil(fd, [](const std::string& b) { return HasCompleteResponses(b, 1); });
  EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << out;
  EXPECT_NE(out.find("\"error\""), std::string::npos);
  close(fd);
}

TEST_F(HttpServerTest, ExpectContinue) {
  Start();
  int fd = Connect(server_->port());
  SendAll(fd, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  std::string out = ReadUntil(fd, [](const std::string& b) { return b.find("100 Continue\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n");
  SendAll(fd, "body");
  out = ReadUntil(fd, [](const std::string& b) { return HasCompleteResponses(b, 1); });
  EXPECT_NE(out.find("POST /e body"), std::string::npos);
  close(fd);
}

TEST_F(HttpServerTest, ManyConcurrentStreams) {
  Start();
  constexpr int kClients = 300;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    fds.push_back(Connect(server_->port()));
    ASSERT_GE(fds.back(), 0);
    SendAll(fds.back(), "GET /stream HTTP/1.1\r\n\r\n");
  }
  int ok = 0;
  for (int fd : fds) {
    std::string out = ReadUntil(fd, [](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
    ok += out.find("data: 2\n\n") != std::string::npos;
    close(fd);
  }
  EXPECT_EQ(ok, kClients);
}

}  // namespace
}  // namespace pagoda::server
