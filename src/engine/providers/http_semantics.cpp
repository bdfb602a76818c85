#include "engine/providers/http_semantics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <vector>

#include "util/text.h"

namespace tg::providers {
namespace {

// A whole-string, locale-independent number.
std::optional<double> parse_number(std::string_view text) {
  text = util::trim_view(text);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> non_negative(std::optional<double> value) {
  if (!value || *value < 0) return std::nullopt;
  return value;
}

// Splits an HTTP-date into words, dropping the separators of all three forms.
std::vector<std::string_view> date_tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    bool separator =
        i == text.size() || text[i] == ' ' || text[i] == ',' || text[i] == '-' || text[i] == ':';
    if (!separator) continue;
    if (i > start) tokens.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  return tokens;
}

std::optional<int> parse_month(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (util::equals_ci(text, kMonths[i])) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), so no
// dependence on the C library's time zone handling.
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::vector<std::string_view> tokens = date_tokens(util::trim_view(text));
  // The weekday carries no information.
  if (!tokens.empty() && !parse_month(tokens.front()) && !util::parse_int(tokens.front())) {
    tokens.erase(tokens.begin());
  }
  if (tokens.size() < 6) return std::nullopt;
  std::optional<int> day, month, year, hour, minute, second;
  if (parse_month(tokens[0])) {  // asctime: Nov 6 08:49:37 1994
    month = parse_month(tokens[0]);
    day = util::parse_int(tokens[1]);
    hour = util::parse_int(tokens[2]);
    minute = util::parse_int(tokens[3]);
    second = util::parse_int(tokens[4]);
    year = util::parse_int(tokens[5]);
  } else {  // IMF-fixdate 06 Nov 1994 08:49:37 GMT, RFC 850 06-Nov-94 08:49:37 GMT
    day = util::parse_int(tokens[0]);
    month = parse_month(tokens[1]);
    year = util::parse_int(tokens[2]);
    hour = util::parse_int(tokens[3]);
    minute = util::parse_int(tokens[4]);
    second = util::parse_int(tokens[5]);
    // RFC 850's two-digit year; RFC 9110 says to read it as the nearest plausible century.
    if (year && tokens[2].size() == 2) *year += *year < 70 ? 2000 : 1900;
  }
  if (!day || !month || !year || !hour || !minute || !second) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60 || *hour < 0 ||
      *minute < 0 || *second < 0) {
    return std::nullopt;
  }
  return days_from_civil(*year, *month, *day) * 86400 + *hour * 3600 + *minute * 60 + *second;
}

std::optional<double> parse_duration(std::string_view text) {
  text = util::trim_view(text);
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 0) return std::nullopt;
    text.remove_prefix(end - text.data());
    if (text.starts_with("ms")) {
      total += value / 1000;
      text.remove_prefix(2);
    } else if (text.starts_with("h")) {
      total += value * 3600;
      text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      total += value * 60;
      text.remove_prefix(1);
    } else if (text.starts_with("s")) {
      total += value;
      text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::optional<double> retry_after_from_headers(const http::HttpResponse& response,
                                               std::chrono::system_clock::time_point now) {
  if (std::string ms = header_value(response.headers, "retry-after-ms"); !ms.empty()) {
    if (std::optional<double> value = non_negative(parse_number(ms))) return *value / 1000;
  }
  const std::string retry_after = header_value(response.headers, "retry-after");
  if (retry_after.empty()) return std::nullopt;
  if (std::optional<double> seconds = parse_number(retry_after)) return non_negative(seconds);
  std::optional<std::int64_t> date = parse_http_date(retry_after);
  if (!date) return std::nullopt;
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return std::max(0.0, static_cast<double>(*date) - now_s);
}

std::optional<double> retry_after_from_message(std::string_view message) {
  // OpenAI: "Please try again in 5.289s."; Gemini: "Please retry in 57.2s."
  static constexpr std::array<std::string_view, 2> kMarkers = {"try again in ", "retry in "};
  for (std::string_view marker : kMarkers) {
    const std::size_t at = util::lower(message).find(marker);
    if (at == std::string::npos) continue;
    std::string_view rest = message.substr(at + marker.size());
    rest = rest.substr(0, rest.find_first_of(" \t\r\n,;"));
    while (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
    return parse_duration(rest);
  }
  return std::nullopt;
}

}  // namespace tg::providers
