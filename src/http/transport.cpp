#include "http/transport.h"

#include "util/executor.h"
#include "util/text.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tg::http {
namespace {

using Clock = std::chrono::steady_clock;

// A rogue or misconfigured server must not make us buffer without bound; real LLM answers
// are far smaller.
constexpr std::size_t kMaxBodyBytes = 64u << 20;
// Upper bound on one epoll wait; wakeups, socket events and curl's timer usually end it sooner.
constexpr int kMaxPollMs = 1000;
// Socket events taken per epoll_wait; more simply wait for the next round.
constexpr int kMaxEvents = 256;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::shared_ptr<const HttpRequest> request;  // shared: the body is sent straight from it
  TransportCallback done;
  Clock::time_point due;
  Clock::time_point started;
  CURL* easy = nullptr;  // borrowed from Impl's pool while the transfer runs
  curl_slist* headers = nullptr;
  HttpResponse response;
  bool body_too_large = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};
using TransferPtr = std::unique_ptr<Transfer>;

// scheme://host[:port] only: paths and queries may carry secrets (e.g. ?key=) and user info
// certainly does, so error messages name just the server.
std::string origin_of(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "<invalid URL>";
  const std::size_t host_start = scheme_end + 3;
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_start, host_end - host_start);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return std::string(url.substr(0, host_start)) + std::string(authority);
}

bool is_https(std::string_view url) { return util::lower(url.substr(0, 8)) == "https://"; }

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > kMaxBodyBytes) {
    transfer->body_too_large = true;
    return 0;  // makes curl abort the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

// Sizes the body buffer once from Content-Length (capped: the header is the server's word).
void reserve_body(std::string& body, std::string_view content_length) {
  std::size_t length = 0;
  const auto [end, ec] =
      std::from_chars(content_length.data(), content_length.data() + content_length.size(), length);
  if (ec == std::errc() && end == content_length.data() + content_length.size()) {
    body.reserve(std::min(length, kMaxBodyBytes));
  }
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  // A new status line starts a new response (e.g. after "100 Continue"); keep only the last.
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();
    return bytes;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string name = util::lower(util::trim_view(line.substr(0, colon)));
  const std::string_view value = util::trim_view(line.substr(colon + 1));
  if (name == "content-length") reserve_body(transfer->response.body, value);
  Headers& headers = transfer->response.headers;
  if (headers.empty()) headers.reserve(8);
  headers.emplace_back(std::move(name), std::string(value));
  return bytes;
}

long to_ms(double seconds) {
  if (seconds <= 0) return 0;  // curl: 0 = no limit
  return std::max(1L, static_cast<long>(std::llround(seconds * 1000.0)));
}

// The transport's User-Agent goes into the header list (unless the request names its own)
// rather than CURLOPT_USERAGENT, which curl 7.88 writes through its printf a character at a
// time twice, into a line and then into the request: 4 k instructions a call.
curl_slist* build_headers(const Headers& headers, const std::string& user_agent) {
  curl_slist* list = nullptr;
  const bool own_agent = std::any_of(headers.begin(), headers.end(), [](const auto& header) {
    return util::equals_ci(header.first, "User-Agent");
  });
  if (!own_agent && !user_agent.empty()) {
    list = curl_slist_append(list, ("User-Agent: " + user_agent).c_str());
  }
  for (const auto& [name, value] : headers) {
    // curl drops "Name:" with an empty value; "Name;" is its syntax for sending one.
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  // Big bodies (images) would otherwise wait up to a second for "100 Continue".
  return curl_slist_append(list, "Expect:");
}

// Sets both, whatever the handle's previous transfer used.
void set_method_and_body(CURL* easy, Transfer& transfer) {
  const std::string& method = transfer.request->method;
  const std::string& body = transfer.request->body;
  if (method != "GET" && (method == "POST" || !body.empty())) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  const bool custom = method != "GET" && method != "POST";
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, custom ? method.c_str() : nullptr);
}

// Note [Reusing easy handles]
// Finished handles go back to a pool and serve later transfers. They used to be reset
// (curl_easy_reset) and configured from scratch, which cost 11 k instructions a call: the reset
// alone 6.6 k, and curl parses or copies several of the options again. Now a handle gets the
// options that every transfer of the transport shares once, when it is created
// (configure_handle), and each transfer sets every option that can differ
// (configure_transfer), so nothing of an earlier transfer carries over. When a transfer ends,
// the options pointing into it are cleared (forget_transfer): an idle handle points at nothing.
// HttpTransportTest.AReusedHandleKeepsNothingOfItsLastTransfer sends a mix of methods, bodies,
// headers and timeouts through one handle.

void configure_handle(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // signals and threads do not mix
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  // gzip, which every API server speaks, rather than curl's whole list ("deflate, gzip, br,
  // zstd"): curl 7.88 writes header lines through its printf a character at a time, twice for
  // this one, and the longer list cost 6 k instructions a call (docs/performance.md).
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // an API redirect is an error to see
  // Verification is never disabled; these restate libcurl's defaults so nobody "fixes" them.
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  // Answers can take minutes; TCP keepalive stops idle NAT entries from silently dying.
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 15L);
}

// `url`: the request's URL parsed once (Note [Parsed URLs]), or null to have curl parse it.
void configure_transfer(CURL* easy, Transfer& transfer, CURLU* url,
                        const TransportOptions& options) {
  const HttpRequest& request = *transfer.request;
  curl_easy_setopt(easy, CURLOPT_CURLU, url);  // when set, it overrides CURLOPT_URL
  if (url == nullptr) curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_ms(request.connect_timeout_s));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, to_ms(request.total_timeout_s));
  // Only TLS can negotiate HTTP/2, so only there is it worth waiting for a connection to
  // reveal whether it multiplexes; on plain http:// waiting would serialise the first wave.
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, is_https(request.url) ? 1L : 0L);
  transfer.headers = build_headers(request.headers, options.user_agent);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
  set_method_and_body(easy, transfer);
}

void forget_transfer(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
}

std::string curl_detail(CURLcode code, const Transfer& transfer) {
  const std::string_view buffer = util::trim_view(transfer.error_buffer);
  return buffer.empty() ? curl_easy_strerror(code) : std::string(buffer);
}

bool is_tls_verification_error(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
      return true;
    default:
      return false;
  }
}

TransportError classify(CURLcode code, const Transfer& transfer) {
  const std::string origin = origin_of(transfer.request->url);
  const std::string detail = curl_detail(code, transfer);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return {EngineErrorKind::kTimeout,
            "no complete answer from " + origin + " within the timeout (" + detail +
                "); raise the timeout if the model is slow",
            true};
  }
  if (transfer.body_too_large) {
    return {EngineErrorKind::kMalformed,
            "the answer from " + origin + " exceeded " + std::to_string(kMaxBodyBytes >> 20) +
                " MiB and was abandoned",
            false};
  }
  if (is_tls_verification_error(code)) {
    return {EngineErrorKind::kConnection,
            "TLS verification of " + origin + " failed (" + detail +
                "); verification is never disabled: install the server's CA certificate in "
                "the system store, or use http:// for a local server",
            false};
  }
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    return {
        EngineErrorKind::kBadRequest,
        "cannot send to " + origin + " (" + detail + "); check the base URL (http:// or https://)",
        false};
  }
  return {EngineErrorKind::kConnection, "connection to " + origin + " failed: " + detail, true};
}

}  // namespace

// The I/O loop is libcurl's multi_socket API on an epoll set: each round costs in proportion to
// the sockets that have something to do, not to the number of transfers in flight.
struct Transport::Impl {
  explicit Impl(TransportOptions opts) : options(std::move(opts)) {
    init_curl_once();
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event wake_event{};
    wake_event.events = EPOLLIN;
    wake_event.data.fd = wake_fd;
    if (epoll_fd < 0 || wake_fd < 0 ||
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wake_event) != 0) {
      const int error = errno;
      close_fds();
      throw std::system_error(error, std::generic_category(), "cannot set up the HTTP transport");
    }
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
    // Keep as many idle connections as we may open, so bursts reuse them instead of
    // reconnecting (libcurl's default cache shrinks with the number of live transfers).
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, std::max(16L, options.max_host_connections));
  }
  ~Impl() { close_fds(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void run();
  // Note [Starting a request on the sender's thread]. Any thread but the I/O thread. True
  // when the transfer is running; false (and `transfer` untouched) when the I/O thread must
  // start it.
  bool start_here(TransferPtr& transfer);
  // Ends the I/O thread's wait. Any thread; safe until Impl is destroyed.
  void wake() const {
    const std::uint64_t one = 1;
    // Fails only when the counter is saturated, and then a wakeup is pending anyway.
    [[maybe_unused]] const ssize_t written = ::write(wake_fd, &one, sizeof one);
  }

  const TransportOptions options;
  CURLM* multi = nullptr;  // with loop_mutex_ held; null once the transport shut down
  int epoll_fd = -1;
  int wake_fd = -1;  // an eventfd in the epoll set
  std::atomic<std::size_t> pending{0};

  std::mutex mutex;
  std::vector<TransferPtr> incoming;  // guarded by mutex
  bool stop_requested = false;        // guarded by mutex
  std::atomic<std::thread::id> io_thread{};
  // The I/O thread waits for events, or is about to, and has seen `incoming` empty: a request
  // queued now needs a wakeup. Guarded by mutex. A request queued while it is busy needs none:
  // it looks at `incoming` again before it waits.
  bool io_waiting = false;

 private:
  static int on_socket(CURL* easy, curl_socket_t socket, int what, void* user, void* assigned);
  static int on_close(void* user, curl_socket_t socket);
  static int on_timer(CURLM* multi, long timeout_ms, void* user);
  void watch(curl_socket_t socket, std::uint32_t events);
  void unwatch(curl_socket_t socket);
  void close_fds();
  bool admit_incoming();
  bool about_to_wait();
  void start_due();
  void start(TransferPtr transfer);
  bool begin(TransferPtr& transfer);
  void run_curl_timer();
  void send_if_connected(curl_socket_t socket);
  void dispatch(const epoll_event& event);
  void collect_finished();
  int wait_timeout_ms() const;
  void cancel_everything();
  void finish(TransferPtr transfer, TransportResult result);
  CURL* acquire_easy();
  void release_easy(CURL* easy);
  CURLU* parsed_url(const std::string& url);

  // Everything below belongs to whoever holds loop_mutex_: the I/O thread, except while it
  // waits for events, and then a sender (Note [Starting a request on the sender's thread]).
  std::mutex loop_mutex_;
  Clock::time_point wakes_at_;  // when the I/O thread's current wait ends at the latest
  int running_ = 0;             // transfers libcurl still runs, as of its last call
  // The last socket that joined the set to wait for its connect. Only start() reads it, right
  // after clearing it (a sender's start_here() may leave it set).
  curl_socket_t connecting_ = CURL_SOCKET_BAD;
  std::multimap<Clock::time_point, TransferPtr> delayed_;
  std::unordered_map<CURL*, TransferPtr> active_;
  std::vector<TransferPtr> batch_;  // admit_incoming's buffer, kept for its capacity
  // Finished easy handles, reset and ready for the next transfer: creating one per request
  // costs more than the transfer's own bookkeeping. Connections live in the multi handle.
  std::vector<CURL*> idle_easy_;
  // When libcurl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT); unset: never.
  std::optional<Clock::time_point> curl_timer_;
  // The sockets in the epoll set and the events each is watched for; `idle` once libcurl no
  // longer asks about it. Note [Idle sockets stay in the epoll set].
  struct Watched {
    std::uint32_t events = 0;
    bool idle = false;
  };
  std::unordered_map<curl_socket_t, Watched> watched_;
  // Note [Parsed URLs]. Never erased: a transfer in flight may use any of them.
  struct UrlCleanup {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
  };
  std::unordered_map<std::string, std::unique_ptr<CURLU, UrlCleanup>> parsed_urls_;
};

// Note [Idle sockets stay in the epoll set]
// libcurl takes a connection's socket out of its interest (CURL_POLL_REMOVE) whenever a transfer
// on it ends, and asks for it again when the next transfer reuses the connection. Mirrored
// literally, that is an EPOLL_CTL_ADD and an EPOLL_CTL_DEL for every call whose answer is not
// there at once (3-4 µs of system time on our virtual machines; docs/performance.md). Instead an
// idle socket stays in the set, marked idle, and the next request for the same events costs
// nothing. Two things follow:
// - An idle socket can report an event: the server closed the connection, which stays readable
//   until someone reads it. dispatch() then takes it out of the set for real, or the loop would
//   spin; libcurl finds the connection dead when it next tries to reuse it.
// - A socket must leave the set before it is closed: a closed descriptor's number comes back
//   for the next socket, which would otherwise be taken for one already watched and not be added
//   (a connect is then seen only by libcurl's 200 ms timer), and a descriptor a child process
//   inherited would keep reporting. libcurl closes its sockets through on_close
//   (CURLOPT_CLOSESOCKETFUNCTION), which does that.
// HttpTransportTest.ClosedSocketsAreNotTakenForWatchedOnes and
// HttpTransportTest.AnIdleConnectionTheServerClosesDoesNotSpin check both.

int Transport::Impl::on_socket(CURL* /*easy*/, curl_socket_t socket, int what, void* user,
                               void* /*assigned*/) {
  auto* impl = static_cast<Impl*>(user);
  if (what == CURL_POLL_REMOVE) {
    if (const auto found = impl->watched_.find(socket); found != impl->watched_.end()) {
      found->second.idle = true;
    }
    return 0;
  }
  impl->watch(socket, ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) |
                          ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u));
  return 0;
}

void Transport::Impl::watch(curl_socket_t socket, std::uint32_t events) {
  const auto [found, added] = watched_.try_emplace(socket);
  if (added && (events & EPOLLOUT) != 0) connecting_ = socket;
  Watched& watched = found->second;
  watched.idle = false;
  if (!added && watched.events == events) return;
  epoll_event event{};
  event.events = events;
  event.data.fd = socket;
  if (epoll_ctl(epoll_fd, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, socket, &event) != 0) {
    epoll_ctl(epoll_fd, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket, &event);  // unexpected
  }
  watched.events = events;
}

void Transport::Impl::unwatch(curl_socket_t socket) {
  if (socket == connecting_) connecting_ = CURL_SOCKET_BAD;  // closing: nothing to send on
  if (watched_.erase(socket) != 0) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, socket, nullptr);
}

int Transport::Impl::on_close(void* user, curl_socket_t socket) {
  static_cast<Impl*>(user)->unwatch(socket);
  return ::close(socket);
}

int Transport::Impl::on_timer(CURLM* /*multi*/, long timeout_ms, void* user) {
  auto* impl = static_cast<Impl*>(user);
  if (timeout_ms < 0) {
    impl->curl_timer_.reset();
  } else {
    impl->curl_timer_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

void Transport::Impl::close_fds() {
  if (epoll_fd >= 0) ::close(std::exchange(epoll_fd, -1));
  if (wake_fd >= 0) ::close(std::exchange(wake_fd, -1));
}

void Transport::Impl::run() {
  util::mark_must_not_block();  // Note [Threads that must not block]
  io_thread = std::this_thread::get_id();
  std::vector<epoll_event> events(kMaxEvents);
  std::unique_lock loop(loop_mutex_);
  while (admit_incoming()) {
    start_due();
    run_curl_timer();
    collect_finished();
    const int timeout_ms = about_to_wait() ? wait_timeout_ms() : 0;
    wakes_at_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    loop.unlock();
    const int ready = epoll_wait(epoll_fd, events.data(), kMaxEvents, timeout_ms);
    loop.lock();
    for (int i = 0; i < ready; ++i) dispatch(events[static_cast<std::size_t>(i)]);
  }
  cancel_everything();
}

// Note [Starting a request on the sender's thread]
// A request sent while the I/O thread waits for events used to cost two more thread switches
// before it reached the wire: the sender wrote the eventfd, and the I/O thread woke, started the
// transfer and went back to waiting. On our virtual machines a wake-up on another core costs
// 20-25 us of CPU (docs/performance.md, "What a wake-up costs here"), and a program that sends
// one request at a time paid it on every call. So a sender starts the transfer itself when
// nothing is in flight: the I/O thread gives loop_mutex_ up only while it waits in epoll_wait,
// and a sender that gets it (try_lock: a sender never waits for the I/O thread) adds its
// transfer to the multi handle and lets libcurl send it. The sockets it uses join the epoll set
// the I/O thread waits on, so the answer wakes the I/O thread as before, and the completion
// callback runs there: a sender never runs callbacks.
//
// Only when nothing is in flight: in a burst, answers to the first requests arrive while the
// sender starts the next ones, and the I/O thread would then sleep on loop_mutex_ and be woken
// again, which costs what the sender saved (measured in docs/performance.md). The rest of a
// burst is queued and costs one wake-up together, as before.
//
// Two things can need the I/O thread before its wait ends, and the sender then wakes it:
// - libcurl asked for a timer that expires earlier (a total timeout shorter than the wait, a
//   new connection's timers);
// - a transfer ended while the sender drove libcurl (a URL it refuses fails at once), and its
//   callback must run.
// HttpTransportTest.RequestsStartedBySendersTimeOutOnTime and
// HttpTransportTest.RequestsThatFailWhileStartingAreReportedAtOnce check both.
bool Transport::Impl::start_here(TransferPtr& transfer) {
  if (io_thread.load() == std::this_thread::get_id()) return false;
  std::unique_lock loop(loop_mutex_, std::try_to_lock);
  // No multi handle: the transport shut down, and send() reports that.
  if (!loop.owns_lock() || multi == nullptr || !active_.empty()) return false;
  if (!begin(transfer)) return false;
  pending.fetch_add(1);
  run_curl_timer();  // adding the handle asked for a timeout of 0: this sends the request
  const bool ended = static_cast<std::size_t>(running_) < active_.size();
  if (ended || (curl_timer_ && *curl_timer_ < wakes_at_)) wake();
  return true;
}

void Transport::Impl::dispatch(const epoll_event& event) {
  if (event.data.fd == wake_fd) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t read = ::read(wake_fd, &count, sizeof count);
    return;
  }
  if (const auto found = watched_.find(event.data.fd);
      found != watched_.end() && found->second.idle) {
    unwatch(event.data.fd);  // Note [Idle sockets stay in the epoll set]
    return;
  }
  int action = 0;
  if ((event.events & (EPOLLIN | EPOLLHUP)) != 0) action |= CURL_CSELECT_IN;
  if ((event.events & EPOLLOUT) != 0) action |= CURL_CSELECT_OUT;
  if ((event.events & EPOLLERR) != 0) action |= CURL_CSELECT_ERR;
  curl_multi_socket_action(multi, event.data.fd, action, &running_);
}

void Transport::Impl::run_curl_timer() {
  if (!curl_timer_ || *curl_timer_ > Clock::now()) return;
  // Cleared first: libcurl sets the next deadline from inside the call.
  curl_timer_.reset();
  curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running_);
}

// False when requests were queued since the round began (the callbacks' follow-ups among them):
// they start in the next round, and the wait only looks for events.
bool Transport::Impl::about_to_wait() {
  std::lock_guard lock(mutex);
  io_waiting = incoming.empty() && !stop_requested;
  return io_waiting;
}

// Moves newly sent requests onto the I/O thread; false once shutdown was requested.
bool Transport::Impl::admit_incoming() {
  {
    std::lock_guard lock(mutex);
    if (stop_requested) return false;
    batch_.swap(incoming);
    io_waiting = false;
  }
  const Clock::time_point now = Clock::now();
  for (TransferPtr& transfer : batch_) {
    if (transfer->due <= now) {
      start(std::move(transfer));
    } else {
      const Clock::time_point due = transfer->due;
      delayed_.emplace(due, std::move(transfer));
    }
  }
  batch_.clear();
  return true;
}

void Transport::Impl::start_due() {
  const Clock::time_point now = Clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    TransferPtr transfer = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    start(std::move(transfer));
  }
}

CURL* Transport::Impl::acquire_easy() {
  if (idle_easy_.empty()) {
    CURL* easy = curl_easy_init();
    if (easy != nullptr) {
      configure_handle(easy);
      // Note [Idle sockets stay in the epoll set]
      curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close);
      curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
    }
    return easy;
  }
  CURL* easy = idle_easy_.back();
  idle_easy_.pop_back();
  return easy;
}

void Transport::Impl::release_easy(CURL* easy) {
  if (easy == nullptr) return;
  // The pool never holds more handles than were in flight at once, up to the connection cap.
  if (idle_easy_.size() < static_cast<std::size_t>(std::max(16L, options.max_host_connections))) {
    forget_transfer(easy);  // Note [Reusing easy handles]
    idle_easy_.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
}

// Note [Parsed URLs]
// curl parses a transfer's URL (CURLOPT_URL) into a URL handle for every transfer (with what
// follows from it, 12 k instructions of a training call), although a run sends its thousands of
// requests to a handful of URLs. A URL handle given with CURLOPT_CURLU, which curl only reads, is
// parsed once here and serves every transfer to that URL, concurrent ones included (they all run on
// this thread). The parse uses the flags curl itself parses CURLOPT_URL with; a URL it refuses is
// left to curl, which then fails the transfer as before. Up to kParsedUrls distinct URLs are kept
// for the transport's life; further ones are parsed by curl each time
// (HttpTransportTest.ManyDistinctUrls).
constexpr std::size_t kParsedUrls = 32;

CURLU* Transport::Impl::parsed_url(const std::string& url) {
  if (const auto found = parsed_urls_.find(url); found != parsed_urls_.end()) {
    return found->second.get();
  }
  if (parsed_urls_.size() >= kParsedUrls) return nullptr;
  std::unique_ptr<CURLU, UrlCleanup> parsed(curl_url());
  if (parsed == nullptr ||
      curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(),
                   CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return nullptr;
  }
  return parsed_urls_.emplace(url, std::move(parsed)).first->second.get();
}

void Transport::Impl::start(TransferPtr transfer) {
  if (!begin(transfer)) {
    const std::string origin = origin_of(transfer->request->url);
    finish(std::move(transfer), {{},
                                 TransportError{EngineErrorKind::kConnection,
                                                "could not start a request to " + origin, true}});
    return;
  }
  connecting_ = CURL_SOCKET_BAD;
  run_curl_timer();  // sends the request on a reused connection, or starts a connect
  if (connecting_ != CURL_SOCKET_BAD) send_if_connected(connecting_);
}

// Note [Sending on a new connection at once]
// libcurl opens a connection in two steps: connect() in one pass, and the request once epoll
// reports the socket writable. The transport used to add a whole batch of transfers and let
// libcurl run them in one pass, so a burst that needed new connections (a large evaluation's
// first wave: 256 of them) connected every socket before it sent any request, and the server
// could start on none of them until the last connect was made. Now start() runs each transfer
// as soon as it is added, and when that began a connect it polls the new socket at once,
// without waiting: to a server on this machine or nearby the connect is already done (or
// refused), the socket is handled as the loop would handle its event, and the request goes out
// before the next transfer starts, so the server works on the first requests while the client
// still opens connections for the others. Where the connect takes a round trip, the poll finds
// nothing and the loop's wait sees the socket as before. On reused connections libcurl sends
// in the first pass anyway; they pay one curl_multi_socket_action() a transfer instead of one a
// batch (about 1 k instructions). Measured in docs/performance.md.
void Transport::Impl::send_if_connected(curl_socket_t socket) {
  pollfd polled{socket, POLLOUT, 0};
  if (::poll(&polled, 1, 0) != 1) return;
  epoll_event event{};
  event.data.fd = socket;
  if ((polled.revents & POLLOUT) != 0) event.events |= EPOLLOUT;
  if ((polled.revents & POLLERR) != 0) event.events |= EPOLLERR;
  if ((polled.revents & POLLHUP) != 0) event.events |= EPOLLHUP;
  dispatch(event);
}

// Gives the transfer an easy handle, adds it to the multi handle and takes it into active_;
// false (and `transfer` kept) if it could not start.
bool Transport::Impl::begin(TransferPtr& transfer) {
  transfer->started = Clock::now();
  CURL* easy = acquire_easy();
  if (easy != nullptr) {
    configure_transfer(easy, *transfer, parsed_url(transfer->request->url), options);
  }
  if (easy == nullptr || curl_multi_add_handle(multi, easy) != CURLM_OK) {
    release_easy(easy);
    return false;
  }
  transfer->easy = easy;
  active_.emplace(easy, std::move(transfer));
  return true;
}

void Transport::Impl::collect_finished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    auto found = active_.find(easy);
    if (found == active_.end()) continue;
    TransferPtr transfer = std::move(found->second);
    active_.erase(found);
    curl_multi_remove_handle(multi, easy);

    TransportResult result;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      transfer->response.status = static_cast<int>(status);
      transfer->response.elapsed_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - transfer->started).count();
      result.response = std::move(transfer->response);
    } else {
      result.error = classify(code, *transfer);
    }
    release_easy(std::exchange(transfer->easy, nullptr));
    finish(std::move(transfer), std::move(result));
  }
}

int Transport::Impl::wait_timeout_ms() const {
  std::optional<Clock::time_point> until = curl_timer_;
  if (!delayed_.empty() && (!until || delayed_.begin()->first < *until)) {
    until = delayed_.begin()->first;
  }
  if (!until) return kMaxPollMs;
  // Rounded up: waking before the deadline would only come back here to wait again.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*until - Clock::now());
  return static_cast<int>(std::clamp<long long>(wait.count(), 0, kMaxPollMs));
}

void Transport::Impl::cancel_everything() {
  std::vector<TransferPtr> queued;
  {
    std::lock_guard lock(mutex);
    queued.swap(incoming);
  }
  std::vector<TransferPtr> all = std::move(queued);
  for (auto& [easy, transfer] : active_) {
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(std::exchange(transfer->easy, nullptr));
    all.push_back(std::move(transfer));
  }
  active_.clear();
  for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
  idle_easy_.clear();
  for (auto& [due, transfer] : delayed_) all.push_back(std::move(transfer));
  delayed_.clear();
  for (TransferPtr& transfer : all) {
    const std::string origin = origin_of(transfer->request->url);
    finish(std::move(transfer),
           {{},
            TransportError{
                EngineErrorKind::kCancelled,
                "the HTTP transport shut down before the request to " + origin + " completed",
                false}});
  }
  curl_multi_cleanup(multi);
  multi = nullptr;
}

void Transport::Impl::finish(TransferPtr transfer, TransportResult result) {
  TransportCallback done = std::move(transfer->done);
  transfer.reset();  // its easy handle went back to the pool (or was freed) already
  pending.fetch_sub(1);
  try {
    done(std::move(result));
  } catch (...) {
    // A throwing callback must not take the I/O thread (and every other request) down.
  }
}

Transport::Transport(TransportOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  thread_ = std::thread([impl = impl_] { impl->run(); });
}

Transport::~Transport() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = true;
    impl_->wake();
  }
  // From one of our own callbacks the I/O thread cannot join itself; it finishes the
  // cancellation on its own, keeping Impl alive through its shared_ptr.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void Transport::send(HttpRequest request, TransportCallback done, std::chrono::milliseconds delay) {
  send(std::make_shared<const HttpRequest>(std::move(request)), std::move(done), delay);
}

void Transport::send(std::shared_ptr<const HttpRequest> request, TransportCallback done,
                     std::chrono::milliseconds delay) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->due = Clock::now() + delay;
  if (delay.count() <= 0 && impl_->start_here(transfer)) return;
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->stop_requested) {
      impl_->pending.fetch_add(1);
      impl_->incoming.push_back(std::move(transfer));
      // One wakeup covers every request queued until the I/O thread takes the batch.
      if (std::exchange(impl_->io_waiting, false)) impl_->wake();
      return;
    }
  }
  const std::string origin = origin_of(transfer->request->url);
  TransportCallback callback = std::move(transfer->done);
  try {
    callback({{},
              TransportError{
                  EngineErrorKind::kCancelled,
                  "the HTTP transport is shutting down; the request to " + origin + " was not sent",
                  false}});
  } catch (...) {
    // Same contract as on the I/O thread: callback exceptions are swallowed.
  }
}

std::size_t Transport::pending() const { return impl_->pending.load(); }

}  // namespace tg::http
