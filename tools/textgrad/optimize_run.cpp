#include "optimize_run.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "evaluate.h"
#include "report.h"
#include "run_summary.h"
#include "search_run.h"
#include "textgrad/graph.h"
#include "textgrad/limits.h"
#include "textgrad/textgrad.h"
#include "util/clip.h"
#include "util/executor.h"
#include "util/text.h"
#include "worker_dispatch.h"

namespace tg::cli {
namespace {

using nlohmann::json;

class Interrupted : public Error {
 public:
  using Error::Error;
};

std::string percent(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}%", *value * 100) : std::string("–");
}

// A training loss is "1"/"0" for string metrics and a judge's <ACCURACY> verdict otherwise.
std::optional<int> score_of_loss(const std::string& loss) {
  const std::string text = util::trim(loss);
  if (text == "0" || text == "1") return text == "1";
  auto inside = util::extract_tagged(text, "<ACCURACY>", "</ACCURACY>");
  if (inside && (*inside == "0" || *inside == "1")) return *inside == "1";
  return std::nullopt;
}

bool sequential_protocol() {
  const char* value = std::getenv("TEXTGRAD_SEQUENTIAL_PROTOCOL");
  return value != nullptr && std::string(value) == "1";
}

// Note [Room for the chain]
// The overlapped test is submitted just before the next step's training, and each of its
// answers frees a slot that its own queued calls take at once. Under one in-flight limit the
// training chain (at most a batch of calls at a time) would then find every slot taken at
// each of its links and lose a whole answer time per link: at 32 in flight, about 12 % of the
// protocol's wall time. So the overlapped test runs under a limit of its own that leaves
// room for one batch (at most a quarter of the slots). The test then takes a round longer
// only where it has more calls than the training leaves room for, and it is off the critical
// path. What is sent and recorded does not change.
EnginePtr room_for_the_chain(const EnginePtr& forward, const OptimizeFlags& flags) {
  const int limit = flags.engines.max_in_flight;
  if (limit <= 1 || eval_workers_of(*forward)) return forward;
  const int room = std::min(flags.batch_size, limit / 4);
  return room > 0 ? with_limits(forward, {limit - room, 0, 0}) : forward;
}

}  // namespace

// Note [Pipelined protocol]
// Nothing in step k+1 depends on step k's test evaluation (only validation decides a revert),
// so that evaluation runs on the executor while step k+1 trains and validates; step 0's test
// overlaps step 1 (step 0 validates first). What a run records stays that of the sequential
// order (validate -> test at step 0, then train -> validate -> test for each step):
// - a step's record is complete (prompt, gate, optimizer state) before the next step starts;
//   only its test results wait. Its files and its step event are written by the run's thread,
//   in step order, once its test is done (complete_test), before the next record is;
// - every call is tagged with the step it belongs to: the overlapped test's calls (and judge
//   calls scoring them) carry a tagger fixed at its step (CallTagger::at_step), and call events
//   take their step from the tag, not from the step running when the answer arrives;
// - a step counts as done only once its file exists, so a run killed while step k's test is
//   in flight resumes at step k and redoes it from the cache (or from the same answers);
// - when a run stops (budget, Ctrl-C, an error) it waits for the test in flight and writes
//   that step if its test finished (settle_test), so the step files are always a prefix of
//   the sequential run's.
// TEXTGRAD_SEQUENTIAL_PROTOCOL=1 restores the strict order (tests compare the two), and so
// does a budget: pipelined, the next step's training would spend what the test needed, and a
// budget stop would land a step earlier than in the sequential order. The GEPA
// path has nothing to overlap: its one test evaluation ends the run.

OptimizeRun::OptimizeRun(OptimizeFlags flags, Task task, Engines engines, RunDir dir,
                         std::string initial)
    : flags_(std::move(flags)),
      task_(std::move(task)),
      engines_(std::move(engines)),
      dir_(std::move(dir)),
      initial_(std::move(initial)),
      progress_(flags_.output.quiet, engines_.ledger),
      overlapped_progress_(true, engines_.ledger),
      // With a budget the order decides where a stop lands: keep the sequential one.
      sequential_(sequential_protocol() || flags_.engines.budget_usd > 0 ||
                  flags_.engines.budget_tokens > 0),
      test_engine_(sequential_ ? engines_.forward : room_for_the_chain(engines_.forward, flags_)),
      trace_(dir_.path() / "trace.sqlite", parse_trace_level(flags_.trace)),
      tagger_([this](const TracedCall& call) { observe(call); }),
      events_(dir_, engines_.ledger->prices(),
              // Weak: late answers may still be logged while the run is torn down.
              [guard = std::weak_ptr<BudgetGuard>(engines_.guard)](const std::string& error) {
                if (auto alive = guard.lock()) {
                  alive->cancel(std::make_exception_ptr(Error(error)));
                }
              }),
      scorer_(task_.metric, engines_.backward, events_.warner(progress_)) {
  scorer_.set_tagger(&tagger_);
}

OptimizeRun::~OptimizeRun() {
  if (pending_test_) pending_test_->result.wait();  // its task uses this run
}

void OptimizeRun::observe(const TracedCall& call) {
  trace_.record(call);
  // A call the guard refused after a stop never reached the ledger: no event, as before.
  if (call.outcome.ok() || call.outcome.error != engines_.guard->stop_reason()) {
    events_.call(call);
  }
  if (call.request.phase == Phase::kUpdate && call.outcome.ok()) {
    std::lock_guard lock(answers_mu_);
    update_answers_.push_back(call.outcome.response.text);
  }
  hook_.on_call();
}

std::string OptimizeRun::take_update_answers() {
  std::lock_guard lock(answers_mu_);
  std::string joined;
  for (const std::string& answer : update_answers_) {
    if (!joined.empty()) joined += "\n\n--- (repair request) ---\n\n";
    joined += answer;
  }
  update_answers_.clear();
  return joined;
}

int OptimizeRun::run() {
  const auto start = std::chrono::steady_clock::now();
  started_at_ = iso_time_now();
  if (!dir_.repair_note().empty()) {
    progress_.note("note: " + dir_.repair_note());
    events_.warning(dir_.repair_note());
  }
  InterruptWatcher watcher([guard = engines_.guard](int signo) {
    guard->cancel(std::make_exception_ptr(Interrupted(
        fmt::format("interrupted by {}", signo == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM"))));
  });
  std::vector<StepRecord> records = load_records();
  if (!records.empty()) {
    progress_.note(
        fmt::format("Resuming {} after step {}", dir_.path().string(), records.back().step));
  }
  std::string outcome = "finished";
  try {
    if (records.empty()) evaluate_step0(records);
    Variable prompt(records.back().prompt,
                    flags_.optimizer.role.empty() ? default_prompt_role() : flags_.optimizer.role,
                    true);
    train(prompt, records);
  } catch (...) {
    settle_test(records);
    const std::exception_ptr reason = engines_.guard->stop_reason();
    engines_.guard->wait_idle();
    if (!reason) {
      write_graph();
      throw;
    }
    try {
      std::rethrow_exception(reason);
    } catch (const Interrupted&) {
      outcome = "interrupted";
    } catch (const BudgetExceeded& e) {
      outcome = "budget";
      std::cerr << "textgrad: stopped: " << e.what() << "\n";
    }
  }
  engines_.guard->wait_idle();
  if (watcher.signal() != 0) outcome = "interrupted";  // even if the last step got done
  events_.flush();
  dir_.check_writes();
  trace_.check_writes();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return finish(records, outcome, watcher.signal(), wall);
}

std::vector<StepRecord> OptimizeRun::load_records() {
  std::vector<StepRecord> records;
  for (const std::string& name : dir_.step_files()) {
    dir_.read_json(name, [&](const json& step) { records.push_back(step_from_json(step)); });
    held_.steps[name] = records.back();  // the reports need not parse it again
  }
  return records;
}

// Note [Step boundaries do not wait for the writers]
// A step used to end by waiting until the event log and the trace had written everything
// queued, so that a failed write stopped the run at that step. Each wait cut both writers'
// linger short and put this thread to sleep: a quarter of a training step's thread switches.
// Nothing needs it: step files are written before any such wait, so the wait never ordered
// events before them; a failed event write cancels the run's calls at once (the EventLog's
// failure callback), and a failed trace write is reported at the next step's end (or the
// run's, which does wait: run() flushes both before finish()).
void OptimizeRun::write_step(const StepRecord& record, const std::vector<ItemRecord>& test_items) {
  if (!test_items.empty()) {
    dir_.write_file(fmt::format("steps/test_{:04d}.jsonl", record.step),
                    predictions_jsonl(test_items));
  }
  dir_.write_step(record.step, step_file_text(record));
  held_.steps[RunDir::step_file(record.step)] = record;  // Note [Reports from what the run holds]
  // Note [Step boundaries do not wait for the writers]
  dir_.check_writes();
  trace_.check_failure();
}

void OptimizeRun::start_test(std::vector<StepRecord>& records, const std::string& label,
                             std::function<void(const StepRecord&)> announce) {
  const StepRecord& record = records.back();
  auto tagger = std::make_shared<CallTagger>(tagger_.at_step(record.step));
  auto scorer = std::make_shared<Scorer>(scorer_);
  scorer->set_tagger(tagger.get());
  auto result = std::make_shared<std::promise<Evaluation>>();
  pending_test_ = PendingTest{result->get_future(), std::move(announce)};
  if (task_.splits.test.empty()) {  // nothing to overlap: no worker to wake
    result->set_value(Evaluation{});
    return complete_test(records);
  }
  Progress& progress = sequential_ ? progress_ : overlapped_progress_;
  util::Executor::shared().post(
      [this, tagger, scorer, result, &progress, label, prompt = record.prompt] {
        try {
          result->set_value(evaluate_prompt(test_engine_, prompt, task_.splits.test, *scorer,
                                            progress, label, tagger.get()));
        } catch (...) {
          result->set_exception(std::current_exception());
        }
      });
  if (sequential_) complete_test(records);
}

void OptimizeRun::complete_test(std::vector<StepRecord>& records) {
  if (!pending_test_) return;
  PendingTest pending = std::move(*pending_test_);
  pending_test_.reset();
  Evaluation test;
  try {
    test = pending.result.get();
  } catch (...) {
    records.pop_back();  // not written: a resumed run redoes the step
    throw;
  }
  StepRecord& record = records.back();
  if (!task_.splits.test.empty()) record.test_accuracy = test.accuracy;
  record.test_scores = test.scores;
  record.time = iso_time_now();
  write_step(record, test.items);
  pending.announce(record);
}

void OptimizeRun::settle_test(std::vector<StepRecord>& records) noexcept {
  try {
    complete_test(records);
  } catch (...) {  // the run's own failure or stop is the one reported
  }
}

// Validation first: it is on the critical path, the test evaluation is not.
void OptimizeRun::evaluate_step0(std::vector<StepRecord>& records) {
  tagger_.set_step(0);
  Evaluation val = evaluate_prompt(engines_.forward, initial_, task_.splits.val, scorer_, progress_,
                                   "validation, step 0", &tagger_);
  StepRecord& record = records.emplace_back();
  record.prompt = initial_;
  if (!task_.splits.val.empty()) record.val_accuracy = val.accuracy;
  step0_val_scores_.assign(val.scores.begin(), val.scores.end());
  start_test(records, "test, step 0", [this](const StepRecord& written) {
    progress_.note(fmt::format("Step 0: validation {}, test {}", percent(written.val_accuracy),
                               percent(written.test_accuracy)));
  });
}

void OptimizeRun::train(Variable& prompt, std::vector<StepRecord>& records) {
  if (flags_.optimizer.optimizer == "gepa") return train_search(prompt, records);
  // The optimizer and its gate (optimizer_options.h); the gate scores the validation set.
  RunOptimizer optimizer = build_optimizer(
      flags_.optimizer, prompt, tagger_.tag(engines_.backward, {"", "prompt"}), flags_.concurrency,
      [this, &prompt] {
        const std::vector<int> scores =
            evaluate_prompt(engines_.forward, prompt.value(), task_.splits.val, scorer_, progress_,
                            fmt::format("step {} validation", tagger_.step()), &tagger_)
                .scores;
        return std::vector<double>(scores.begin(), scores.end());
      });
  // The last step file's record, as load_records() parsed it: no need to read it again.
  if (!records.empty() && records.back().optimizer) {
    restore_optimizer(*optimizer.optimizer, *records.back().optimizer);
  }
  if (optimizer.optimizer->current_scores().empty() && !step0_val_scores_.empty()) {
    optimizer.optimizer->set_current_scores(step0_val_scores_);
  }
  BatchSampler sampler(task_.splits.train.size(), flags_.batch_size, flags_.steps_per_epoch,
                       flags_.seed);
  int step = 0;
  for (int epoch = 0; step < flags_.steps; ++epoch) {
    auto batches = sampler.next_epoch();  // always drawn, so a resumed run sees the same batches
    if (batches.empty()) break;
    for (const auto& batch : batches) {
      if (++step > flags_.steps) break;
      if (step <= records.back().step) continue;
      if (engines_.ledger->over_budget()) {
        try {
          engines_.ledger->check_budget();
        } catch (const BudgetExceeded&) {
          engines_.guard->cancel(std::current_exception());
        }
      }
      if (auto reason = engines_.guard->stop_reason()) std::rethrow_exception(reason);
      StepRecord next = train_step(step, epoch, batch, prompt, optimizer, records.back());
      complete_test(records);  // the previous step's, which overlapped this one
      records.push_back(std::move(next));
      start_test(records, fmt::format("step {} test", step), [this](const StepRecord& written) {
        events_.step(written.step, written.val_accuracy, written.test_accuracy, written.reverted);
        progress_.note(fmt::format(
            "Step {}: validation {}{}, test {}", written.step, percent(written.val_accuracy),
            written.reverted ? " (reverted)" : "", percent(written.test_accuracy)));
      });
    }
  }
  complete_test(records);
  if (flags_.optimizer.keep_best && !optimizer.optimizer->best_values().empty()) {
    optimizer.optimizer->restore_best();
    best_prompt_ = prompt.value();
  }
}

// The most of one answer a step file and the reports keep.
constexpr std::size_t kRecordedTextBytes = 20'000;

// --optimizer gepa: one search (search_run.h), recorded as step 1 with the best candidate.
void OptimizeRun::train_search(Variable& prompt, std::vector<StepRecord>& records) {
  if (records.back().step > 0) return;  // the search already finished
  tagger_.set_step(1);
  const SearchOutcome s = run_search(flags_.optimizer, prompt.value(), prompt.role_description(),
                                     task_, scorer_, tagger_.tag(engines_.forward, {"", ""}),
                                     tagger_.tag(engines_.backward, {"", "prompt"}), dir_,
                                     flags_.concurrency, flags_.seed);
  prompt.set_value(s.best_prompt);
  complete_test(records);  // step 0's, which overlapped the search
  StepRecord& record = records.emplace_back();
  record.step = 1;
  record.epoch = 1;
  record.prompt = s.best_prompt;
  record.val_accuracy = s.best_val;
  record.note = fmt::format("gepa: {} proposals, {} candidates, {} metric calls", s.proposals,
                            s.candidates, s.metric_calls);
  start_test(records, "best candidate test", [this](const StepRecord& written) {
    progress_.note(fmt::format("Search: {}; best validation {}, test {}", written.note,
                               percent(written.val_accuracy), percent(written.test_accuracy)));
  });
  complete_test(records);  // the last step: nothing to overlap
}

StepRecord OptimizeRun::train_step(int step, int epoch, const std::vector<size_t>& batch,
                                   Variable& prompt, RunOptimizer& run,
                                   const StepRecord& previous) {
  Optimizer& optimizer = *run.optimizer;
  tagger_.set_step(step);
  const std::string label = fmt::format("step {}/{} training", step, flags_.steps);
  progress_.begin(label, 0);
  optimizer.zero_grad();
  take_update_answers();
  std::vector<Variable> responses;
  std::vector<Variable> losses;
  for (size_t index : batch) {
    const Example& example = task_.splits.train[index];
    BlackboxLLM model(tagger_.tag(engines_.forward, {example.id, ""}), prompt);
    Variable x(example.input, roles::kLlmInput, false);
    Variable y(example.target, "correct answer for the query", false);
    responses.push_back(model(x));
    losses.push_back(scorer_.loss(x, y, responses.back(), example.id));
  }
  Variable total = sum(losses);
  total.backward(tagger_.tag(engines_.backward, {"", "prompt"}), run.backward);
  last_graph_ = to_dot(total);  // written when the run stops: Note [graph.dot once a session]
  const std::string feedback = prompt.gradient_text();
  StepReport report = optimizer.step();
  progress_.begin(label, 0);  // the gate's validation drew lines of its own in between
  progress_.end();

  StepRecord record;
  record.step = step;
  record.epoch = epoch + 1;
  for (size_t k = 0; k < batch.size(); ++k) {
    const Example& example = task_.splits.train[batch[k]];
    const std::string loss = losses[k].value();
    record.items.push_back({example.id, example.input, responses[k].value(), example.target,
                            score_of_loss(loss), loss, responses[k].gradient_text()});
  }
  const UpdateOutcome& outcome = report.outcomes.at(0);
  record.note = util::clip(outcome.reason);  // may quote a huge answer
  if (!record.note.empty()) events_.warning(record.note);
  ParameterRecord parameter;
  parameter.feedback = feedback;
  // Huge answers are cut here; trace.sqlite keeps every text whole.
  parameter.update_answer = util::clip(take_update_answers(), kRecordedTextBytes);
  parameter.proposed = outcome.new_value;
  parameter.status = to_string(outcome.status);
  parameter.reason = record.note;
  parameter.gate.before = previous.val_accuracy;

  record.val_accuracy = previous.val_accuracy;
  if (!task_.splits.val.empty() && report.gate) {  // the gate scored the validation set
    const GateDecision& gate = *report.gate;
    parameter.gate.after = gate.new_mean;
    parameter.gate.figures = {{"wins", static_cast<double>(gate.wins)},
                              {"losses", static_cast<double>(gate.losses)},
                              {"ties", static_cast<double>(gate.ties)}};
    if (gate.p_value) parameter.gate.figures["p_value"] = *gate.p_value;
    record.reverted = !gate.accepted;
    record.val_accuracy = gate.accepted ? gate.new_mean : gate.old_mean;
  }
  parameter.gate.decision = outcome.status != UpdateOutcome::Status::kUpdated ? "unchanged"
                            : record.reverted                                 ? "reverted"
                                                                              : "accepted";
  record.parameters.push_back(std::move(parameter));
  record.prompt = prompt.value();
  record.optimizer = std::make_shared<const json>(step_record(report, optimizer));
  return record;
}

// Note [graph.dot once a session]
// graph.dot shows the last training step's graph. Rewriting it after every step replaced an
// existing file each time, and ext4 flushes a file's data when a rename replaces another
// (auto_da_alloc): about 8 % of the CPU of a run of training steps at 0 ms. It is written when
// the run stops (finished, interrupted, out of budget or failed); only a run killed outright
// keeps the previous session's graph, until it is resumed.
void OptimizeRun::write_graph() {
  if (last_graph_.empty()) return;
  try {
    dir_.write_file("graph.dot", last_graph_);
  } catch (const Error& e) {
    std::cerr << "textgrad: " << e.what() << "\n";  // a picture of the graph: not worth a failure
  }
}

int OptimizeRun::finish(const std::vector<StepRecord>& records, const std::string& outcome,
                        int signal, double wall_seconds) {
  const std::string final_prompt = best_prompt_      ? *best_prompt_
                                   : records.empty() ? initial_
                                                     : records.back().prompt;
  if (engines_.pool) dir_.append_event(endpoint_usage_event(*engines_.pool, *engines_.ledger));
  events_.session(started_at_, wall_seconds, outcome);
  events_.flush();  // the reports read the event log
  dir_.write_file("final_prompt.txt", final_prompt + "\n");
  write_graph();
  held_.events = events_.totals();
  const RunSummary summary = load_summary(dir_, held_);
  write_reports(dir_, summary);
  dir_.check_writes();
  const int last_step = records.empty() ? -1 : records.back().step;
  const std::string resume = fmt::format("textgrad optimize --resume {}", dir_.path().string());
  if (outcome == "interrupted") {
    std::cerr << fmt::format(
        "textgrad: interrupted; everything up to step {} is saved. Continue with:\n  {}\n",
        last_step, resume);
  } else if (outcome == "budget") {
    std::cerr << fmt::format(
        "textgrad: everything up to step {} is saved; continue with: {} --budget-usd <more> "
        "(or --budget-tokens <more>)\n",
        last_step, resume);
  }
  const std::optional<double> first =
      records.empty() ? std::nullopt : records.front().test_accuracy;
  const std::optional<double> last = records.empty() ? std::nullopt : records.back().test_accuracy;
  const Totals& totals = summary.totals;
  if (flags_.output.json) {
    json out = {{"run_dir", dir_.path().string()},
                {"steps", last_step},
                {"initial_test_accuracy", first ? json(*first) : json(nullptr)},
                {"final_test_accuracy", last ? json(*last) : json(nullptr)},
                {"final_val_accuracy", !records.empty() && records.back().val_accuracy
                                           ? json(*records.back().val_accuracy)
                                           : json(nullptr)},
                {"final_prompt", final_prompt},
                {"calls", totals.calls},
                {"cache_hits", totals.cache_hits},
                {"input_tokens", totals.usage.input_tokens},
                {"output_tokens", totals.usage.output_tokens},
                {"cost_usd", totals.cost_usd},
                {"cost", format_cost(totals)},
                {"outcome", outcome},
                {"stopped_by_budget", outcome == "budget"}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format("Test accuracy: {} before, {} after {} steps\n", percent(first),
                             percent(last), last_step)
              << "Final prompt:\n"
              << final_prompt << "\n"
              << fmt::format("Run directory: {} (report.html, report.md, events.jsonl{})\n",
                             dir_.path().string(), flags_.trace == "none" ? "" : ", trace.sqlite");
  }
  if (outcome == "interrupted") return 128 + signal;
  if (outcome == "budget") return kBudget;
  return kOk;
}

}  // namespace tg::cli
