#include "textgrad/errors.h"

namespace tg {

const char* to_string(EngineErrorKind kind) {
  switch (kind) {
    case EngineErrorKind::kConnection:
      return "connection";
    case EngineErrorKind::kTimeout:
      return "timeout";
    case EngineErrorKind::kRateLimited:
      return "rate_limited";
    case EngineErrorKind::kServer:
      return "server";
    case EngineErrorKind::kBadRequest:
      return "bad_request";
    case EngineErrorKind::kAuthentication:
      return "authentication";
    case EngineErrorKind::kContextLength:
      return "context_length";
    case EngineErrorKind::kRefusal:
      return "refusal";
    case EngineErrorKind::kTruncated:
      return "truncated";
    case EngineErrorKind::kEmptyAnswer:
      return "empty_answer";
    case EngineErrorKind::kMalformed:
      return "malformed";
    case EngineErrorKind::kUnsupported:
      return "unsupported";
    case EngineErrorKind::kOffline:
      return "offline";
    case EngineErrorKind::kBudget:
      return "budget";
    case EngineErrorKind::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool is_transient(EngineErrorKind kind) {
  return kind == EngineErrorKind::kConnection || kind == EngineErrorKind::kTimeout ||
         kind == EngineErrorKind::kRateLimited || kind == EngineErrorKind::kServer;
}

}  // namespace tg
