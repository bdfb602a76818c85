// The CallRecord of one finished call: what the ledger adds up, and what the CLI's event log
// writes per call (with the step it tags the call with).
#pragma once

#include "textgrad/engine.h"
#include "textgrad/usage.h"

namespace tg::engine {

// The model is the one that answered when the answer names it; a failed call keeps its error
// message and whatever tokens the error says were billed; a cache hit costs nothing.
CallRecord make_call_record(const EngineInfo& info, const Outcome& outcome, Phase phase,
                            double latency_ms, const PriceTable& prices);

}  // namespace tg::engine
