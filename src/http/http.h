// Plain HTTP request/response values shared by the transport and the provider codecs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  Headers headers;
  std::string body;
  double connect_timeout_s = 10;
  double total_timeout_s = 600;
};

struct HttpResponse {
  int status = 0;   // 0 when the transport failed before a status line arrived
  Headers headers;  // names lower-cased
  std::string body;
  double elapsed_ms = 0;
  // Case-insensitive lookup; empty when absent.
  std::string header(std::string_view name) const;
};

// Case-insensitive header lookup; empty when absent.
std::string header_value(const Headers& headers, std::string_view name);

// scheme://host[:port]/path of `url`: user info, query and fragment (which may carry
// credentials) removed, trailing slashes dropped. Names the server and route, never a key.
std::string url_without_credentials(std::string_view url);

}  // namespace tg::http
