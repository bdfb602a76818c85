#include "http/http.h"

#include <algorithm>
#include <cctype>

#include "util/text.h"

namespace tg::http {

std::string header_value(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (util::equals_ci(key, name)) return value;
  }
  return {};
}

std::string HttpResponse::header(std::string_view name) const {
  return header_value(headers, name);
}

std::string url_without_credentials(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const std::size_t scheme_end = url.find("://");
  const std::size_t host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const std::size_t path_start = std::min(url.find('/', host_start), url.size());
  const std::string_view authority = url.substr(host_start, path_start - host_start);
  const std::size_t at = authority.rfind('@');
  std::string out(url.substr(0, host_start));
  out += at == std::string_view::npos ? authority : authority.substr(at + 1);
  out += url.substr(path_start);
  while (out.ends_with('/')) out.pop_back();
  return out;
}

}  // namespace tg::http
