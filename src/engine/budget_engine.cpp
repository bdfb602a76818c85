// See Note [Budget reservations] in include/textgrad/budget.h.
#include <algorithm>

#include <fmt/format.h>

#include "textgrad/budget_guard.h"
#include "textgrad/errors.h"

namespace tg {

// Declared a friend in budget.h: the engine only forwards to its guard.
class BudgetEngine : public Engine {
 public:
  BudgetEngine(EnginePtr inner, std::shared_ptr<BudgetGuard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)), info_(inner_->info()) {}

  EngineInfo info() const override { return info_; }

  void submit(Request request, std::function<void(Outcome)> done) override {
    guard_->submit(inner_, info_, std::move(request), std::move(done));
  }

 private:
  EnginePtr inner_;
  std::shared_ptr<BudgetGuard> guard_;
  const EngineInfo info_;
};

namespace {

constexpr std::int64_t kImageTokens = 1000;
constexpr int kFirstOutputGuess = 500;

std::int64_t prompt_tokens(const Request& request) {
  std::int64_t tokens = static_cast<std::int64_t>(request.system_prompt.size() / 4);
  for (const ContentPart& part : request.content) {
    tokens += part.is_image() ? kImageTokens : static_cast<std::int64_t>(part.text.size() / 4);
  }
  return tokens + 1;
}

}  // namespace

BudgetGuard::BudgetGuard(std::shared_ptr<Ledger> ledger, Budget budget)
    : ledger_(std::move(ledger)), budget_(budget) {
  if (!ledger_) throw InvalidArgument("BudgetGuard needs a ledger");
}

BudgetGuard::~BudgetGuard() {
  const std::exception_ptr reason =
      stop_reason_ ? stop_reason_
                   : std::make_exception_ptr(EngineError(
                         EngineErrorKind::kCancelled, "the call was cancelled: the run stopped"));
  for (Waiting& call : waiting_) call.done(Outcome{reason, {}});
}

void BudgetGuard::cancel(std::exception_ptr reason) {
  {
    std::lock_guard lock(mu_);
    if (!stop_reason_) stop_reason_ = std::move(reason);
  }
  drain();
}

bool BudgetGuard::stopped() const {
  std::lock_guard lock(mu_);
  return stop_reason_ != nullptr;
}

std::exception_ptr BudgetGuard::stop_reason() const {
  std::lock_guard lock(mu_);
  return stop_reason_;
}

int BudgetGuard::pending() const {
  std::lock_guard lock(mu_);
  return in_flight_ + static_cast<int>(waiting_.size());
}

void BudgetGuard::wait_idle() const {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return in_flight_ == 0 && waiting_.empty(); });
}

void BudgetGuard::submit(const EnginePtr& inner, const EngineInfo& info, Request request,
                         std::function<void(Outcome)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back({inner, info, std::move(request), std::move(done)});
  }
  drain();
}

BudgetGuard::Estimate BudgetGuard::estimate(const EngineInfo& info, const Request& request) const {
  std::int64_t output = 0;
  if (answers_ > 0) {
    output = output_tokens_ / answers_;
  } else {
    const SamplingParams& sampling = request.sampling ? *request.sampling : info.default_sampling;
    output = std::min(sampling.max_tokens.value_or(kFirstOutputGuess), kFirstOutputGuess);
  }
  Usage usage{prompt_tokens(request), output, 0};
  const std::optional<double> usd = ledger_->prices().cost(info.provider, info.model, usage);
  return {usage.input_tokens + usage.output_tokens, usd.value_or(0)};
}

bool BudgetGuard::exhausted() const {
  const Totals spent = ledger_->total();
  const std::int64_t tokens = spent.usage.input_tokens + spent.usage.output_tokens;
  return (budget_.max_tokens && tokens >= *budget_.max_tokens) ||
         (budget_.max_usd && spent.cost_usd >= *budget_.max_usd);
}

bool BudgetGuard::fits(const Estimate& e) const {
  const Totals spent = ledger_->total();
  const std::int64_t tokens = spent.usage.input_tokens + spent.usage.output_tokens;
  return (!budget_.max_tokens || tokens + reserved_.tokens + e.tokens <= *budget_.max_tokens) &&
         (!budget_.max_usd || spent.cost_usd + reserved_.usd + e.usd <= *budget_.max_usd);
}

std::exception_ptr BudgetGuard::refusal() const {
  const Totals spent = ledger_->total();
  const std::int64_t tokens = spent.usage.input_tokens + spent.usage.output_tokens;
  const std::string limit =
      budget_.max_usd && spent.cost_usd >= *budget_.max_usd
          ? fmt::format("${:.4f} of a ${:.4f} budget", spent.cost_usd, *budget_.max_usd)
          : fmt::format("{} of a {}-token budget", tokens, budget_.max_tokens.value_or(0));
  return std::make_exception_ptr(BudgetExceeded(fmt::format(
      "budget reached: spent {} over {} calls; raise the budget to continue", limit, spent.calls)));
}

void BudgetGuard::drain() {
  {
    std::lock_guard lock(mu_);
    if (draining_) {
      redrain_ = true;
      return;
    }
    draining_ = true;
  }
  while (true) {
    std::vector<std::pair<Waiting, Estimate>> to_send;
    std::vector<Waiting> to_fail;
    std::exception_ptr reason;
    {
      std::lock_guard lock(mu_);
      redrain_ = false;
      while (!waiting_.empty()) {
        if (!stop_reason_ && exhausted()) stop_reason_ = refusal();
        if (stop_reason_) {
          reason = stop_reason_;
          for (Waiting& call : waiting_) to_fail.push_back(std::move(call));
          waiting_.clear();
          break;
        }
        const Estimate e = estimate(waiting_.front().info, waiting_.front().request);
        if (in_flight_ > 0 && !fits(e)) break;  // wait for the calls in flight
        ++in_flight_;
        reserved_.tokens += e.tokens;
        reserved_.usd += e.usd;
        to_send.emplace_back(std::move(waiting_.front()), e);
        waiting_.pop_front();
      }
      if (to_send.empty() && to_fail.empty()) {
        if (redrain_) continue;
        draining_ = false;
        if (in_flight_ == 0 && waiting_.empty()) idle_.notify_all();
        return;
      }
    }
    for (Waiting& call : to_fail) call.done(Outcome{reason, {}});
    for (auto& [call, e] : to_send) send(std::move(call), e);
  }
}

void BudgetGuard::send(Waiting call, Estimate e) {
  auto done = std::move(call.done);
  auto finish = [self = shared_from_this(), e, done](Outcome outcome) {
    self->finished(e, outcome);
    done(std::move(outcome));
  };
  try {
    call.inner->submit(std::move(call.request), finish);
  } catch (...) {
    finish(Outcome{std::current_exception(), {}});
  }
}

void BudgetGuard::finished(const Estimate& e, const Outcome& outcome) {
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    reserved_.tokens -= e.tokens;
    reserved_.usd -= e.usd;
    if (outcome.ok() && !outcome.response.from_cache) {
      ++answers_;
      output_tokens_ += outcome.response.usage.output_tokens;
    }
  }
  drain();
  std::lock_guard lock(mu_);
  if (in_flight_ == 0 && waiting_.empty()) idle_.notify_all();
}

EnginePtr with_budget(EnginePtr inner, std::shared_ptr<BudgetGuard> guard) {
  if (!inner || !guard) throw InvalidArgument("with_budget needs an engine and a guard");
  const EngineInfo info = inner->info();
  if (guard->budget().max_usd && !guard->ledger()->prices().is_priced(info.provider, info.model)) {
    throw InvalidArgument(fmt::format(
        "a dollar budget cannot be enforced on {}: the price table has no price for it; give its "
        "price in a price table or set a token budget instead",
        info.name));
  }
  return std::make_shared<BudgetEngine>(std::move(inner), std::move(guard));
}

}  // namespace tg
