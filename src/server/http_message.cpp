#include "server/http_message.h"

#include <cstdio>

namespace pagoda::server {

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  return HttpResponse{status, {{"Content-Type", "application/json"}}, std::move(body)};
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  return HttpResponse{status, {{"Content-Type", std::move(content_type)}}, std::move(body)};
}

const char* HttpStatusReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

void AppendHead(std::string* out, int status, const std::vector<std::pair<std::string, std::string>>& headers,
                bool keep_alive) {
  out->append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(HttpStatusReason(status)).append("\r\n");
  for (const auto& [k, v] : headers) out->append(k).append(": ").append(v).append("\r\n");
  out->append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
}

}  // namespace

std::string SerializeResponse(const HttpResponse& r, bool keep_alive) {
  std::string out;
  out.reserve(128 + r.body.size());
  AppendHead(&out, r.status, r.headers, keep_alive);
  out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
  out.append(r.body);
  return out;
}

std::string SerializeChunkedHead(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                                 bool keep_alive) {
  std::string out;
  AppendHead(&out, status, headers, keep_alive);
  out.append("Transfer-Encoding: chunked\r\n\r\n");
  return out;
}

std::string SerializeChunk(std::string_view data) {
  if (data.empty()) return {};
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size);
  out.append(data).append("\r\n");
  return out;
}

}  // namespace pagoda::server
