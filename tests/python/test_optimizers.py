"""REVOLVE, gates, semantic backpropagation and GEPA-style search from Python, on a scripted
engine: the right system prompt makes every answer right, and the update request proposes it."""

import json

import pytest

import textgrad_cpp as tg

GOOD = "Count every object."


def respond(request):
    if request.phase == tg.Phase.update:
        return f"<IMPROVED_VARIABLE>{GOOD}</IMPROVED_VARIABLE>"
    if request.phase == tg.Phase.backward:
        return "Ask for a count of every object."
    if request.phase == tg.Phase.loss:
        return "The answer is wrong."
    return "right" if request.system_prompt == GOOD else "wrong"


class CountingTask:
    """train_size items to learn from and val_size to score on; run() is one metric call."""

    def __init__(self, engine, train=6, val=4):
        self.engine, self.train, self.val = engine, train, val

    def train_size(self):
        return self.train

    def val_size(self):
        return self.val

    def run(self, parameters, split, index):
        model = tg.BlackboxLLM(self.engine, system_prompt=parameters["system"])
        question = tg.Variable(f"{split} question {index}", role_description="question",
                               requires_grad=False)
        answer = model(question)
        loss = tg.TextLoss("Is the answer right?", engine=self.engine)(answer)
        return tg.Rollout(1.0 if answer.value == "right" else 0.0, loss)


def search(engine, **options):
    options.setdefault("max_metric_calls", 40)
    return tg.Search(CountingTask(engine), {"system": "Answer."}, engine=engine, **options)


def test_search_finds_the_prompt_that_solves_the_task():
    engine = tg.ScriptedEngine(respond)
    proposals = []
    s = search(engine, minibatch=2, on_proposal=lambda p, state: proposals.append(p))
    best = s.run()
    assert s.best_candidate() == {"system": GOOD}
    assert s.pool[best].aggregate == 1.0 and s.pool[best].parents == [0]
    assert s.pool[0].val_scores == [0.0] * 4
    # The first proposal mutates the seed and is accepted; later ones find solved minibatches.
    assert proposals[0]["outcome"] == "accepted" and proposals[0]["changed"] == ["system"]
    assert proposals[0]["feedback"]["system"].strip() != ""
    assert 0 < s.metric_calls <= 40
    assert s.proposals == len(proposals)


def test_search_never_exceeds_its_metric_call_budget_and_is_deterministic():
    states = []
    for concurrency in (1, 6):
        s = search(tg.ScriptedEngine(respond), max_metric_calls=15, minibatch=3,
                   concurrency=concurrency, seed=7)
        s.run()
        assert s.metric_calls <= 15
        states.append(json.loads(s.state()))
    assert states[0] == states[1]


def test_search_resumes_from_a_saved_state():
    saved = []
    first = search(tg.ScriptedEngine(respond), on_proposal=lambda p, state: saved.append(state))
    first.run()
    resumed = search(tg.ScriptedEngine(respond))
    resumed.load_state(saved[0])
    resumed.run()
    assert resumed.state() == first.state()


def test_search_rejects_bad_options_and_reports_task_errors():
    engine = tg.ScriptedEngine(respond)
    with pytest.raises(tg.InvalidArgument, match="stop"):
        tg.Search(CountingTask(engine), {"system": "Answer."}, engine=engine)
    with pytest.raises(tg.InvalidArgument, match="pareto"):
        search(engine, selection="greedy")
    with pytest.raises(tg.InvalidArgument, match="minibatch"):
        search(engine, minibatch=7)

    class Broken(CountingTask):
        def run(self, parameters, split, index):
            raise KeyError("no such item")

    broken = tg.Search(Broken(engine), {"system": "Answer."}, engine=engine, max_metric_calls=9)
    with pytest.raises(tg.Error, match="no such item"):
        broken.run()


def prompt_and_loss(engine, prompt):
    answer = tg.BlackboxLLM(engine, system_prompt=prompt)(
        tg.Variable("How many apples?", role_description="question", requires_grad=False))
    return tg.TextLoss("Is the answer right?", engine=engine)(answer)


def test_a_gate_reverts_a_step_that_scores_worse():
    engine = tg.ScriptedEngine(respond)
    prompt = tg.Variable("Answer.", role_description="system prompt")
    scores = {"Answer.": [1.0, 1.0], GOOD: [0.0, 1.0]}  # the proposal is worse here
    gated = tg.GatedOptimizer(tg.TGD([prompt], engine=engine),
                              lambda: scores[prompt.value], gate="revert")
    prompt_and_loss(engine, prompt).backward(engine)
    report = gated.step()
    assert report.gate["accepted"] is False and report.gate["losses"] == 1
    assert prompt.value == "Answer."
    assert gated.current_scores == [1.0, 1.0]
    with pytest.raises(tg.InvalidArgument):
        tg.GatedOptimizer(tg.TGD([prompt], engine=engine), lambda: [], gate="sometimes")
    assert tg.gate_decision([0, 0, 0], [1, 1, 1], gate="significant", alpha=0.2)["accepted"]


def test_revolve_shows_the_history_and_semantic_backward_answers_per_input():
    def optimize(make):
        engine = tg.ScriptedEngine(respond)
        prompt = tg.Variable("Answer.", role_description="system prompt")
        optimizer = make([prompt], engine)
        for _ in range(2):
            optimizer.zero_grad()
            history = optimizer if isinstance(optimizer, tg.Revolve) else None
            prompt_and_loss(engine, prompt).backward(engine, mode="semantic",
                                                     past_values_from=history)
            optimizer.step()
        return prompt, optimizer

    prompt, revolve = optimize(lambda p, e: tg.Revolve(p, engine=e, history="all",
                                                       history_in_feedback=True))
    assert revolve.name == "revolve" and prompt.value == GOOD
    # Only REVOLVE's update request shows the value the prompt had before its update.
    assert "Answer." in revolve.update_request(prompt).user_text()
    tgd_prompt, tgd = optimize(lambda p, e: tg.TGD(p, engine=e))
    assert "Answer." not in tgd.update_request(tgd_prompt).user_text()
    # Its history is part of its state.
    fresh = tg.Revolve([prompt], engine=tg.ScriptedEngine(respond), history="all")
    assert "Answer." not in fresh.update_request(prompt).user_text()
    fresh.load_state(revolve.state())
    assert "Answer." in fresh.update_request(prompt).user_text()
    with pytest.raises(tg.InvalidArgument, match="backward mode"):
        engine = tg.ScriptedEngine(respond)
        prompt_and_loss(engine, prompt).backward(engine, mode="sideways")
