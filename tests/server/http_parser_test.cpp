#include "server/http_parser.h"

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

using R = HttpRequestParser::Result;

TEST(HttpParser, SimpleGet) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  const std::string s = "GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v  \r\n\r\n";
  ASSERT_EQ(p.Parse(s, &req, &used), R::kComplete);
  EXPECT_EQ(used, s.size());
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/v1/models");
  EXPECT_EQ(req.query, "x=1");
  EXPECT_TRUE(req.keep_alive);
  ASSERT_NE(req.Header("x-thing"), nullptr);
  EXPECT_EQ(*req.Header("x-thing"), "v");
  EXPECT_EQ(req.Header("X-Thing"), nullptr);  // names are lower-cased; look up in lower case
}

TEST(HttpParser, BodyArrivesInPieces) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  const std::string full = "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
  for (size_t cut = 0; cut < full.size(); ++cut)
    EXPECT_EQ(p.Parse(std::string_view(full).substr(0, cut), &req, &used), R::kIncomplete) << cut;
  ASSERT_EQ(p.Parse(full, &req, &used), R::kComplete);
  EXPECT_EQ(req.body, "hello world");
}

TEST(HttpParser, PipelinedRequests) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  std::string s = "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n";
  ASSERT_EQ(p.Parse(s, &req, &used), R::kComplete);
  EXPECT_EQ(req.path, "/a");
  EXPECT_EQ(req.body, "hi");
  s.erase(0, used);
  ASSERT_EQ(p.Parse(s, &req, &used), R::kComplete);
  EXPECT_EQ(req.path, "/b");
  EXPECT_EQ(used, s.size());
}

TEST(HttpParser, ChunkedBody) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  const std::string s =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nNEXT";
  ASSERT_EQ(p.Parse(s, &req, &used), R::kComplete);
  EXPECT_EQ(req.body, "hello world");
  EXPECT_EQ(s.substr(used), "NEXT");
  EXPECT_EQ(p.Parse(s.substr(0, s.size() - 8), &req, &used), R::kIncomplete);
}

TEST(HttpParser, ChunkedBadSize) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  EXPECT_EQ(p.Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 400);
}

TEST(HttpParser, BodyTooLargeIsRefusedBeforeItArrives) {
  HttpRequestParser p(HttpLimits{1024, 100});
  HttpRequest req;
  size_t used = 0;
  EXPECT_EQ(p.Parse("POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 413);
  EXPECT_NE(p.error_message().find("101"), std::string::npos);
  EXPECT_EQ(p.Parse("POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n", &req, &used), R::kIncomplete);
  // Chunked bodies count as they come.
  EXPECT_EQ(p.Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 413);
}

TEST(HttpParser, HeadersTooLarge) {
  HttpRequestParser p(HttpLimits{64, 100});
  HttpRequest req;
  size_t used = 0;
  EXPECT_EQ(p.Parse("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(HttpParser, MalformedInput) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  EXPECT_EQ(p.Parse("GARBAGE\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 400);
  EXPECT_EQ(p.Parse("GET / HTTP/2.0\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 505);
  EXPECT_EQ(p.Parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", &req, &used),
            R::kError);
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &req, &used), R::kError);
  EXPECT_EQ(p.error_status(), 501);
}

TEST(HttpParser, KeepAliveRules) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  ASSERT_EQ(p.Parse("GET / HTTP/1.0\r\n\r\n", &req, &used), R::kComplete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(p.Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req, &used), R::kComplete);
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(p.Parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &req, &used), R::kComplete);
  EXPECT_FALSE(req.keep_alive);
}

TEST(HttpParser, ExpectContinue) {
  HttpRequestParser p;
  HttpRequest req;
  size_t used = 0;
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &req, &used),
            R::kIncomplete);
  EXPECT_TRUE(p.wants_continue());
  EXPECT_EQ(p.Parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", &req, &used), R::kIncomplete);
  EXPECT_FALSE(p.wants_continue());
}

TEST(HttpMessage, SerializeResponseAndChunks) {
  HttpResponse r = HttpResponse::Json(404, "{}");
  EXPECT_EQ(SerializeResponse(r, true),
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
            "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(SerializeChunkedHead(200, {{"Content-Type", "text/event-stream"}}, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(SerializeChunk(std::string(26, 'x')), "1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_EQ(SerializeChunk(""), "");
}

}  // namespace
}  // namespace pagoda::server
