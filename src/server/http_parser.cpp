#include "server/http_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pagoda::server {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) return false;
  }
  return true;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
  const std::string v = Lower(value);
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t end = v.find(',', pos);
    if (end == std::string::npos) end = v.size();
    if (Trim(std::string_view(v).substr(pos, end - pos)) == token) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

HttpRequestParser::Result HttpRequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return Result::kError;
}

HttpRequestParser::Result HttpRequestParser::Parse(std::string_view buf, HttpRequest* out, size_t* consumed) {
  wants_continue_ = false;
  // Tolerate empty lines before a request (RFC 9112 2.2).
  size_t start = 0;
  while (start + 1 < buf.size() && buf[start] == '\r' && buf[start + 1] == '\n') start += 2;
  const size_t head_end = buf.find("\r\n\r\n", start);
  if (head_end == std::string_view::npos) {
    if (buf.size() - start > limits_.max_header_bytes) return Fail(431, "request headers too large");
    return Result::kIncomplete;
  }
  if (head_end - start > limits_.max_header_bytes) return Fail(431, "request headers too large");
  const std::string_view head = buf.substr(start, head_end - start);
  const size_t body_start = head_end + 4;

  HttpRequest req;
  // Request line: METHOD SP target SP HTTP/1.x
  size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return Fail(400, "malformed request line");
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(req.method) || req.target.empty() || req.target.find(' ') != std::string::npos)
    return Fail(400, "malformed request line");
  if (version == "HTTP/1.1") {
    req.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    req.version_minor = 0;
  } else if (version.substr(0, 5) == "HTTP/") {
    return Fail(505, "HTTP version not supported: " + std::string(version));
  } else {
    return Fail(400, "malformed request line");
  }
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);

  // Header fields.
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    const std::string_view field = head.substr(pos, e - pos);
    pos = e + 2;
    if (field.empty()) continue;
    if (field.front() == ' ' || field.front() == '\t') return Fail(400, "obsolete header line folding");
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || !IsToken(field.substr(0, colon))) return Fail(400, "malformed header line");
    req.headers.emplace_back(Lower(field.substr(0, colon)), std::string(Trim(field.substr(colon + 1))));
  }

  const std::string* connection = req.Header("connection");
  req.keep_alive = req.version_minor >= 1 ? !(connection && ListHas(*connection, "close"))
                                          : (connection && ListHas(*connection, "keep-alive"));

  const std::string* te = req.Header("transfer-encoding");
  const std::string* cl = req.Header("content-length");
  if (te) {
    if (cl) return Fail(400, "both Transfer-Encoding and Content-Length");
    if (Lower(Trim(*te)) != "chunked") return Fail(501, "unsupported Transfer-Encoding: " + *te);
    // Chunked body: size line, data, CRLF ... a zero-size chunk, optional trailers, CRLF.
    std::string body;
    size_t p = body_start;
    for (;;) {
      const size_t le = buf.find("\r\n", p);
      if (le == std::string_view::npos) {
        if (buf.size() - p > 1024) return Fail(400, "malformed chunk size line");
        break;
      }
      std::string_view size_line = buf.substr(p, le - p);
      size_line = size_line.substr(0, size_line.find(';'));  // chunk extensions
      size_line = Trim(size_line);
      size_t size = 0;
      auto [ptr, ec] = std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
      if (ec != std::errc() || ptr != size_line.data() + size_line.size() || size_line.empty())
        return Fail(400, "malformed chunk size");
      if (size > limits_.max_body_bytes || body.size() + size > limits_.max_body_bytes)
        return Fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
      p = le + 2;
      if (size == 0) {
        // Trailers end with an empty line.
        const size_t te_end = buf.find("\r\n", p);
        if (te_end == std::string_view::npos) break;
        if (te_end == p) {
          req.body = std::move(body);
          *consumed = p + 2;
          *out = std::move(req);
          return Result::kComplete;
        }
        const size_t trailers_end = buf.find("\r\n\r\n", p);
        if (trailers_end == std::string_view::npos) break;
        req.body = std::move(body);
        *consumed = trailers_end + 4;
        *out = std::move(req);
        return Result::kComplete;
      }
      if (buf.size() < p + size + 2) break;
      if (buf.substr(p + size, 2) != "\r\n") return Fail(400, "malformed chunk");
      body.append(buf.substr(p, size));
      p += size + 2;
    }
    const std::string* expect = req.Header("expect");
    wants_continue_ = expect && Lower(*expect) == "100-continue" && p == body_start;
    return Result::kIncomplete;
  }

  size_t length = 0;
  if (cl) {
    auto [ptr, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (ec != std::errc() || ptr != cl->data() + cl->size() || cl->empty()) return Fail(400, "malformed Content-Length");
    // Repeated Content-Length headers must agree.
    for (const auto& [k, v] : req.headers)
      if (k == "content-length" && v != *cl) return Fail(400, "conflicting Content-Length headers");
  }
  if (length > limits_.max_body_bytes)
    return Fail(413, "request body of " + std::to_string(length) + " bytes is larger than the limit of " +
                         std::to_string(limits_.max_body_bytes) + " bytes");
  if (buf.size() - body_start < length) {
    const std::string* expect = req.Header("expect");
    wants_continue_ = expect && Lower(*expect) == "100-continue" && buf.size() == body_start;
    return Result::kIncomplete;
  }
  req.body = std::string(buf.substr(body_start, length));
  *consumed = body_start + length;
  *out = std::move(req);
  return Result::kComplete;
}

}  // namespace pagoda::server
