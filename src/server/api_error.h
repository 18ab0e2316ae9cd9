#pragma once
// ApiError: an OpenAI-shaped error, {"error": {"message", "type", "param", "code"}},
// with the HTTP status it is sent with. Plain data; any thread.

#include <optional>
#include <string>

#include "common/status.h"

namespace pagoda::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "BadRequestError";  // vLLM's names: BadRequestError, NotFoundError, ...
  std::optional<std::string> param;      // the request field at fault, when one is
  // OpenAI's body carries the status as `code` (vLLM does the same).

  std::string ToJson() const;
};

// The usual type for a status: 400 BadRequestError, 401 AuthenticationError, ...
const char* ApiErrorType(int status);

ApiError MakeApiError(int status, std::string message, std::optional<std::string> param = std::nullopt);
inline ApiError BadRequest(std::string message, std::optional<std::string> param = std::nullopt) {
  return MakeApiError(400, std::move(message), std::move(param));
}
// Maps an internal Status: InvalidArgument/OutOfRange/Unimplemented -> 400,
// FailedPrecondition/ResourceExhausted -> 503, NotFound -> 404, the rest 500.
ApiError ApiErrorFromStatus(const Status& status, std::optional<std::string> param = std::nullopt);

}  // namespace pagoda::server
