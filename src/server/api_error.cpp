#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace pagoda::server {

const char* ApiErrorType(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 403: return "PermissionDeniedError";
    case 404: return "NotFoundError";
    case 405: return "MethodNotAllowedError";
    case 408: return "TimeoutError";
    case 413: return "RequestTooLargeError";
    case 429: return "RateLimitError";
    case 503: return "ServiceUnavailableError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

ApiError MakeApiError(int status, std::string message, std::optional<std::string> param) {
  return ApiError{status, std::move(message), ApiErrorType(status), std::move(param)};
}

std::string ApiError::ToJson() const {
  nlohmann::json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}};
  if (param) e["param"] = *param;
  return nlohmann::json{{"error", std::move(e)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError ApiErrorFromStatus(const Status& status, std::optional<std::string> param) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented: return MakeApiError(400, status.message(), std::move(param));
    case StatusCode::kNotFound: return MakeApiError(404, status.message(), std::move(param));
    case StatusCode::kFailedPrecondition:
    case StatusCode::kResourceExhausted:
    case StatusCode::kCancelled: return MakeApiError(503, status.message(), std::move(param));
    default: return MakeApiError(500, status.message(), std::move(param));
  }
}

}  // namespace pagoda::server
