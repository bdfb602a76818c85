// HTTP semantics the codecs rely on: header lookup, HTTP dates, durations, and the waits
// servers ask for (Retry-After and the delays named in error messages). Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace tg::providers {

using http::header_value;

// Seconds since the Unix epoch for an HTTP-date (IMF-fixdate, RFC 850 or asctime form).
std::optional<std::int64_t> parse_http_date(std::string_view text);

// Durations as servers write them: "57.2s", "20ms", "1m30s", "6m0s", "1h2m3.5s".
std::optional<double> parse_duration(std::string_view text);

// retry-after-ms, then Retry-After (seconds, fractional seconds or HTTP-date relative to `now`).
std::optional<double> retry_after_from_headers(const http::HttpResponse& response,
                                               std::chrono::system_clock::time_point now);

// A delay named in an error message: OpenAI's "Please try again in 5.289s.", Gemini's
// "Please retry in 57.2s."
std::optional<double> retry_after_from_message(std::string_view message);

}  // namespace tg::providers
