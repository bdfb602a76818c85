// textgrad-cpp: automatic differentiation via text.
//
//   auto engine = tg::make_engine("openai/gpt-4o");
//   tg::Variable answer("...", "answer to the question");
//   tg::TextLoss loss_fn(engine, "Evaluate the answer; be critical.");
//   tg::TGD optimizer({answer}, engine);
//   tg::Variable loss = loss_fn(answer);
//   loss.backward(engine);
//   optimizer.step();
#pragma once

#include "textgrad/budget.h"
#include "textgrad/engine.h"
#include "textgrad/errors.h"
#include "textgrad/function.h"
#include "textgrad/functions.h"
#include "textgrad/gate.h"
#include "textgrad/gated_optimizer.h"
#include "textgrad/graph.h"
#include "textgrad/loss.h"
#include "textgrad/module.h"
#include "textgrad/modules.h"
#include "textgrad/optimizer.h"
#include "textgrad/parallel.h"
#include "textgrad/prompts.h"
#include "textgrad/scripted_engine.h"
#include "textgrad/search.h"
#include "textgrad/variable.h"
