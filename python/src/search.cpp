// search.h: GEPA-style search over a pool of candidates, with the task written in Python.
#include "textgrad/search.h"
#include "common.h"
#include "textgrad/errors.h"

namespace tgpy {
namespace {

const char* split_name(tg::Split split) {
  return split == tg::Split::kTrain ? "train" : "validation";
}

tg::Rollout rollout_of(const py::object& result) {
  if (py::isinstance<tg::Rollout>(result)) return result.cast<tg::Rollout>();
  if (py::isinstance<py::tuple>(result) && py::len(result) == 2) {
    auto pair = result.cast<py::tuple>();
    return {pair[0].cast<double>(), variable_arg(pair[1], "")};
  }
  return {result.cast<double>(), {}};
}

// A SearchTask whose sizes and runs come from a Python object. run() is called from several
// library threads at once; each call takes the GIL.
class PythonSearchTask : public tg::SearchTask {
 public:
  explicit PythonSearchTask(py::object task)
      : train_size_(task.attr("train_size")().cast<std::size_t>()),
        val_size_(task.attr("val_size")().cast<std::size_t>()),
        task_(std::move(task)) {}

  std::size_t train_size() const override { return train_size_; }
  std::size_t val_size() const override { return val_size_; }

  tg::Rollout run(const std::map<std::string, tg::Variable>& parameters, tg::Split split,
                  std::size_t index) const override {
    py::gil_scoped_acquire gil;
    try {
      return rollout_of(task_.get().attr("run")(parameters, split_name(split), index));
    } catch (py::error_already_set& error) {
      throw tg::Error("the search task's run() raised " + describe_python_error(error));
    } catch (const py::cast_error&) {
      throw tg::InvalidArgument(
          "the search task's run() must return a Rollout, a (score, loss) pair or a score");
    }
  }

 private:
  std::size_t train_size_;
  std::size_t val_size_;
  PyRef task_;
};

py::dict proposal_dict(const tg::Proposal& p) {
  py::dict out;
  out["index"] = p.index;
  out["kind"] = tg::to_string(p.kind);
  out["outcome"] = tg::to_string(p.outcome);
  out["parents"] = p.parents;
  out["ancestor"] = p.ancestor ? py::cast(*p.ancestor) : py::none();
  out["changed"] = p.changed;
  out["items"] = p.items;
  out["parent_scores"] = p.parent_scores;
  out["child_scores"] = p.child_scores;
  out["feedback"] = p.feedback;
  out["child"] = p.child;
  out["child_index"] = p.child_index ? py::cast(*p.child_index) : py::none();
  out["child_aggregate"] = p.child_aggregate;
  out["metric_calls"] = p.metric_calls;
  return out;
}

tg::ComponentSelection components_arg(const std::string& name) {
  if (name == "round-robin") return tg::ComponentSelection::kRoundRobin;
  if (name == "all") return tg::ComponentSelection::kAll;
  throw tg::InvalidArgument("components must be 'round-robin' or 'all', not '" + name + "'");
}

// The Search and the Python callback it calls after each proposal.
struct PySearch {
  std::unique_ptr<tg::Search> search;
};

void set_on_proposal(PySearch& s, py::object callback) {
  if (callback.is_none()) {
    s.search->on_proposal = nullptr;
    return;
  }
  s.search->on_proposal = [fn = PyRef(std::move(callback))](const tg::Proposal& proposal,
                                                            const std::string& state) {
    py::gil_scoped_acquire gil;
    try {
      fn.get()(proposal_dict(proposal), state);
    } catch (py::error_already_set& error) {
      throw tg::Error("on_proposal raised " + describe_python_error(error));
    }
  };
}

std::unique_ptr<PySearch> make_search(
    py::object task, tg::Candidate initial, const py::object& engine, const std::string& selection,
    double epsilon, const std::string& components, int minibatch, bool skip_perfect,
    double perfect_score, int max_merges, int merge_subsample, std::uint64_t seed, int concurrency,
    std::map<std::string, std::string> roles, const std::string& backward_mode,
    std::optional<std::vector<std::string>> constraints,
    std::optional<std::int64_t> max_metric_calls, std::optional<std::int64_t> max_tokens,
    std::optional<double> max_usd, std::optional<double> max_seconds,
    std::optional<int> max_proposals_without_improvement, std::string stop_file,
    std::shared_ptr<tg::Ledger> ledger, py::object on_proposal) {
  tg::SearchOptions options;
  options.selection = tg::selection_from_string(selection);
  options.epsilon = epsilon;
  options.components = components_arg(components);
  options.minibatch = minibatch;
  options.skip_perfect = skip_perfect;
  options.perfect_score = perfect_score;
  options.max_merges = max_merges;
  options.merge_subsample = merge_subsample;
  options.seed = seed;
  options.concurrency = concurrency;
  options.roles = std::move(roles);
  options.backward.mode = backward_mode_arg(backward_mode);
  if (constraints) options.update.constraints = std::move(*constraints);
  options.stop = {
      max_metric_calls,    max_tokens, max_usd, max_seconds, max_proposals_without_improvement,
      std::move(stop_file)};
  options.ledger = std::move(ledger);
  auto result = std::make_unique<PySearch>();
  result->search =
      std::make_unique<tg::Search>(std::make_shared<PythonSearchTask>(std::move(task)),
                                   std::move(initial), engine_arg(engine), std::move(options));
  set_on_proposal(*result, std::move(on_proposal));
  return result;
}

std::size_t best_index(const PySearch& s) {
  if (s.search->pool().empty()) throw tg::InvalidArgument("the pool is empty: call run() first");
  return s.search->best();
}

}  // namespace

void bind_search(py::module_& m) {
  py::class_<tg::Rollout>(m, "Rollout",
                          "What one run of the program on one item gives: a score (higher is "
                          "better) and the loss Variable where feedback starts (None: no "
                          "feedback from this item).")
      .def(py::init([](double score, const py::object& loss) {
             return tg::Rollout{score, variable_arg(loss, "")};
           }),
           py::arg("score"), py::arg("loss") = py::none())
      .def_readwrite("score", &tg::Rollout::score)
      .def_readwrite("loss", &tg::Rollout::loss);

  py::class_<tg::PoolEntry>(m, "PoolEntry", "One candidate of a search's pool.")
      .def_readonly("candidate", &tg::PoolEntry::candidate)
      .def_readonly("parents", &tg::PoolEntry::parents)
      .def_readonly("val_scores", &tg::PoolEntry::val_scores)
      .def_readonly("aggregate", &tg::PoolEntry::aggregate)
      .def_readonly("proposal", &tg::PoolEntry::proposal);

  py::class_<PySearch>(
      m, "Search",
      "GEPA-style search: a pool of candidates (dicts from parameter name to text), parents "
      "picked from the per-item Pareto front ('pareto'), the best ('best') or "
      "'epsilon-greedy'; each proposal runs the parent on a training minibatch, asks for "
      "feedback with the library's backward and for a new value, keeps the child only if it "
      "beats the parent on the minibatch, and then scores it on the validation set. "
      "`task` has train_size(), val_size() and run(parameters, split, index), where "
      "parameters maps each name to a Variable, split is 'train' or 'validation', and the "
      "result is a Rollout, a (score, loss) pair or a score; run() is called from several "
      "threads at once. At least one stop condition is required. on_proposal(proposal, "
      "state) is called after every proposal with a dict and the state to resume from.")
      .def(py::init(&make_search), py::arg("task"), py::arg("initial"),
           py::arg("engine") = py::none(), py::arg("selection") = "pareto",
           py::arg("epsilon") = 0.1, py::arg("components") = "round-robin",
           py::arg("minibatch") = 3, py::arg("skip_perfect") = true, py::arg("perfect_score") = 1.0,
           py::arg("max_merges") = 0, py::arg("merge_subsample") = 5, py::arg("seed") = 0,
           py::arg("concurrency") = 8, py::arg("roles") = std::map<std::string, std::string>{},
           py::arg("backward_mode") = "per-edge", py::arg("constraints") = py::none(),
           py::arg("max_metric_calls") = py::none(), py::arg("max_tokens") = py::none(),
           py::arg("max_usd") = py::none(), py::arg("max_seconds") = py::none(),
           py::arg("max_proposals_without_improvement") = py::none(), py::arg("stop_file") = "",
           py::arg("ledger") = nullptr, py::arg("on_proposal") = py::none())
      .def(
          "run",
          [](PySearch& s) {
            py::gil_scoped_release release;
            return s.search->run();
          },
          "Runs until a stop condition holds (the GIL is released); returns the best "
          "candidate's index in the pool.")
      .def_property_readonly("pool", [](const PySearch& s) { return s.search->pool(); })
      .def("best", &best_index, "The best candidate's index (highest mean, oldest on ties).")
      .def("best_candidate",
           [](const PySearch& s) { return s.search->pool()[best_index(s)].candidate; })
      .def_property_readonly("proposals", [](const PySearch& s) { return s.search->proposals(); })
      .def_property_readonly("metric_calls",
                             [](const PySearch& s) { return s.search->metric_calls(); })
      .def(
          "state", [](const PySearch& s) { return s.search->state(); },
          "The pool, sampler position, RNG and counters as JSON text.")
      .def(
          "load_state", [](PySearch& s, const std::string& state) { s.search->load_state(state); },
          py::arg("state"),
          "Continues from state() of a search built with the same task and options.");
}

}  // namespace tgpy
