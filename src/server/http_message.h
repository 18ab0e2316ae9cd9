#pragma once
// HTTP/1.1 request and response values, as the server's loop and the routes
// exchange them. Plain data; any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagoda::server {

struct HttpRequest {
  std::string method;  // as sent ("GET", "POST", ...)
  std::string target;  // the request-target, e.g. "/v1/models?x=1"
  std::string path;    // target without the query
  std::string query;   // after '?', may be empty
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;
  bool keep_alive = true;  // from the version and the Connection header

  // The first header with this (lower-case) name, or null.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length, Connection, Date
  std::string body;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

const char* HttpStatusReason(int status);

// "HTTP/1.1 200 OK\r\n" + headers (incl. Content-Length, Connection) + "\r\n" + body.
std::string SerializeResponse(const HttpResponse& r, bool keep_alive);
// The head of a chunked response (Transfer-Encoding: chunked).
std::string SerializeChunkedHead(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                                 bool keep_alive);
// One chunk ("<hex size>\r\n<data>\r\n"); an empty `data` yields nothing (use kLastChunk).
std::string SerializeChunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace pagoda::server
