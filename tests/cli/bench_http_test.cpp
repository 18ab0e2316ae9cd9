// The HTTP/1.1 client of `pagoda bench serve`: URL parsing, the incremental
// response decoder, line splitting, and one exchange with a loopback server
// thread. Also the int8 loop of `bench roofline` against a scalar reference.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "cli/bench_http.h"
#include "cli/bench_roofline.h"

namespace pagoda::cli {
namespace {

TEST(BenchBaseUrl, Parses) {
  auto a = ParseBaseUrl("http://127.0.0.1:8000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8000);
  EXPECT_EQ(a->prefix, "");
  auto b = ParseBaseUrl("http://localhost/api/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->prefix, "/api");
  auto c = ParseBaseUrl("http://[::1]:9000/x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 9000);
  EXPECT_EQ(c->prefix, "/x");
  for (const char* bad : {"https://127.0.0.1", "127.0.0.1:8000", "http://:80", "http://h:0", "http://h:99999", "http://h:8x", "http://u@h"})
    EXPECT_FALSE(ParseBaseUrl(bad).ok()) << bad;
}

std::string Decode(HttpResponseReader* r, const std::string& wire, size_t step, Status* st) {
  std::string body;
  *st = Status::Ok();
  for (size_t i = 0; i < wire.size() && st->ok(); i += step)
    *st = r->Feed(std::string_view(wire).substr(i, step), [&](std::string_view b) { body.append(b); });
  return body;
}

TEST(BenchHttpReader, ChunkedInAnySplit) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\ndata: 1\n\r\n9;ext=1\r\n\ndata: 22\r\n0\r\n\r\nGARBAGE-AFTER";
  for (size_t step : {1, 2, 3, 7, 1000}) {
    HttpResponseReader r;
    Status st;
    const std::string body = Decode(&r, wire, step, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(r.complete());
    EXPECT_EQ(r.status_code(), 200);
    EXPECT_EQ(r.Header("content-type"), "text/event-stream");
    EXPECT_EQ(r.Header("TRANSFER-ENCODING"), "chunked");
    EXPECT_EQ(body, "data: 1\n\ndata: 22") << "step " << step;
  }
}

TEST(BenchHttpReader, ContentLengthAndClose) {
  HttpResponseReader a;
  Status st;
  EXPECT_EQ(Decode(&a, "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello world", 4, &st), "hello");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(a.complete());
  EXPECT_EQ(a.status_code(), 400);

  HttpResponseReader b;
  EXPECT_EQ(Decode(&b, "HTTP/1.0 200 OK\nServer: x\n\nuntil close", 5, &st), "until close");
  EXPECT_TRUE(st.ok());
  EXPECT_FALSE(b.complete());
  EXPECT_TRUE(b.FinishAtEof().ok());
  EXPECT_TRUE(b.complete());

  HttpResponseReader c;  // closed mid-chunk
  Decode(&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 100, &st);
  EXPECT_TRUE(st.ok());
  EXPECT_FALSE(c.FinishAtEof().ok());
}

TEST(BenchHttpReader, RejectsMalformed) {
  for (const char* wire : {"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                           "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n"}) {
    HttpResponseReader r;
    Status st;
    Decode(&r, wire, 1000, &st);
    EXPECT_FALSE(st.ok()) << wire;
  }
}

TEST(BenchLineSplitter, SplitsAcrossFeeds) {
  LineSplitter s;
  std::vector<std::string> lines;
  auto on = [&](std::string_view l) { lines.emplace_back(l); };
  s.Feed("data: {\"a\"", on);
  s.Feed(":1}\r\n\r\ndata: [DO", on);
  s.Feed("NE]\n", on);
  s.Feed("tail", on);
  s.Finish(on);
  EXPECT_EQ(lines, (std::vector<std::string>{"data: {\"a\":1}", "", "data: [DONE]", "tail"}));
}

// A one-shot server: accepts one connection, reads the request, answers `reply`.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  void Serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    // Head, then Content-Length bytes of body.
    size_t need = std::string::npos;
    while (need == std::string::npos || request_.size() < need) {
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      const size_t end = request_.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        const size_t cl = request_.find("Content-Length: ");
        need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16)));
      }
    }
    // Send in small pieces so the client sees chunks straddle reads.
    for (size_t i = 0; i < reply_.size(); i += 5) ::send(c, reply_.data() + i, std::min<size_t>(5, reply_.size() - i), MSG_NOSIGNAL);
    ::close(c);
  }
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(BenchHttpPost, StreamsLinesFromALoopbackServer) {
  std::vector<std::string> lines;
  std::string request;
  {
    OneShotServer server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "f\r\ndata: {\"x\":1}\n\n\r\n"
        "F\r\ndata: {\"x\":2}\n\n\r\n"
        "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n");
    auto url = ParseBaseUrl("http://127.0.0.1:" + std::to_string(server.port()) + "/base");
    ASSERT_TRUE(url.ok());
    auto res = HttpPostLines(*url, "/v1/completions", "{\"prompt\":[1,2]}", {{"Authorization", "Bearer k"}}, 10,
                             [&](std::string_view l) { lines.emplace_back(l); });
    ASSERT_TRUE(res.ok()) << res.status().message();
    EXPECT_EQ(res->status_code, 200);
    request = server.request();  // read after the exchange; the server thread is done once it closed
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"data: {\"x\":1}", "", "data: {\"x\":2}", "", "data: [DONE]", ""}));
  EXPECT_EQ(request.rfind("POST /base/v1/completions HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Authorization: Bearer k\r\n"), std::string::npos);
  EXPECT_NE(request.find("Content-Length: 16\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 16), "{\"prompt\":[1,2]}");
}

TEST(BenchHttpPost, ErrorStatusKeepsTheBody) {
  OneShotServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno route!");
  auto url = ParseBaseUrl("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(url.ok());
  int lines = 0;
  auto res = HttpPostLines(*url, "/v1/x", "{}", {}, 10, [&](std::string_view) { ++lines; });
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(res->status_code, 404);
  EXPECT_EQ(res->error_body, "no route!");
  EXPECT_EQ(lines, 0);
}

TEST(BenchHttpPost, RefusesNonLoopbackHosts) {
  // Refused before any connection is attempted.
  auto url = ParseBaseUrl("http://192.0.2.1:8000");
  ASSERT_TRUE(url.ok());
  auto res = HttpPostLines(*url, "/v1/completions", "{}", {}, 1, [](std::string_view) {});
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("loopback"), std::string::npos) << res.status().message();
}

TEST(BenchInt8Loop, MatchesScalarReference) {
  ThreadPool pool(2);
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 64}, {5, 7, 128}, {9, 70, 192}, {3, 5, 40}}) {
    std::vector<uint8_t> x(m * k);
    std::vector<int8_t> w(n * k);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>((i * 91 + 5) % 256) - 128);
    std::vector<int32_t> y(m * n, -1);
    Int8MatMul(pool, x.data(), m, w.data(), n, k, y.data());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int32_t ref = 0;
        for (int64_t t = 0; t < k; ++t) ref += static_cast<int32_t>(x[i * k + t]) * w[j * k + t];
        ASSERT_EQ(y[i * n + j], ref) << m << "x" << n << "x" << k << " at " << i << "," << j;
      }
  }
}

}  // namespace
}  // namespace pagoda::cli
