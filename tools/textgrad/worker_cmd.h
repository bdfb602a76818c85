// `textgrad worker --queue redis://... --engine ...`: a process that answers the evaluation
// jobs of `textgrad optimize --eval-workers` (worker_dispatch.h) until it gets SIGINT or
// SIGTERM; it then finishes the jobs it holds and leaves. Killed outright, its jobs go to other
// workers when their leases run out. docs/scale.md, "Evaluation workers".
#pragma once

#include "engine_setup.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct WorkerFlags {
  std::string queue;  // the optimizer's --eval-workers URL
  EngineFlags engines;
  int jobs = 4;  // jobs worked on at once (each sends its items at once)
  bool quiet = false;
};
void add_worker(CLI::App& app, WorkerFlags& flags);
int run_worker(const WorkerFlags& flags);

// The result of one job's payload (worker_protocol.h): each item asked through `engine` exactly
// as evaluate_prompt asks it, every answer or error kept. Throws tg::Error for a bad payload.
std::string answer_job(const EnginePtr& engine, const std::string& payload);

}  // namespace tg::cli
